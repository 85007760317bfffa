import type { EntityManager } from '@mikro-orm/postgresql';
import { badInput } from '../shared/errors';
import type { MessageView } from '../shared/events';
import { connectionFrom, decodeCursor, encodeCursor, pageSize, type Page } from '../shared/pagination';
import { messageColumnsSql, rowToMessageView, type MessageRow } from './message.writer';

/** A page of messages by seq: `first`/`after` page forward, `last`/`before` page back (Relay cursor connections). */
export interface SeqPageArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

const MSG_CURSOR = 'msg';

/** The cursor of a message in a seq-ordered list (a conversation's timeline, a thread). */
export const seqCursor = (m: MessageView): string => encodeCursor(MSG_CURSOR, m.seq);

function seqOf(cursor: string, field: string): number {
  const [s] = decodeCursor(cursor, MSG_CURSOR, field, 1);
  if (!/^\d+$/.test(s)) throw badInput(`${field} is not a valid cursor`, field);
  return Number(s);
}

/**
 * One page of the messages `list.where` chooses (SQL over alias `m`, placeholders in
 * `list.params`), in ascending seq: with neither first nor last, the newest 50; at most 100 a page.
 * One statement: the page, the messages it replies to (`replies`: the reply previews cost no
 * query) and whether messages exist on either side (pageInfo), exact also where seqs of the
 * conversation are not in the list (a thread's replies; a timeline without thread-only replies).
 * `list.total` is the connection's totalCount.
 * @throws BAD_USER_INPUT (first and last both, sizes, cursors).
 */
export async function pageBySeq(
  em: EntityManager,
  list: { where: string; params: unknown[]; total: number },
  args: SeqPageArgs,
): Promise<Page<MessageView> & { replies: MessageView[] }> {
  if (args.first != null && args.last != null) throw badInput('Give first or last, not both', 'last');
  const after = args.after ? seqOf(args.after, 'after') : null;
  const before = args.before ? seqOf(args.before, 'before') : null;
  const backward = args.last != null || (args.first == null && after == null);
  const size = backward ? pageSize(args.last, 50, 100, 'last') : pageSize(args.first, 50, 100, 'first');
  let range = '';
  const rangeParams: unknown[] = [];
  if (after != null) {
    range += ' and m."seq" > ?';
    rangeParams.push(after);
  }
  if (before != null) {
    range += ' and m."seq" < ?';
    rangeParams.push(before);
  }
  // The other side of the page: before its oldest message (forward) or after its newest (backward);
  // an empty page's bound is its cursor. Without a cursor on that side there is nothing there.
  const otherSide = backward
    ? before != null
      ? `m."seq" > coalesce((select max("seq") from page), ?)`
      : 'false'
    : after != null
      ? `m."seq" < coalesce((select min("seq") from page), ?)`
      : 'false';
  const otherParams = backward ? (before != null ? [before - 1] : []) : after != null ? [after + 1] : [];
  const [row] = await em.execute<{ rows: (MessageRow & { reply: MessageRow | null })[] | null; other: boolean }[]>(
    `with page as (
       select ${messageColumnsSql('m')}, row_to_json(r) as "reply" from "messages" m left join "messages" r on r."id" = m."reply_to_id"
        where ${list.where}${range} order by m."seq" ${backward ? 'desc' : 'asc'} limit ${size + 1})
     select (select json_agg(p order by p."seq" ${backward ? 'desc' : 'asc'}) from page p) as "rows",
            exists (select 1 from "messages" m where ${list.where} and ${otherSide}) as "other"`,
    [...list.params, ...rangeParams, ...list.params, ...otherParams],
  );
  const rows = row.rows ?? [];
  const more = rows.length > size;
  const shown = more ? rows.slice(0, size) : rows;
  const nodes = shown.map(rowToMessageView);
  const replies = shown.flatMap((r) => (r.reply ? [rowToMessageView(r.reply)] : []));
  if (backward) nodes.reverse();
  const page = connectionFrom(nodes, nodes.length, seqCursor, list.total, false);
  page.pageInfo.hasPreviousPage = backward ? more : Boolean(row.other);
  page.pageInfo.hasNextPage = backward ? Boolean(row.other) : more;
  return { ...page, replies };
}
