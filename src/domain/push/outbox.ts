import type { EntityManager } from '@mikro-orm/postgresql';
import type { Conversation } from '../conversation/conversation.entity';
import type { Membership } from '../conversation/membership.entity';
import type { Message } from '../message/message.entity';
import { messageColumnsSql, rowToMessageView, type MessageRow } from '../message/message.writer';
import type { MessageView } from '../shared/events';
import { refId } from '../shared/refs';
import { enqueueWebhookEvents, messageWebhookData, webhookBody, type WebhookEvent } from '../webhook/webhook-events';

/** The outbox's channels (table `outbox`, migration 20261207183000): `push` now, `webhook` next. */
export type OutboxChannel = 'push' | 'webhook';

/**
 * A membership that began or ended, as {@link PushOutbox.membersChanged} takes it: `joinedAt` as
 * stored (the key of `member.added` names it); for an end, `leftAt` as stored (null for a ban,
 * which keeps the row without a left time) and whether it is a ban.
 */
export type MemberChange = { conversationId: number; userId: number; joinedAt: Date } & (
  { added: true } | { added: false; leftAt: Date | null; banned: boolean }
);

/** A membership's `member.added` or `member.removed` event; its key names the membership's state, so it is one event per join and per end. */
function memberEvent(c: MemberChange): WebhookEvent {
  const joinedAt = c.joinedAt.toISOString();
  if (c.added) {
    return {
      type: 'member.added',
      key: `member.added:${c.conversationId}:${c.userId}:${joinedAt}`,
      body: webhookBody('member.added', c.joinedAt, { conversationId: c.conversationId, userId: c.userId, joinedAt }),
    };
  }
  const leftAt = c.leftAt ? c.leftAt.toISOString() : null;
  return {
    type: 'member.removed',
    key: `member.removed:${c.conversationId}:${c.userId}:${leftAt ?? joinedAt}:${c.banned}`,
    body: webhookBody('member.removed', c.leftAt ?? new Date(), { conversationId: c.conversationId, userId: c.userId, leftAt, banned: c.banned }),
  };
}

/** A changed message's `message.updated` (one per change: keyed by its changeSeq) or `message.deleted` (one per message). */
function messageEvent(type: 'message.updated' | 'message.deleted', m: MessageView): WebhookEvent {
  const at = type === 'message.deleted' ? m.deletedAt : m.editedAt;
  return {
    type,
    key: type === 'message.deleted' ? `message.deleted:${m.id}` : `message.updated:${m.id}:${m.changeSeq}`,
    body: webhookBody(type, at ? new Date(at) : new Date(), messageWebhookData(m)),
  };
}

/**
 * The push and webhook work a change causes, written in the change's own transaction (issue 34,
 * "Delivery guarantee: a transactional outbox": no dual write): a crash between the commit and the
 * delivery loses nothing, the workers (src/outbox/outbox-worker.ts) find the row, and a change
 * that rolls back queues nothing. With no push configured and no webhook enabled it writes
 * nothing and reads nothing (`active` false: a send stays one statement). Webhook event keys name
 * the change (docs/webhooks.md), and the outbox's unique key keeps one row per endpoint and event.
 */
export class PushOutbox {
  /** Called after rows are written, with their channel and how many (the app sets it: the local worker looks sooner than its next poll). */
  onQueued: (channel: OutboxChannel, rows: number) => void = () => undefined;

  /**
   * True while at least one webhook is enabled (WebhookService keeps it current on this instance
   * and the outbox worker re-reads it every poll, so other instances' changes arrive within OUTBOX_POLL_MS).
   */
  webhooks = false;

  /** @param pushActive true when Web Push or FCM is configured. */
  constructor(readonly pushActive: boolean) {}

  /** True when a send has outbox work (push configured, or a webhook enabled): the send then runs in a transaction. */
  get active(): boolean {
    return this.pushActive || this.webhooks;
  }

  /**
   * Queues the pushes of a message just appended (inside the send's transaction `tx`): one row,
   * due now, whose worker finds the recipients and their devices (src/push/push-fanout.ts). A
   * SYSTEM notice (no sender) pushes nothing. The row's key (`push:<messageId>`) is unique: never queued twice.
   * With webhooks enabled, also one `webhook` row per endpoint subscribed to `message.created`
   * (docs/webhooks.md), in the same transaction.
   */
  async messageAdded(tx: EntityManager, message: Message): Promise<void> {
    if (this.webhooks) {
      await this.queue(tx, [
        {
          type: 'message.created',
          key: `message.created:${message.id}`,
          body: webhookBody('message.created', message.createdAt, {
            id: message.id,
            conversationId: refId(message.conversation),
            seq: message.seq,
            senderId: message.sender == null ? null : refId(message.sender),
            kind: message.kind,
            content: message.content,
            replyToId: message.replyTo == null ? null : refId(message.replyTo),
            threadRootId: message.threadRoot == null ? null : refId(message.threadRoot),
            createdAt: message.createdAt.toISOString(),
          }),
        },
      ]);
    }
    if (!this.pushActive || message.sender == null) return;
    await tx.execute(
      `insert into "outbox" ("channel", "kind", "key", "payload", "due_at", "created_at") values ('push', 'message', ?, ?::jsonb, ?, ?) on conflict ("key") do nothing`,
      [`push:${message.id}`, JSON.stringify({ messageId: message.id, conversationId: refId(message.conversation), phase: 'send' }), new Date(), new Date()],
    );
    this.onQueued('push', 1);
  }

