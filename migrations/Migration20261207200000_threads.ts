import { Migration } from '@mikro-orm/migrations';

/**
 * Threads (issue 32; contract "Threads and seen by"):
 * - `messages.thread_root_id`: a thread reply's root; `thread_only`: a reply not shown in the main
 *   timeline (sent without `alsoSendToConversation`); on a root, `thread_reply_count` (replies not
 *   deleted), `thread_last_reply_at` and `thread_last_reply_seq` (its newest reply), written in
 *   the reply's transaction;
 * - `conversations.thread_only_count`: how many of its seqs are thread-only replies (the REST
 *   dialects' offset pages stay a seq range while it is 0);
 * - `thread_reads`: per user and thread, whether they follow it (null: never chose; the defaults
 *   apply) and their thread read position (a conversation seq), never moving backwards.
 */
export class Migration20261207200000_threads extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      'alter table "messages" add column "thread_root_id" int null, add column "thread_only" boolean not null default false, add column "thread_reply_count" int not null default 0, add column "thread_last_reply_at" timestamptz null, add column "thread_last_reply_seq" int null',
    );
    this.addSql(
      'alter table "messages" add constraint "messages_thread_root_id_foreign" foreign key ("thread_root_id") references "messages" ("id") on update cascade on delete set null',
    );
    this.addSql('create index "messages_thread_index" on "messages" ("thread_root_id", "seq") where "thread_root_id" is not null');
    this.addSql('create index "messages_threads_index" on "messages" ("conversation_id", "thread_last_reply_at") where "thread_last_reply_at" is not null');
    this.addSql('alter table "conversations" add column "thread_only_count" int not null default 0');
    this.addSql(
      'create table "thread_reads" ("id" serial primary key, "root_id" int not null, "conversation_id" int not null, "user_id" int not null, "following" boolean null, "last_read_seq" int not null default 0, "updated_at" timestamptz not null)',
    );
    this.addSql('alter table "thread_reads" add constraint "thread_reads_root_user_unique" unique ("root_id", "user_id")');
    this.addSql('create index "thread_reads_user_index" on "thread_reads" ("user_id", "conversation_id")');
    for (const [column, table] of [
      ['root_id', 'messages'],
      ['conversation_id', 'conversations'],
      ['user_id', 'users'],
    ]) {
      this.addSql(
        `alter table "thread_reads" add constraint "thread_reads_${column}_foreign" foreign key ("${column}") references "${table}" ("id") on update cascade on delete cascade`,
      );
    }
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists "thread_reads" cascade');
    this.addSql('alter table "conversations" drop column "thread_only_count"');
    this.addSql('drop index if exists "messages_threads_index"');
    this.addSql('drop index if exists "messages_thread_index"');
    this.addSql('alter table "messages" drop constraint "messages_thread_root_id_foreign"');
    this.addSql(
      'alter table "messages" drop column "thread_root_id", drop column "thread_only", drop column "thread_reply_count", drop column "thread_last_reply_at", drop column "thread_last_reply_seq"',
    );
  }
}
