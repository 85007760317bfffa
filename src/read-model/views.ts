import type { Attachment } from '../domain/attachment/attachment.entity';
import { ConversationKind, type Conversation } from '../domain/conversation/conversation.entity';
import { viewerAbilities } from '../domain/conversation/conversation.policy';
import { ConversationQueries } from '../domain/conversation/conversation.queries';
import { isReadByOthers, showsContent } from '../domain/message/message.policy';
import type { Actor } from '../domain/shared/actor';
import type { MessageView } from '../domain/shared/events';
import { refId } from '../domain/shared/refs';
import type { UserRecord } from '../domain/user/user-cache';
import type { Loaders } from './loaders';

/**
 * The per-viewer view fields (issue 29 item 4): values that depend on who looks, derived once from
 * the policies (`viewerAbilities`, `shows*`, `isReadByOthers`) through the request's batch loaders,
 * for every adapter: GraphQL's field resolvers, REST's presenters (src/rest/common/views.helpers.ts)
 * and the live deliveries (a `perViewer` GraphQL field runs per viewer). Read-only; the access
 * check happened before (the domain call that answered the conversation or message).
 */

/** Who looks, and the request's (or live event's) loaders: a GraphQLContext and a REST RestContext each are one. */
export interface ViewerReads {
  actor: Actor | null;
  loaders: Loaders;
}

/** The conversation's title as the viewer sees it: its name, else ConversationQueries.titleOf over the DIRECT members and the SUPPORT customer. */
export async function titleOf(v: ViewerReads, c: Conversation): Promise<string> {
  if (c.name) return c.name;
  const users: UserRecord[] = [];
  if (c.kind === ConversationKind.DIRECT) users.push(...(await v.loaders.members.load(c.id)).map((m) => m.user));
  const customerId = refId(c.customer);
  if (customerId != null) {
    const u = await v.loaders.user.load(customerId);
    if (u) users.push(u);
  }
  return ConversationQueries.titleOf(c, v.actor?.id ?? 0, users);
}

/**
 * Whether the viewer sees a conversation's content (messages, members) and not only its metadata:
 * members and staff (conversation.policy.ts viewerAbilities; PUBLIC rooms list to strangers too).
 */
export async function canReadContentOf(v: ViewerReads, c: Conversation): Promise<boolean> {
  return (await viewerAbilities(v.actor, c, v.loaders.viewerMembership)).readContent;
}

/** The viewer's unread count: after their read position; staff in a SUPPORT thread they never opened: all but their own (unreadIsWholeThread); else 0. */
export async function unreadCountOf(v: ViewerReads, c: Conversation): Promise<number> {
  const { membership, unreadIsWholeThread } = await viewerAbilities(v.actor, c, v.loaders.viewerMembership);
  if (membership) return v.loaders.unread.load(membership.id);
  return unreadIsWholeThread ? v.loaders.unreadAll.load(c.id) : 0;
}

/**
 * The newest message of the main timeline, or null (none yet, or the viewer sees only metadata: a PUBLIC room seen
 * from outside). `canReadContent`, when the caller knows it, spares asking {@link canReadContentOf}.
 */
export async function lastMessageOf(v: ViewerReads, c: Conversation, canReadContent?: boolean): Promise<MessageView | null> {
  if (c.lastSeq === 0 || !(canReadContent ?? (await canReadContentOf(v, c)))) return null;
  // Issue 32: the newest message of the main timeline (replies shown only in their thread are not in it).
  if ((c.threadOnlyCount ?? 0) > 0) return v.loaders.lastTimelineMessage.load(c.id);
  return v.loaders.messageAt.load(`${c.id}:${c.lastSeq}`);
}

/** Whether an active member other than its sender has read the message (message.policy.ts isReadByOthers: read positions, read-receipt privacy). */
export async function isReadOf(v: ViewerReads, m: MessageView): Promise<boolean> {
  const members = await v.loaders.members.load(m.conversationId);
  return isReadByOthers(
    m,
    members.map((x) => ({ userId: refId(x.user), lastReadSeq: x.lastReadSeq, sendsReceipts: (x.user as { sendReadReceipts?: boolean }).sendReadReceipts })),
  );
}

/** A message's attachments, oldest first; none once the message is deleted (message.policy.ts showsContent). */
export async function attachmentsOf(v: ViewerReads, m: MessageView): Promise<Attachment[]> {
  return showsContent(m) ? v.loaders.attachments.load(m.id) : [];
}
