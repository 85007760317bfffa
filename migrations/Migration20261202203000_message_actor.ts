import { Migration } from '@mikro-orm/migrations';

/**
 * Who caused a SYSTEM message ("alice added bob"): `actor_id` (issue 19). The actor's read
 * position moves past it as a sender's does (one's own actions are never unread), and dialects
 * that show every message with a sender (seed 001) show the actor.
 */
export class Migration20261202203000_message_actor extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table "messages" add column "actor_id" int null');
    this.addSql(
      'alter table "messages" add constraint "messages_actor_id_foreign" foreign key ("actor_id") references "users" ("id") on update cascade on delete set null',
    );
  }

  override async down(): Promise<void> {
    this.addSql('alter table "messages" drop constraint "messages_actor_id_foreign"');
    this.addSql('alter table "messages" drop column "actor_id"');
  }
}
