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
 * (`message.updated`, keyed by the message's changeSeq) and deletions (`message.deleted`). Not in
 * the change's transaction: a crash between the commit and this write loses the event (the send's
 * `message.created` is written in the send's own transaction, src/domain/push/outbox.ts). Each
 * instance receiving the event writes the same key: the unique key keeps one row per endpoint.
 * @returns the unsubscribe function.
 */
export function listenForWebhookEvents(bus: EventBus, rootEm: EntityManager, outbox: PushOutbox, logger: Logger): () => void {
  const write = (type: WebhookEventType, key: string, at: string | null, data: Record<string, unknown>) => {
    if (!outbox.webhooks) return;
    enqueueWebhookEvent(rootEm.fork(), type, key, webhookBody(type, at ? new Date(at) : new Date(), data))
      .then((n) => n && outbox.onQueued())
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
  ];
  return () => offs.forEach((off) => off());
}
