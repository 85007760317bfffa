import type { Scope } from '../shared/actor';
import { badInput } from '../shared/errors';
import type { MessageView } from '../shared/events';
import { connectionFrom, decodeCursor, encodeCursor, PAGE_MAX, pageSize, type Page } from '../shared/pagination';
import type { RateLimiter } from '../shared/rate-limit';
import type { ConversationQueries } from '../conversation/conversation.queries';
import { rowToMessageView } from '../message/message.writer';
import { highlight } from './highlight';
import { exactQuery, matchQuery, parseSearchQuery } from './query';
import type { MessageSearchIndex } from './search.index';

/** SearchHit: a message the viewer may read, and its highlighted excerpt. */
export interface SearchHit {
  message: MessageView;
  highlight: string;
}

/** Contract SearchOrder. */
export type SearchOrder = 'RELEVANCE' | 'NEWEST';

const CURSOR = { RELEVANCE: 'hitr', NEWEST: 'hitn' } as const;

/**
 * searchMessages (issue 33): messages the viewer may read now that match a query (syntax:
 * query.ts, docs/search.md), one page at a time, by relevance or newest first. The matching and
 * ranking are the index's (MessageSearchIndex); what may be read is conversation.policy.ts's.
 */
export class SearchService {
  constructor(
    private readonly index: MessageSearchIndex,
    private readonly queries: ConversationQueries,
    private readonly limits: RateLimiter,
  ) {}

  /**
   * One page of hits. `conversationId` and `in:` narrow to conversations the viewer may read
   * (ConversationQueries.access: NOT_FOUND otherwise, no existence leak). Cursors are keysets
   * ((score, id) or id), so a page never repeats nor skips a hit while messages keep arriving.
   * @throws RATE_LIMITED (RATE_SEARCHES_PER_MIN), BAD_USER_INPUT (query: see parseSearchQuery;
   *   first above 100; a bad cursor or id), NOT_FOUND (conversationId, in:).
   */
  async search(
    scope: Scope,
    args: { query: string; conversationId?: string | null; orderBy?: SearchOrder | null; first?: number | null; after?: string | null },
  ): Promise<Page<SearchHit>> {
    await this.limits.consume('search', String(scope.actor.id));
    const size = pageSize(args.first, 20, PAGE_MAX, 'first');
    const order: SearchOrder = args.orderBy === 'NEWEST' ? 'NEWEST' : 'RELEVANCE';
    const q = parseSearchQuery(args.query);
    let cursor: { score: number; id: number } | null = null;
    if (args.after) {
      const parts = decodeCursor(args.after, CURSOR[order], 'after', order === 'NEWEST' ? 1 : 2);
      if (!parts.every((p) => /^\d{1,15}$/.test(p))) throw badInput('after is not a valid cursor', 'after');
      cursor = order === 'NEWEST' ? { score: 0, id: Number(parts[0]) } : { score: Number(parts[0]), id: Number(parts[1]) };
    }
    // Narrowing: every conversation named must be readable (NOT_FOUND otherwise), and they must all be the same one.
    const named = [...(args.conversationId != null ? [{ id: args.conversationId, field: 'conversationId' }] : []), ...q.in.map((id) => ({ id, field: 'in' }))];
    const ids = new Set<number>();
    for (const n of named) ids.add((await this.queries.access(scope, n.id, n.field)).conversation.id);
    const { hits, total } = await this.index.find(scope.em, scope.actor, {
      match: matchQuery(q),
      exact: exactQuery(q),
      conversationIds: named.length ? (ids.size === 1 ? [...ids] : []) : null,
      senders: q.from.length ? q.from : null,
      before: q.before,
      after: q.after,
      hasFile: q.has.has('file'),
      hasImage: q.has.has('image'),
      pinned: q.pinned,
      thread: q.thread,
      order,
      cursor,
      size,
    });
    const nodes = hits.map((h) => ({ score: h.score, hit: { message: rowToMessageView(h), highlight: highlight(h.content, q) } }));
    const page = connectionFrom(
      nodes,
      size,
      (n) => (order === 'NEWEST' ? encodeCursor(CURSOR.NEWEST, n.hit.message.id) : encodeCursor(CURSOR.RELEVANCE, n.score, n.hit.message.id)),
      total,
      Boolean(args.after),
    );
    return { ...page, edges: page.edges.map((e) => ({ cursor: e.cursor, node: e.node.hit })) };
  }
}
