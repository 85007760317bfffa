import { Migration } from '@mikro-orm/migrations';

/**
 * Privacy settings (issue 27 §5; contract `PrivacySettings`, `updatePrivacy`):
 * - `users.presence_visibility`: who sees the user's ONLINE/OFFLINE and last-seen time,
 *   EVERYONE, CONTACTS (accepted contacts and co-members; the default) or NOBODY;
 * - `users.send_read_receipts`: false keeps the user's read receipts from others (default true).
 */
export class Migration20261207150000_privacy extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "users" add column "presence_visibility" varchar(16) not null default 'CONTACTS', add column "send_read_receipts" boolean not null default true`,
    );
    this.addSql(`alter table "users" add constraint "users_presence_visibility_check" check ("presence_visibility" in ('EVERYONE', 'CONTACTS', 'NOBODY'))`);
  }

  override async down(): Promise<void> {
    this.addSql('alter table "users" drop constraint if exists "users_presence_visibility_check"');
    this.addSql('alter table "users" drop column "presence_visibility", drop column "send_read_receipts"');
  }
}
