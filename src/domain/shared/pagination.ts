import { badInput } from './errors';

/** Relay page info (contract: PageInfo). */
export interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

/** A page of nodes with their cursors (contract: *Connection). */
export interface Page<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: PageInfo;
  totalCount: number;
}

/** Opaque cursor: base64url of `<kind>:<parts joined by |>`. */
export function encodeCursor(kind: string, ...parts: (string | number)[]): string {
  return Buffer.from(`${kind}:${parts.join('|')}`).toString('base64url');
}

/**
 * Decodes a cursor made by {@link encodeCursor} for `kind`, returning its parts.
 * @throws BAD_USER_INPUT naming `field` when the cursor is malformed or of another kind.
 */
export function decodeCursor(cursor: string, kind: string, field: string, arity: number): string[] {
  const text = Buffer.from(String(cursor), 'base64url').toString('utf8');
  if (!text.startsWith(`${kind}:`)) throw badInput(`${field} is not a valid cursor`, field);
  const parts = text.slice(kind.length + 1).split('|');
  if (parts.length !== arity || parts.some((p) => p === '')) throw badInput(`${field} is not a valid cursor`, field);
  return parts;
}

/**
 * Clamps a page size: undefined gives `fallback`; below 1 or above `max` is BAD_USER_INPUT.
 */
export function pageSize(value: number | null | undefined, fallback: number, max: number, field: string): number {
  if (value === null || value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0 || value > max) throw badInput(`${field} must be between 0 and ${max}`, field);
  return value;
}

/** Builds a connection from rows fetched with one extra row past `size` (the look-ahead). */
export function connectionFrom<T>(rows: T[], size: number, cursorOf: (row: T) => string, totalCount: number, hasPreviousPage: boolean): Page<T> {
  const hasNextPage = rows.length > size;
  const nodes = hasNextPage ? rows.slice(0, size) : rows;
  const edges = nodes.map((node) => ({ cursor: cursorOf(node), node }));
  return {
    edges,
    totalCount,
    pageInfo: {
      hasNextPage,
      hasPreviousPage,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges[edges.length - 1]?.cursor ?? null,
    },
  };
}

/**
 * The most items one page of any list returns (issue 7: `first`, `last` and `limit` above it are
 * BAD_USER_INPUT). Lists that grow with other users' actions are paged or cut at it too (issue 27):
 * Conversation.members, Query.contacts, UnreadSummary.byConversation and bySender.
 */
export const PAGE_MAX = 100;
/** The most mentions a message keeps and shows (issue 27: each one is a notification and a User to resolve). */
export const MENTIONS_MAX = 50;
