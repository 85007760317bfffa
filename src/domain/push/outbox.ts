import type { EntityManager } from '@mikro-orm/postgresql';
import type { Message } from '../message/message.entity';
import { refId } from '../shared/refs';
import { enqueueWebhookEvent, webhookBody } from '../webhook/webhook-events';

/** The outbox's channels (table `outbox`, migration 20261207183000): `push` now, `webhook` next. */
export type OutboxChannel = 'push' | 'webhook';

/**
 * The push work a change causes, written in the change's own transaction (issue 34, "Delivery
 * guarantee: a transactional outbox"): a crash between the commit and the delivery loses nothing,
 * the workers (src/outbox/outbox-worker.ts) find the row. With no push configured it writes
 * nothing (`active` false: a send stays one statement).
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
      const n = await enqueueWebhookEvent(
        tx,
        'message.created',
        `message.created:${message.id}`,
        webhookBody('message.created', message.createdAt, {
          id: message.id,
          conversationId: refId(message.conversation),
          seq: message.seq,
          senderId: message.sender == null ? null : refId(message.sender),
          kind: message.kind,
          content: message.content,
          replyToId: message.replyTo == null ? null : refId(message.replyTo),
          createdAt: message.createdAt.toISOString(),
        }),
      );
      if (n) this.onQueued('webhook', n);
    }
    if (!this.pushActive || message.sender == null) return;
    await tx.execute(
      `insert into "outbox" ("channel", "kind", "key", "payload", "due_at", "created_at") values ('push', 'message', ?, ?::jsonb, ?, ?) on conflict ("key") do nothing`,
      [`push:${message.id}`, JSON.stringify({ messageId: message.id, conversationId: refId(message.conversation), phase: 'send' }), new Date(), new Date()],
    );
    this.onQueued('push', 1);
  }
}
