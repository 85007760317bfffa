import { Migration } from '@mikro-orm/migrations';

/**
 * Seed 003 file messages (issue 16): an attachment is either stored (bytes under `storage_key`,
 * measured `size`) or an external link the sender gave (`external_url`, never fetched; `size` as
 * the sender declared it, null when not given). The check keeps every row exactly one of the two.
 */
export class Migration20261203140000_external_attachments extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table "attachments" add column "external_url" varchar(2048) null');
    this.addSql('alter table "attachments" alter column "storage_key" drop not null');
    this.addSql('alter table "attachments" alter column "size" drop not null');
    this.addSql(`alter table "attachments" add constraint "attachments_stored_or_external" check (
      ("storage_key" is not null and "external_url" is null and "size" is not null) or ("storage_key" is null and "external_url" is not null))`);
  }

  override async down(): Promise<void> {
    this.addSql('delete from "attachments" where "external_url" is not null');
    this.addSql('alter table "attachments" drop constraint "attachments_stored_or_external"');
    this.addSql('alter table "attachments" alter column "size" set not null');
    this.addSql('alter table "attachments" alter column "storage_key" set not null');
    this.addSql('alter table "attachments" drop column "external_url"');
  }
}
