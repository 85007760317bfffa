import { Migration } from '@mikro-orm/migrations';

/**
 * Edit history, pins and forwarding (issue 31; contract "Message interactions"):
 * - `message_revisions`: the earlier versions of an edited message, one row per edit (its text,
 *   when it was written and by whom), written in the edit's transaction; `messages.edited_by_id`
 *   is who wrote the current version (a moderator may edit someone else's message);
 * - `messages.pinned_at` / `pinned_by_id`: a pinned message (partial index for the pinned list);
 * - `messages.forwarded_from_id`: the original of a forwarded copy.
 */
export class Migration20261207181000_revisions_pins_forwarding extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      'create table "message_revisions" ("id" serial primary key, "message_id" int not null, "content" text not null, "edited_at" timestamptz not null, "editor_id" int null)',
    );
    this.addSql('create index "message_revisions_message_id_index" on "message_revisions" ("message_id")');
    this.addSql(
      'alter table "message_revisions" add constraint "message_revisions_message_id_foreign" foreign key ("message_id") references "messages" ("id") on update cascade on delete cascade',
    );
    this.addSql(
      'alter table "message_revisions" add constraint "message_revisions_editor_id_foreign" foreign key ("editor_id") references "users" ("id") on update cascade on delete set null',
    );
    this.addSql(
      'alter table "messages" add column "edited_by_id" int null, add column "pinned_at" timestamptz null, add column "pinned_by_id" int null, add column "forwarded_from_id" int null',
    );
    for (const [column, table] of [
      ['edited_by_id', 'users'],
      ['pinned_by_id', 'users'],
      ['forwarded_from_id', 'messages'],
    ]) {
      this.addSql(
        `alter table "messages" add constraint "messages_${column}_foreign" foreign key ("${column}") references "${table}" ("id") on update cascade on delete set null`,
      );
    }
    this.addSql('create index "messages_pinned_index" on "messages" ("conversation_id", "pinned_at") where "pinned_at" is not null');
  }

  override async down(): Promise<void> {
    this.addSql('drop index if exists "messages_pinned_index"');
    for (const column of ['edited_by_id', 'pinned_by_id', 'forwarded_from_id'])
      this.addSql(`alter table "messages" drop constraint "messages_${column}_foreign"`);
    this.addSql('alter table "messages" drop column "edited_by_id", drop column "pinned_at", drop column "pinned_by_id", drop column "forwarded_from_id"');
    this.addSql('drop table if exists "message_revisions" cascade');
  }
}
