import { z } from 'zod';
import { RestError } from './rest-error';
import { intQuery } from './fields.schemas';
import type { MessageView } from '../../domain/shared/events';
import type { RestContext } from './route.registry';

/** Default and largest page size of page-number pagination (rest-compat.md). */
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** `?page=N&page_size=M` (seeds 001, 003, 004): page from 1, size 1..100 (default 20). */
export const pageQuery = z.object({
  page: intQuery(1, 10_000_000).optional().describe('Page number, from 1'),
  page_size: intQuery(1, MAX_PAGE_SIZE).optional().describe(`Results per page (default ${DEFAULT_PAGE_SIZE}, at most ${MAX_PAGE_SIZE})`),
});

/** `?limit=&offset=` (seed 002): a limit above 100 is clamped to 100, as Django REST Framework's LimitOffsetPagination does with its max_limit. */
export const limitOffsetQuery = z.object({
  limit: intQuery(0, 2147483647)
    .transform((n) => Math.min(n, MAX_PAGE_SIZE))
    .optional()
    .describe('At most this many (default 50; more than 100 is clamped to 100)'),
  offset: intQuery(0, 2147483647).optional().describe('Skip this many'),
});

/** A page window: which page, its size, and the offset/limit for the domain call. */
export interface PageWindow {
  page: number;
  size: number;
  offset: number;
  limit: number;
}

/** The offset/limit window of `?page&page_size`. */
export function pageWindow(q: z.output<typeof pageQuery>): PageWindow {
  const page = q.page ?? 1;
  const size = q.page_size ?? DEFAULT_PAGE_SIZE;
  return { page, size, offset: (page - 1) * size, limit: size };
}

/** @throws RestError 404 "Invalid page." for a page past the end (page 1 is always valid), as DRF does. */
export function checkPage(win: PageWindow, total: number): void {
  if (win.page > 1 && win.offset >= total) throw new RestError(404, 'Invalid page.');
}

/**
 * One `?page&page_size` page of a conversation's messages, oldest first (seeds 001, 003, 004).
 * With `markShown` (the dialects without a mark-read call: seeds 001 and 004), what the page
 * shows counts as read for the caller (ReadStateService.markShown).
 * @throws RestError 404 for a page past the end; the domain's NOT_FOUND for a conversation the caller may not read.
 */
export async function messagePage(
  ctx: RestContext,
  conversationId: string,
  q: z.output<typeof pageQuery>,
  opts: { markShown?: boolean } = {},
): Promise<{ win: PageWindow; total: number; messages: MessageView[] }> {
  const win = pageWindow(q);
  const { total, messages } = await ctx.services.messages.listRange(ctx.scope(), conversationId, { offset: win.offset, limit: win.limit });
  checkPage(win, total);
  if (opts.markShown && messages.length) await ctx.services.readState.markShown(ctx.scope(), messages[0].conversationId, messages);
  return { win, total, messages };
}

/** The URL of this request with `page` set (null below 1), absolute. */
function pageLink(url: URL, page: number): string {
  const u = new URL(url);
  if (page <= 1) u.searchParams.delete('page');
  else u.searchParams.set('page', String(page));
  return u.toString();
}

/** A DRF page: `{count, next, previous, results}` with absolute links or null. @throws 404 past the end. */
export function pageOf<T>(
  ctx: RestContext,
  win: PageWindow,
  total: number,
  results: T[],
): { count: number; next: string | null; previous: string | null; results: T[] } {
  checkPage(win, total);
  return {
    count: total,
    next: win.offset + win.size < total ? pageLink(ctx.url, win.page + 1) : null,
    previous: win.page > 1 ? pageLink(ctx.url, win.page - 1) : null,
    results,
  };
}

/** The zod schema of a DRF page of `item`s (OpenAPI). */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ count: z.number().int(), next: z.string().nullable(), previous: z.string().nullable(), results: z.array(item) });
}
