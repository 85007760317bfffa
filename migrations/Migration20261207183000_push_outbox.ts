import { Migration } from '@mikro-orm/migrations';

/**
 * Issue 34, push half. `memberships.notification_level`: what reaches the member's devices (ALL,
 * MENTIONS, NONE; null = the conversation kind's default, see push.policy.ts). `outbox`: the
 * transactional outbox, one table for every outbound channel (`push` now, `webhook` next): a row
 * is written in the transaction of the change that causes it and claimed by the workers with
 * FOR UPDATE SKIP LOCKED; `key` is unique (a push never goes twice to one device for one message);
 * finished rows are purged after OUTBOX_RETENTION.
 */
export class Migration20261207183000_push_outbox extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "memberships" add column "notification_level" varchar(8) null check ("notification_level" in ('ALL', 'MENTIONS', 'NONE'))`);
    this.addSql(`create table "outbox" (
      "id" bigserial primary key,
      "channel" varchar(16) not null,
      "kind" varchar(32) not null,
      "key" varchar(255) null,
      "target_id" integer null,
      "payload" jsonb not null,
      "status" varchar(8) not null default 'PENDING' check ("status" in ('PENDING', 'DONE', 'FAILED')),
      "due_at" timestamptz not null,
      "attempts" integer not null default 0,
      "locked_until" timestamptz null,
      "last_error" text null,
      "created_at" timestamptz not null default now(),
      "finished_at" timestamptz null)`);
    this.addSql(`create unique index "outbox_key_unique" on "outbox" ("key")`);
    this.addSql(`create index "outbox_due_index" on "outbox" ("due_at") where "status" = 'PENDING'`);
    this.addSql(`create index "outbox_finished_index" on "outbox" ("finished_at") where "status" <> 'PENDING'`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists "outbox"');
    this.addSql('alter table "memberships" drop column if exists "notification_level"');
  }
}
