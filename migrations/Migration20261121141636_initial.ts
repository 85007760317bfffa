import { Migration } from '@mikro-orm/migrations';

export class Migration20261121141636_initial extends Migration {
  override async up(): Promise<void> {
    this.addSql("create type \"conversation_kind\" as enum ('DIRECT', 'GROUP', 'ROOM', 'SUPPORT')");
    this.addSql("create type \"room_visibility\" as enum ('PUBLIC', 'PRIVATE')");
    this.addSql("create type \"message_kind\" as enum ('TEXT', 'IMAGE', 'FILE', 'SYSTEM')");
    this.addSql("create type \"notification_kind\" as enum ('MESSAGE', 'MENTION', 'ROOM_INVITE', 'SYSTEM')");
    this.addSql("create type \"member_role\" as enum ('OWNER', 'ADMIN', 'MEMBER')");
    this.addSql("create type \"contact_status\" as enum ('PENDING', 'ACCEPTED', 'DECLINED', 'BLOCKED')");
    this.addSql(
      'create table "users" ("id" serial primary key, "username" varchar(64) not null, "username_key" varchar(64) not null, "email" varchar(254) null, "password_hash" varchar(255) not null, "first_name" varchar(150) null, "last_name" varchar(150) null, "avatar_url" varchar(1024) null, "role" varchar(64) null, "is_staff" boolean not null default false, "score" int not null default 0, "rank" varchar(64) null, "in_game_ids" jsonb not null default \'[]\', "last_seen_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null)',
    );
    this.addSql('alter table "users" add constraint "users_username_key_unique" unique ("username_key")');
    this.addSql('create index "users_is_staff_index" on "users" ("is_staff")');
    this.addSql(
      'create table "refresh_tokens" ("id" serial primary key, "user_id" int not null, "family_id" varchar(36) not null, "token_hash" varchar(64) not null, "expires_at" timestamptz not null, "used_at" timestamptz null, "revoked_at" timestamptz null, "created_at" timestamptz not null)',
    );
    this.addSql('create index "refresh_tokens_family_id_index" on "refresh_tokens" ("family_id")');
    this.addSql('alter table "refresh_tokens" add constraint "refresh_tokens_token_hash_unique" unique ("token_hash")');
    this.addSql(
      'create table "conversations" ("id" serial primary key, "kind" "conversation_kind" not null, "name" varchar(255) null, "description" text null, "visibility" "room_visibility" null, "max_members" int null, "created_by_id" int null, "customer_id" int null, "direct_key" varchar(64) null, "last_seq" int not null default 0, "change_seq" int not null default 0, "last_activity_at" timestamptz not null, "created_at" timestamptz not null, "updated_at" timestamptz not null)',
    );
    this.addSql('alter table "conversations" add constraint "conversations_customer_id_unique" unique ("customer_id")');
    this.addSql('alter table "conversations" add constraint "conversations_direct_key_unique" unique ("direct_key")');
    this.addSql('create index "conversations_last_activity_at_id_index" on "conversations" ("last_activity_at", "id")');
    this.addSql(
      'create table "messages" ("id" serial primary key, "conversation_id" int not null, "seq" int not null, "sender_id" int null, "kind" "message_kind" not null default \'TEXT\', "content" text not null, "reply_to_id" int null, "client_message_id" varchar(128) null, "created_change" int not null, "change_seq" int not null, "created_at" timestamptz not null, "edited_at" timestamptz null, "deleted_at" timestamptz null)',
    );
    this.addSql('create index "messages_conversation_id_change_seq_index" on "messages" ("conversation_id", "change_seq")');
    this.addSql('alter table "messages" add constraint "messages_sender_id_client_message_id_unique" unique ("sender_id", "client_message_id")');
    this.addSql('alter table "messages" add constraint "messages_conversation_id_seq_unique" unique ("conversation_id", "seq")');
    this.addSql(
      'create table "notifications" ("id" serial primary key, "user_id" int not null, "kind" "notification_kind" not null, "title" varchar(255) not null, "body" text not null, "conversation_id" int null, "message_id" int null, "read_at" timestamptz null, "created_at" timestamptz not null)',
    );
    this.addSql('create index "notifications_user_id_read_at_index" on "notifications" ("user_id", "read_at")');
    this.addSql(
      'create table "memberships" ("id" serial primary key, "conversation_id" int not null, "user_id" int not null, "role" "member_role" not null default \'MEMBER\', "nickname" varchar(150) null, "joined_at" timestamptz not null, "left_at" timestamptz null, "last_read_seq" int not null default 0, "last_read_at" timestamptz null, "is_muted" boolean not null default false, "is_banned" boolean not null default false)',
    );
    this.addSql('create index "memberships_user_id_left_at_index" on "memberships" ("user_id", "left_at")');
    this.addSql('alter table "memberships" add constraint "memberships_conversation_id_user_id_unique" unique ("conversation_id", "user_id")');
    this.addSql(
      'create table "contacts" ("id" serial primary key, "requester_id" int not null, "addressee_id" int not null, "status" "contact_status" not null, "created_at" timestamptz not null, "updated_at" timestamptz not null)',
    );
    this.addSql('create index "contacts_addressee_id_status_index" on "contacts" ("addressee_id", "status")');
    this.addSql('alter table "contacts" add constraint "contacts_requester_id_addressee_id_unique" unique ("requester_id", "addressee_id")');
    this.addSql(
      'create table "attachments" ("id" serial primary key, "message_id" int not null, "uploader_id" int null, "file_name" varchar(255) not null, "mime_type" varchar(127) not null, "size" int not null, "width" int null, "height" int null, "storage_key" varchar(255) not null, "thumbnail_key" varchar(255) null, "created_at" timestamptz not null)',
    );
    this.addSql('create index "attachments_message_id_index" on "attachments" ("message_id")');
    this.addSql(
      'alter table "refresh_tokens" add constraint "refresh_tokens_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade',
    );
    this.addSql(
      'alter table "conversations" add constraint "conversations_created_by_id_foreign" foreign key ("created_by_id") references "users" ("id") on update cascade on delete set null',
    );
    this.addSql(
      'alter table "conversations" add constraint "conversations_customer_id_foreign" foreign key ("customer_id") references "users" ("id") on update cascade on delete cascade',
    );
    this.addSql(
      'alter table "messages" add constraint "messages_conversation_id_foreign" foreign key ("conversation_id") references "conversations" ("id") on update cascade on delete cascade',
    );
    this.addSql(
      'alter table "messages" add constraint "messages_sender_id_foreign" foreign key ("sender_id") references "users" ("id") on update cascade on delete set null',
    );
    this.addSql(
      'alter table "messages" add constraint "messages_reply_to_id_foreign" foreign key ("reply_to_id") references "messages" ("id") on update cascade on delete set null',
    );
    this.addSql(
      'alter table "notifications" add constraint "notifications_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade',
    );
    this.addSql(
      'alter table "notifications" add constraint "notifications_conversation_id_foreign" foreign key ("conversation_id") references "conversations" ("id") on update cascade on delete cascade',
    );
    this.addSql(
      'alter table "notifications" add constraint "notifications_message_id_foreign" foreign key ("message_id") references "messages" ("id") on update cascade on delete cascade',
    );
    this.addSql(
      'alter table "memberships" add constraint "memberships_conversation_id_foreign" foreign key ("conversation_id") references "conversations" ("id") on update cascade on delete cascade',
    );
    this.addSql(
      'alter table "memberships" add constraint "memberships_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade',
    );
    this.addSql(
      'alter table "contacts" add constraint "contacts_requester_id_foreign" foreign key ("requester_id") references "users" ("id") on update cascade on delete cascade',
    );
    this.addSql(
      'alter table "contacts" add constraint "contacts_addressee_id_foreign" foreign key ("addressee_id") references "users" ("id") on update cascade on delete cascade',
    );
    this.addSql(
      'alter table "attachments" add constraint "attachments_message_id_foreign" foreign key ("message_id") references "messages" ("id") on update cascade on delete cascade',
    );
    this.addSql(
      'alter table "attachments" add constraint "attachments_uploader_id_foreign" foreign key ("uploader_id") references "users" ("id") on update cascade on delete set null',
    );
  }

