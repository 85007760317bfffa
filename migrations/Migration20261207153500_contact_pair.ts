import { Migration } from '@mikro-orm/migrations';

/**
 * One connection row per pair of users, whoever asked (issue 27): two `requestContact` crossing at
 * the same moment each found no row and inserted their own (`PENDING`, `PENDING`). A unique index
 * on the unordered pair (`least`, `greatest` of the two ids) over the connection rows (not the
 * BLOCKED ones: each side may block the other) makes the second insert see the first.
 *
 * Rows already doubled are merged first, keeping one row per pair: an ACCEPTED row if there is
 * one; else two crossing requests (both PENDING) become one ACCEPTED row (a crossing request
 * accepts, as `requestContact` does when the other side asked first); else a PENDING row over a
 * DECLINED one (a live request); ties keep the oldest row (lowest id).
 */
export class Migration20261207153500_contact_pair extends Migration {
  override async up(): Promise<void> {
    this.addSql(`with pairs as (
        select "id", "status",
               row_number() over (partition by least("requester_id", "addressee_id"), greatest("requester_id", "addressee_id")
                                  order by case "status" when 'ACCEPTED' then 0 when 'PENDING' then 1 else 2 end, "id") as n,
               count(*) over (partition by least("requester_id", "addressee_id"), greatest("requester_id", "addressee_id")) as k,
               count(*) filter (where "status" = 'PENDING') over (partition by least("requester_id", "addressee_id"), greatest("requester_id", "addressee_id")) as pending
          from "contacts" where "status" <> 'BLOCKED')
      update "contacts" c set "status" = 'ACCEPTED', "updated_at" = now()
        from pairs p where c."id" = p."id" and p.n = 1 and p.k > 1 and p."status" = 'PENDING' and p.pending > 1`);
    this.addSql(`delete from "contacts" where "id" in (
        select "id" from (
          select "id", row_number() over (partition by least("requester_id", "addressee_id"), greatest("requester_id", "addressee_id")
                                           order by case "status" when 'ACCEPTED' then 0 when 'PENDING' then 1 else 2 end, "id") as n
            from "contacts" where "status" <> 'BLOCKED') ranked
         where ranked.n > 1)`);
    this.addSql(
      `create unique index "contacts_pair_unique" on "contacts" (least("requester_id", "addressee_id"), greatest("requester_id", "addressee_id")) where "status" <> 'BLOCKED'`,
    );
  }

  override async down(): Promise<void> {
    this.addSql('drop index if exists "contacts_pair_unique"');
  }
}
