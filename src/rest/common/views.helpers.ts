import type { UserRecord } from '../../domain/user/user-cache';
import type { Attachment } from '../../domain/attachment/attachment.entity';
import { ConversationKind, type Conversation } from '../../domain/conversation/conversation.entity';
import { ConversationQueries } from '../../domain/conversation/conversation.queries';
import type { Membership } from '../../domain/conversation/membership.entity';
import type { MessageView } from '../../domain/shared/events';
import type { RestContext } from './route.registry';
import { refId } from '../../domain/shared/refs';
import { viewerAbilities } from '../../domain/conversation/conversation.policy';
import { isReadByOthers as readByOthers, showsContent } from '../../domain/message/message.policy';

/**
 * Read helpers the presenters share, over the request's loaders. Same reading as the GraphQL
 * field resolvers (conversation.resolver.ts), so both APIs show the same numbers.
 */

export const iso = (d: Date | string | null | undefined): string | null => (d == null ? null : new Date(d).toISOString());

/** Active members of a conversation, with users, oldest first. */
export function membersOf(ctx: RestContext, c: Conversation): Promise<Membership[]> {
  return ctx.loaders.members.load(c.id);
}

/** The viewer's unread count: after their read position; staff in a SUPPORT thread they never opened: all but their own. */
export async function unreadOf(ctx: RestContext, c: Conversation): Promise<number> {
  const { membership, unreadIsWholeThread } = await viewerAbilities(ctx.actor, c, ctx.loaders.viewerMembership);
  if (membership) return ctx.loaders.unread.load(membership.id);
  return unreadIsWholeThread ? ctx.loaders.unreadAll.load(c.id) : 0;
}

/** The newest message, or null (none yet, or `canReadContent` false: a PUBLIC room seen from outside). */
export async function lastMessageOf(ctx: RestContext, c: Conversation, canReadContent = true): Promise<MessageView | null> {
  if (c.lastSeq === 0 || !canReadContent) return null;
  return ctx.loaders.messageAt.load(`${c.id}:${c.lastSeq}`);
}

/** A user by id (null for SYSTEM senders and deleted users). */
export async function userOf(ctx: RestContext, id: number | null | undefined): Promise<UserRecord | null> {
  return id == null ? null : ctx.loaders.user.load(id);
}

/** Whether a member other than its sender has read the message (their read position reached it). */
export async function isReadByOthers(ctx: RestContext, m: MessageView): Promise<boolean> {
  const members = await ctx.loaders.members.load(m.conversationId);
  return readByOthers(
    m,
    members.map((x) => ({ userId: refId(x.user), lastReadSeq: x.lastReadSeq, sendsReceipts: (x.user as { sendReadReceipts?: boolean }).sendReadReceipts })),
  );
}

/** The conversation's title as the viewer sees it (ConversationQueries.titleOf). */
export async function titleOf(ctx: RestContext, c: Conversation): Promise<string> {
  if (c.name) return c.name;
  const users: UserRecord[] = [];
  if (c.kind === ConversationKind.DIRECT) users.push(...(await membersOf(ctx, c)).map((m) => m.user));
  const customer = await userOf(ctx, refId(c.customer));
  if (customer) users.push(customer);
  return ConversationQueries.titleOf(c, ctx.actor?.id ?? 0, users);
}

/**
 * Whether the viewer sees a conversation's content (messages, members) and not only its
 * metadata: members and staff (as GraphQL's canReadContent; PUBLIC rooms list to strangers too).
 */
export async function canReadContentOf(ctx: RestContext, c: Conversation): Promise<boolean> {
  return (await viewerAbilities(ctx.actor, c, ctx.loaders.viewerMembership)).readContent;
}

/** A message's attachments, oldest first; none once the message is deleted (as GraphQL's Message.attachments). */
export async function attachmentsOf(ctx: RestContext, m: MessageView): Promise<Attachment[]> {
  return showsContent(m) ? ctx.loaders.attachments.load(m.id) : [];
}

/**
 * The signed download URL of an attachment (or its thumbnail), absolute: PUBLIC_URL when set,
 * else this request's origin (legacy clients expect absolute URLs, as the seeds show them).
 * An external attachment (seed 003 `file_url` of another site) answers its own link, and no thumbnail.
 */
export function mediaUrlOf(ctx: RestContext, a: Attachment, variant: 'file' | 'thumbnail' = 'file'): string | null {
  if (variant === 'file') return absoluteUrl(ctx, ctx.services.attachments.fileUrlOf(a));
  return a.thumbnailKey && !a.externalUrl ? absoluteUrl(ctx, ctx.services.attachments.urlFor(a.id, 'thumbnail')) : null;
}

/** A URL of this server made absolute as legacy clients expect: a path gets this request's origin (PUBLIC_URL's URLs are absolute already). */
export function absoluteUrl<T extends string | null>(ctx: RestContext, url: T): T {
  return (url && url.startsWith('/') ? `${ctx.url.origin}${url}` : url) as T;
}