  /**
   * With webhooks enabled, queues `message.updated` (an edit, or a file added: key
   * `message.updated:<id>:<changeSeq>`) or `message.deleted` (key `message.deleted:<id>`) of
   * message `messageId`, inside the change's transaction `tx` after its update: the message is
   * read there as the change leaves it (one statement), then the rows written (one more).
   * Nothing without webhooks.
   */
  async messageChanged(tx: EntityManager, type: 'message.updated' | 'message.deleted', messageId: number): Promise<void> {
    if (!this.webhooks) return;
    const [row] = await tx.execute<MessageRow[]>(`select ${messageColumnsSql()} from "messages" where "id" = ?`, [messageId]);
    if (row) await this.queue(tx, [messageEvent(type, rowToMessageView(row))]);
  }

  /**
   * With webhooks enabled, queues `member.added` or `member.removed` for each membership that
   * began or ended in `tx` (one statement for all). Nothing without webhooks.
   */
  async membersChanged(tx: EntityManager, changes: MemberChange[]): Promise<void> {
    if (!this.webhooks || !changes.length) return;
    await this.queue(tx, changes.map(memberEvent));
  }

  /**
   * With webhooks enabled, queues `conversation.created` (key `conversation.created:<id>`) of a
   * GROUP, ROOM, DIRECT chat or SUPPORT thread created in `tx`, then `member.added` of each of its
   * first `members` (the creator's included), in one statement; `tx` is flushed first (the
   * conversation's id). Data: `id, kind, name, visibility, customerId, createdById, createdAt,
   * memberIds` (docs/webhooks.md). Nothing without webhooks.
   */
  async conversationCreated(tx: EntityManager, c: Conversation, members: Membership[]): Promise<void> {
    if (!this.webhooks) return;
    await tx.flush();
    const memberIds = members.map((m) => refId(m.user));
    await this.queue(tx, [
      {
        type: 'conversation.created',
        key: `conversation.created:${c.id}`,
        body: webhookBody('conversation.created', c.createdAt, {
          id: c.id,
          kind: c.kind,
          name: c.name ?? null,
          visibility: c.visibility ?? null,
          customerId: refId(c.customer),
          createdById: refId(c.createdBy),
          createdAt: c.createdAt.toISOString(),
          memberIds,
        }),
      },
      ...members.map((m) => memberEvent({ conversationId: c.id, userId: refId(m.user), joinedAt: m.joinedAt, added: true })),
    ]);
  }

  /**
   * With webhooks enabled, the webhook events of an account deletion (issue 18), inside its
   * transaction `tx`, in one statement: `message.deleted` for each message it erased that was
   * not deleted before (`deletedAt` = `at`), `message.updated` for each SYSTEM notice rewritten
   * to name the tombstone, `member.removed` for each conversation left (at `at`), then
   * `user.deleted` (key `user.deleted:<id>`). Nothing without webhooks.
   */
  async accountErased(
    tx: EntityManager,
    erased: { userId: number; at: Date; messages: MessageView[]; notices: MessageView[]; leftConversations: number[] },
  ): Promise<void> {
    if (!this.webhooks) return;
    const { userId, at } = erased;
    const deletedAt = at.toISOString();
    await this.queue(tx, [
      ...erased.messages.filter((m) => m.deletedAt === deletedAt).map((m) => messageEvent('message.deleted', m)),
      ...erased.notices.map((m) => messageEvent('message.updated', m)),
      // Places left by the deletion were active (not banned); leftAt names the event, joinedAt is not needed.
      ...erased.leftConversations.map((conversationId) => memberEvent({ conversationId, userId, joinedAt: at, added: false, leftAt: at, banned: false })),
      { type: 'user.deleted', key: `user.deleted:${userId}`, body: webhookBody('user.deleted', at, { userId, deletedAt }) },
    ]);
  }

  /** Writes `events`' webhook rows in `tx` and tells {@link onQueued} how many. */
  private async queue(tx: EntityManager, events: WebhookEvent[]): Promise<void> {
    const n = await enqueueWebhookEvents(tx, events);
    if (n) this.onQueued('webhook', n);
  }
}
