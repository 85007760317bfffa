import type { EntityManager } from '@mikro-orm/postgresql';
import type { Message } from '../message/message.entity';
import { refId } from '../shared/refs';

/** The outbox's channels (table `outbox`, migration 20261207183000): `push` now, `webhook` next. */
export type OutboxChannel = 'push' | 'webhook';

/**
 * The push work a change causes, written in the change's own transaction (issue 34, "Delivery
 * guarantee: a transactional outbox"): a crash between the commit and the delivery loses nothing,
 * the workers (src/outbox/outbox-worker.ts) find the row. With no push configured it writes
 * nothing (`active` false: a send stays one statement).
 */
export class PushOutbox {
  /** Called after a row is written (the app sets it: the local worker looks sooner than its next poll). */
  onQueued: () => void = () => undefined;

  /** @param active true when Web Push or FCM is configured. */
  constructor(readonly active: boolean) {}

  /**
   * Queues the pushes of a message just appended (inside the send's transaction `tx`): one row,
   * due now, whose worker finds the recipients and their devices (src/push/push-fanout.ts). A
   * SYSTEM notice (no sender) pushes nothing. The row's key (`push:<messageId>`) is unique: never queued twice.
   */
  async messageAdded(tx: EntityManager, message: Message): Promise<void> {
    if (!this.active || message.sender == null) return;
    await tx.execute(
      `insert into "outbox" ("channel", "kind", "key", "payload", "due_at", "created_at") values ('push', 'message', ?, ?::jsonb, ?, ?) on conflict ("key") do nothing`,
      [`push:${message.id}`, JSON.stringify({ messageId: message.id, conversationId: refId(message.conversation), phase: 'send' }), new Date(), new Date()],
    );
    this.onQueued();
  }
}
