import { Migration } from '@mikro-orm/migrations';

/**
 * Issue 28, the missing seed features:
 * - `conversations.archived_at` (item 8, seed 003 `is_active` = archived_at is null): an archived
 *   conversation keeps its history readable and takes no sends, joins or edits;
 * - `attachments.message_id` may be null (item 7, seed 003 note 7 "upload first, then send the URL"):
 *   such a row is an upload not yet linked to a message, linkable only by its uploader, purged
 *   after UPLOAD_ORPHAN_TTL (the partial index finds them);
 * - `push_devices` (item 10, seed 002's fcm-django FCMDevice; issue 34 delivers to it): one row per
 *   FCM registration token or Web Push endpoint (`token`, unique per platform).
 */
export class Migration20261207143000_archive_uploads_devices extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table "conversations" add column "archived_at" timestamptz null');
    this.addSql('alter table "attachments" alter column "message_id" drop not null');
    this.addSql('create index "attachments_pending_created_at_index" on "attachments" ("created_at") where "message_id" is null');
    this.addSql(`create table "push_devices" (
      "id" serial primary key,
      "user_id" int not null references "users" ("id") on update cascade on delete cascade,
      "platform" varchar(16) not null,
      "token" varchar(4096) not null,
      "p256dh" varchar(255) null,
      "auth" varchar(255) null,
      "fcm_type" varchar(16) null,
      "name" varchar(255) null,
      "device_id" varchar(255) null,
      "active" boolean not null default true,
      "created_at" timestamptz not null,
      "updated_at" timestamptz not null,
      "last_push_at" timestamptz null,
      constraint "push_devices_platform_token_unique" unique ("platform", "token"),
      constraint "push_devices_platform_check" check ("platform" in ('FCM', 'WEB_PUSH')))`);
    this.addSql('create index "push_devices_user_id_index" on "push_devices" ("user_id")');
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists "push_devices" cascade');
    this.addSql('delete from "attachments" where "message_id" is null');
    this.addSql('drop index if exists "attachments_pending_created_at_index"');
    this.addSql('alter table "attachments" alter column "message_id" set not null');
    this.addSql('alter table "conversations" drop column "archived_at"');
  }
}
