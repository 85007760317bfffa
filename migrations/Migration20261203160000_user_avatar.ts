import { Migration } from '@mikro-orm/migrations';

/**
 * Uploaded avatars (issue 18): the stored image and its 150x150 thumbnail (BlobStorage keys,
 * generated names; null: none) and `avatar_version`, bumped by every setAvatar and removeAvatar,
 * which names the avatar in its URL (`/media/avatars/<user id>/<version>`), so a replaced or
 * removed avatar's URLs stop working. The older `avatar_url` column stays: an external URL from
 * imported data (never set by the API), shown only while no avatar is uploaded.
 */
export class Migration20261203160000_user_avatar extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      'alter table "users" add column "avatar_key" varchar(64) null, add column "avatar_thumbnail_key" varchar(64) null, add column "avatar_version" int not null default 0',
    );
  }

  override async down(): Promise<void> {
    this.addSql('alter table "users" drop column "avatar_key", drop column "avatar_thumbnail_key", drop column "avatar_version"');
  }
}
