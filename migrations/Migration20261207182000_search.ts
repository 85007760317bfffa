import { Migration } from '@mikro-orm/migrations';
import { searchDocument } from '../src/domain/search/normalize';

/** Messages indexed per statement while the existing ones are backfilled. */
const BATCH = 2000;

/**
 * Message search (issue 33): `messages.search_document`, the normalised form of a message's
 * content as a tsvector (src/domain/search/normalize.ts: folded case, diacritics, Arabic/Persian
 * letter forms and ZWNJ; CJK runs as characters and bigrams), written by the message's own
 * statements (send, edit, delete, account deletion) and GIN-indexed. Null for deleted messages.
 * Existing messages are indexed here, in batches, with the same normalisation (it runs in
 * TypeScript, so the backfill reads and writes each batch). No extension is needed: the
 * normalisation is done before PostgreSQL sees the text (pg_trgm and unaccent are not used).
 */
export class Migration20261207182000_search extends Migration {
  override async up(): Promise<void> {
    await this.execute('alter table "messages" add column "search_document" tsvector null');
    for (let last = 0; ;) {
      const rows = (await this.execute(
        `select "id", "content" from "messages" where "id" > ${Number(last)} and "deleted_at" is null order by "id" limit ${BATCH}`,
      )) as { id: number; content: string }[];
      if (!rows.length) break;
      const docs = rows.map((r) => ({ id: Number(r.id), d: searchDocument(r.content) }));
      await this.execute(`update "messages" m set "search_document" = v.d::tsvector from json_to_recordset(?::json) as v(id int, d text) where m."id" = v.id`, [
        JSON.stringify(docs),
      ]);
      last = Number(rows[rows.length - 1].id);
    }
    await this.execute('create index "messages_search_document_idx" on "messages" using gin ("search_document")');
  }

  override async down(): Promise<void> {
    this.addSql('drop index if exists "messages_search_document_idx"');
    this.addSql('alter table "messages" drop column if exists "search_document"');
  }
}
