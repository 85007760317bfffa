import { Migration } from '@mikro-orm/migrations';

/**
 * Reactions (issue 31; contract `ReactionSummary`, `addReaction`, `removeReaction`):
 * - `message_reactions`: one row per (message, user, emoji), so an add is idempotent by its key
 *   and a count is the number of rows (exact under concurrency, never below zero). The index on
 *   (message, emoji, created_at) serves `reactors` pages and the newest reactors of a summary.
 * - `messages.changed_at`: when the message last changed other than by its creation, edit or
 *   deletion (a reaction, later a pin): the outage replay (realtime/delivery/replay.ts) reads
 *   changes back by time.
 */
export class Migration20261207180000_reactions extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "message_reactions" (
        "message_id" int not null references "messages" ("id") on update cascade on delete cascade,
        "user_id" int not null references "users" ("id") on update cascade on delete cascade,
        "emoji" varchar(64) not null,
        "created_at" timestamptz not null default now(),
        constraint "message_reactions_pkey" primary key ("message_id", "user_id", "emoji"))`);
    this.addSql('create index "message_reactions_message_emoji_index" on "message_reactions" ("message_id", "emoji", "created_at")');
    this.addSql('alter table "messages" add column "changed_at" timestamptz null');
  }

  override async down(): Promise<void> {
    this.addSql('alter table "messages" drop column "changed_at"');
    this.addSql('drop table if exists "message_reactions"');
  }
}
