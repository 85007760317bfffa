import { Migration } from '@mikro-orm/migrations';

/**
 * Account deletion and password change (issue 18, items 4-5):
 * - `users.deleted_at`: set when the account was deleted; the row stays as a tombstone (username
 *   `deleted-user-<id>`, every personal column emptied) so others' conversations keep a sender;
 * - `users.tokens_valid_after` / `users.tokens_kept_session`: after a password change, access
 *   tokens issued before `tokens_valid_after` are refused, except those of the login (refresh-token
 *   family id) that changed it;
 * - `reserved_usernames`: the lower-case usernames of deleted accounts, never registered again
 *   (no impersonation of the person others talked to); no link to the tombstone.
 */
export class Migration20261203170000_account_deletion extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      'alter table "users" add column "deleted_at" timestamptz null, add column "tokens_valid_after" timestamptz null, add column "tokens_kept_session" varchar(36) null',
    );
    this.addSql(
      'create table "reserved_usernames" ("username_key" varchar(64) not null, "reserved_at" timestamptz not null, constraint "reserved_usernames_pkey" primary key ("username_key"))',
    );
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists "reserved_usernames" cascade');
    this.addSql('alter table "users" drop column "deleted_at", drop column "tokens_valid_after", drop column "tokens_kept_session"');
  }
}
