import { Migration } from '@mikro-orm/migrations';

/**
 * Issue 34, webhooks (staff): one row per endpoint. `event_types` is a JSON array of event type
 * names (`[]` = all); `secret` signs (Standard Webhooks `whsec_<base64>`), `previous_secret` keeps
 * signing until `previous_until` after a rotation (WEBHOOK_SECRET_OVERLAP_S). Deliveries are
 * `outbox` rows (channel `webhook`, `target_id` = the endpoint); deleting an endpoint drops them.
 */
export class Migration20261207190000_webhooks extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "webhooks" (
      "id" serial primary key,
      "url" varchar(2048) not null,
      "event_types" jsonb not null default '[]',
      "secret" varchar(255) not null,
      "previous_secret" varchar(255) null,
      "previous_until" timestamptz null,
      "is_enabled" boolean not null default true,
      "created_by_id" integer null references "users" ("id") on delete set null,
      "created_at" timestamptz not null default now(),
      "last_success_at" timestamptz null,
      "last_failure_at" timestamptz null,
      "consecutive_failures" integer not null default 0)`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists "webhooks"');
  }
}
