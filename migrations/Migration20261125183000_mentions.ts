import { Migration } from '@mikro-orm/migrations';

/** Message mentions (seed 003 @username) and the notification inbox's index (newest first per user). */
export class Migration20261125183000_mentions extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table "messages" add column "mention_ids" jsonb not null default \'[]\'');
    this.addSql('create index "notifications_user_id_id_index" on "notifications" ("user_id", "id")');
  }

  override async down(): Promise<void> {
    this.addSql('drop index "notifications_user_id_id_index"');
    this.addSql('alter table "messages" drop column "mention_ids"');
  }
}
