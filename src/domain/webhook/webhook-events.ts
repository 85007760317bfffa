import type { EntityManager } from '@mikro-orm/postgresql';
import type { MessageView } from '../shared/events';

/** The event types a webhook may subscribe to (issue 34; payloads in docs/webhooks.md). `[]` subscribes to all. */
export const WEBHOOK_EVENT_TYPES = [
  'message.created',
  'message.updated',
  'message.deleted',
  'conversation.created',
  'member.added',
  'member.removed',
  'user.deleted',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** A body is kept under 20 KB: past it, `data.content` is cut and `data.contentTruncated` set. */
export const WEBHOOK_MAX_BODY = 20 * 1024;

/** The body `{type, timestamp, data}` of one event, under {@link WEBHOOK_MAX_BODY} bytes. */
export function webhookBody(
  type: WebhookEventType,
  at: Date,
  data: Record<string, unknown>,
): { type: string; timestamp: string; data: Record<string, unknown> } {
  const body = { type, timestamp: at.toISOString(), data };
  let size = Buffer.byteLength(JSON.stringify(body));
  if (size <= WEBHOOK_MAX_BODY || typeof data.content !== 'string') return body;
  let content = data.content;
  while (size > WEBHOOK_MAX_BODY - 64 && content.length) {
    content = content.slice(0, Math.floor(content.length * 0.8));
    size = Buffer.byteLength(JSON.stringify({ ...body, data: { ...data, content } }));
  }
  return { ...body, data: { ...data, content, contentTruncated: true } };
}

/** One event to queue: its type, the key naming it (the same whoever writes it) and its body. */
export interface WebhookEvent {
  type: WebhookEventType;
  key: string;
  body: ReturnType<typeof webhookBody>;
}

/** The `data` of `message.updated` and `message.deleted` (docs/webhooks.md): the message as it now is. */
export function messageWebhookData(m: MessageView): Record<string, unknown> {
  return {
    id: m.id,
    conversationId: m.conversationId,
    seq: m.seq,
    senderId: m.senderId,
    kind: m.kind,
    content: m.content,
    replyToId: m.replyToId,
    threadRootId: m.threadRootId ?? null,
    createdAt: m.createdAt,
    editedAt: m.editedAt,
    deletedAt: m.deletedAt,
  };
}

/**
 * Writes one outbox row (channel `webhook`, kind `delivery`) per event and enabled endpoint
 * subscribed to its type, in `em`'s transaction, in one statement however many events (an account
 * deletion's thousands of erased messages), in `events`' order (row ids ascend with it). An
 * event's `key` identifies it: the row key is `webhook:<endpoint>:<key>` (unique, so an event is
 * never queued twice for one endpoint). Nothing is sent for `[]`.
 * @returns how many rows were written.
 */
export async function enqueueWebhookEvents(em: EntityManager, events: WebhookEvent[]): Promise<number> {
  if (!events.length) return 0;
  const now = new Date();
  const rows = await em.execute(
    `insert into "outbox" ("channel", "kind", "key", "target_id", "payload", "due_at", "created_at")
     select 'webhook', 'delivery', 'webhook:' || w."id" || ':' || (e.v->>'key'), w."id", e.v->'body', ?, ?
       from jsonb_array_elements(?::jsonb) with ordinality as e(v, n)
       join "webhooks" w on w."is_enabled" and (w."event_types" = '[]'::jsonb or w."event_types" @> jsonb_build_array(e.v->>'type'))
      order by e.n, w."id"
     on conflict ("key") do nothing returning "id"`,
    [now, now, JSON.stringify(events)],
  );
  return rows.length;
}