  override async down(): Promise<void> {
    this.addSql('alter table "refresh_tokens" drop constraint "refresh_tokens_user_id_foreign"');
    this.addSql('alter table "conversations" drop constraint "conversations_created_by_id_foreign"');
    this.addSql('alter table "conversations" drop constraint "conversations_customer_id_foreign"');
    this.addSql('alter table "messages" drop constraint "messages_sender_id_foreign"');
    this.addSql('alter table "notifications" drop constraint "notifications_user_id_foreign"');
    this.addSql('alter table "memberships" drop constraint "memberships_user_id_foreign"');
    this.addSql('alter table "contacts" drop constraint "contacts_requester_id_foreign"');
    this.addSql('alter table "contacts" drop constraint "contacts_addressee_id_foreign"');
    this.addSql('alter table "attachments" drop constraint "attachments_uploader_id_foreign"');
    this.addSql('alter table "messages" drop constraint "messages_conversation_id_foreign"');
    this.addSql('alter table "notifications" drop constraint "notifications_conversation_id_foreign"');
    this.addSql('alter table "memberships" drop constraint "memberships_conversation_id_foreign"');
    this.addSql('alter table "messages" drop constraint "messages_reply_to_id_foreign"');
    this.addSql('alter table "notifications" drop constraint "notifications_message_id_foreign"');
    this.addSql('alter table "attachments" drop constraint "attachments_message_id_foreign"');
    this.addSql('drop table if exists "users" cascade');
    this.addSql('drop table if exists "refresh_tokens" cascade');
    this.addSql('drop table if exists "conversations" cascade');
    this.addSql('drop table if exists "messages" cascade');
    this.addSql('drop table if exists "notifications" cascade');
    this.addSql('drop table if exists "memberships" cascade');
    this.addSql('drop table if exists "contacts" cascade');
    this.addSql('drop table if exists "attachments" cascade');
    this.addSql('drop type "conversation_kind"');
    this.addSql('drop type "room_visibility"');
    this.addSql('drop type "message_kind"');
    this.addSql('drop type "notification_kind"');
    this.addSql('drop type "member_role"');
    this.addSql('drop type "contact_status"');
  }
}
