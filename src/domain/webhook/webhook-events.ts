import type { EntityManager } from '@mikro-orm/postgresql';

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

/**
 * Writes one outbox row (channel `webhook`, kind `delivery`) per enabled endpoint subscribed to
 * `type`, in `em`'s transaction, in one statement. `eventKey` identifies the event: the row key is
 * `webhook:<endpoint>:<eventKey>` (unique, so an event is never queued twice for one endpoint).
 * @returns how many rows were written.
 */
export async function enqueueWebhookEvent(em: EntityManager, type: WebhookEventType, eventKey: string, body: ReturnType<typeof webhookBody>): Promise<number> {
  const now = new Date();
  const rows = await em.execute(
    `insert into "outbox" ("channel", "kind", "key", "target_id", "payload", "due_at", "created_at")
     select 'webhook', 'delivery', 'webhook:' || w."id" || ':' || ?, w."id", ?::jsonb, ?, ?
       from "webhooks" w where w."is_enabled" and (w."event_types" = '[]'::jsonb or w."event_types" @> jsonb_build_array(?::text))
     on conflict ("key") do nothing returning "id"`,
    [eventKey, JSON.stringify(body), now, now, type],
  );
  return rows.length;
}
