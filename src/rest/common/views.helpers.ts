import type { UserRecord } from '../../domain/user/user-cache';
import type { Attachment } from '../../domain/attachment/attachment.entity';
import type { Conversation } from '../../domain/conversation/conversation.entity';
import type { Membership } from '../../domain/conversation/membership.entity';
import type { MessageView } from '../../domain/shared/events';
import type { RestContext } from './route.registry';
import { lastMessageOf as lastMessageOfViewer } from '../../read-model/views';

/**
 * Read helpers the presenters share, over the request's loaders. The per-viewer view fields (title,
 * unread count, last message, canReadContent, isRead, attachments) are the read model's
 * (src/read-model/views.ts), the same functions GraphQL's field resolvers call, so both APIs show
 * the same numbers; they are re-exported here under the names the presenters use.
 */
export { attachmentsOf, canReadContentOf, isReadOf as isReadByOthers, titleOf, unreadCountOf as unreadOf } from '../../read-model/views';

/**
 * The newest message, or null (none yet, or `canReadContent` false): the read model's lastMessageOf,
 * with `canReadContent` true unless the presenter passes it (seed 003 passes canReadContentOf for
 * PUBLIC rooms listed to strangers; the other dialects present conversations after their access check).
 */
export function lastMessageOf(ctx: RestContext, c: Conversation, canReadContent = true): Promise<MessageView | null> {
  return lastMessageOfViewer(ctx, c, canReadContent);
}

export const iso = (d: Date | string | null | undefined): string | null => (d == null ? null : new Date(d).toISOString());

/** Active members of a conversation, with users, oldest first. */
export function membersOf(ctx: RestContext, c: Conversation): Promise<Membership[]> {
  return ctx.loaders.members.load(c.id);
}

/** A user by id (null for SYSTEM senders and deleted users). */
export async function userOf(ctx: RestContext, id: number | null | undefined): Promise<UserRecord | null> {
  return id == null ? null : ctx.loaders.user.load(id);
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
