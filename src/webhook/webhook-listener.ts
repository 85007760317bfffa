import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { MessageView } from '../domain/shared/events';
import type { EventBus } from '../domain/shared/live-state';
import { enqueueWebhookEvent, webhookBody, type WebhookEventType } from '../domain/webhook/webhook-events';
import type { PushOutbox } from '../domain/push/outbox';

const messageData = (m: MessageView) => ({
  id: m.id,
  conversationId: m.conversationId,
  seq: m.seq,
  senderId: m.senderId,
  kind: m.kind,
  content: m.content,
  replyToId: m.replyToId,
  createdAt: m.createdAt,
  editedAt: m.editedAt,
  deletedAt: m.deletedAt,
});

/**
 * Webhook events written after the change's commit, from its domain event (issue 34): edits
 * (`message.updated`, keyed by the message's changeSeq), deletions (`message.deleted`), members
 * joining or leaving (`member.added`, `member.removed`, keyed by the membership's joined/left
 * time) and account deletions (`user.deleted`). Not in
 * the change's transaction: a crash between the commit and this write loses the event (the send's
 * `message.created` is written in the send's own transaction, src/domain/push/outbox.ts). Each
 * instance receiving the event writes the same key: the unique key keeps one row per endpoint.
 * @returns the unsubscribe function.
 */
export function listenForWebhookEvents(bus: EventBus, rootEm: EntityManager, outbox: PushOutbox, logger: Logger): () => void {
  const write = (type: WebhookEventType, key: string, at: string | null, data: Record<string, unknown>) => {
    if (!outbox.webhooks) return;
    enqueueWebhookEvent(rootEm.fork(), type, key, webhookBody(type, at ? new Date(at) : new Date(), data))
      .then((n) => n && outbox.onQueued('webhook', n))
      .catch((err) => logger.warn({ err, type, key }, 'webhooks: event not queued'));
  };
  const offs = [
    bus.on('message.edited', (e) => {
      if (e.type === 'message.edited')
        write('message.updated', `message.updated:${e.message.id}:${e.message.changeSeq}`, e.message.editedAt, messageData(e.message));
    }),
    bus.on('message.deleted', (e) => {
      if (e.type === 'message.deleted') write('message.deleted', `message.deleted:${e.message.id}`, e.message.deletedAt, messageData(e.message));
    }),
    bus.on('membership.changed', (e) => {
      if (e.type !== 'membership.changed' || !outbox.webhooks) return;
      // The key names the membership's state (joined or left at), so every instance writes the same one.
      rootEm
        .fork()
        .execute<{ joined_at: Date; left_at: Date | null; is_banned: boolean }[]>(
          `select "joined_at", "left_at", "is_banned" from "memberships" where "conversation_id" = ? and "user_id" = ?`,
          [e.conversationId, e.userId],
        )
        .then(([m]) => {
          if (!m) return;
          const joinedAt = new Date(m.joined_at).toISOString();
          if (e.active)
            write('member.added', `member.added:${e.conversationId}:${e.userId}:${joinedAt}`, joinedAt, {
              conversationId: e.conversationId,
              userId: e.userId,
              joinedAt,
            });
          else {
            const leftAt = m.left_at ? new Date(m.left_at).toISOString() : null;
            write('member.removed', `member.removed:${e.conversationId}:${e.userId}:${leftAt ?? joinedAt}:${m.is_banned}`, leftAt, {
              conversationId: e.conversationId,
              userId: e.userId,
              leftAt,
              banned: m.is_banned,
            });
          }
        })
        .catch((err) => logger.warn({ err }, 'webhooks: membership not read'));
    }),
    bus.on('user.changed', (e) => {
      if (e.type === 'user.changed' && e.user?.deletedAt)
        write('user.deleted', `user.deleted:${e.userId}`, e.user.deletedAt, { userId: e.userId, deletedAt: e.user.deletedAt });
    }),
  ];
  return () => offs.forEach((off) => off());
}
