import { Migration } from '@mikro-orm/migrations';

/**
 * Refresh tokens for legacy clients and concurrent refreshes (issue 28 items 1-2):
 * - `refresh_tokens.rotates`: false for logins made through seed 000's `POST /api/token/`
 *   (SimpleJWT's default: the refresh token stays valid until it expires); existing rows rotate;
 * - `refresh_tokens.successor_sealed`: the pair a spent token was exchanged for, sealed under a key
 *   derived from the token, answered again to a repeat within REFRESH_REUSE_GRACE_S.
 */
export class Migration20261207144500_refresh_grace extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table "refresh_tokens" add column "rotates" boolean not null default true, add column "successor_sealed" text null');
  }

  override async down(): Promise<void> {
    this.addSql('alter table "refresh_tokens" drop column "rotates", drop column "successor_sealed"');
  }
}
