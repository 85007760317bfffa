import type { EntityManager } from '@mikro-orm/postgresql';
import { signWebhook } from '../domain/webhook/signing';
import type { OutboxHandler, OutboxRow, Outcome } from '../outbox/outbox-worker';
import { OutboundRefused, type OutboundHttpClient } from '../outbound/http-client';

/** Issue 34's retry schedule after each failed attempt (Standard Webhooks), at WEBHOOK_RETRY_BASE_MS = 5000. */
export const WEBHOOK_SCHEDULE_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 50_400_000, 72_000_000, 86_400_000];

interface EndpointRow {
  id: number;
  url: string;
  secret: string;
  previous_secret: string | null;
  previous_until: Date | null;
  is_enabled: boolean;
}

/** Records a failed delivery on the endpoint (and, for 410, disables it), in the transaction recording the row. */
const failure =
  (id: number, disable = false) =>
  async (tx: EntityManager) => {
    await tx.execute(
      `update "webhooks" set "last_failure_at" = ?, "consecutive_failures" = "consecutive_failures" + 1${disable ? `, "is_enabled" = false` : ''} where "id" = ?`,
      [new Date(), id],
    );
  };

/**
 * Delivers one `webhook:delivery` outbox row (issue 34, Standard Webhooks v1): POST of the row's
 * body `{type, timestamp, data}` with `webhook-id` (`msg_<row id>`: the same on every retry),
 * `webhook-timestamp` (seconds) and `webhook-signature` (`v1,<base64 HMAC-SHA256>` with the
 * current secret, plus the previous one during WEBHOOK_SECRET_OVERLAP_S after a rotation),
 * through the outbound client: SSRF guard at connect time, 10 s timeout, redirects not followed.
 * 2xx: delivered (lastSuccessAt, consecutiveFailures 0). 410: the endpoint is disabled. Anything
 * else (3xx, 4xx, 5xx, network errors, timeouts): retried on {@link WEBHOOK_SCHEDULE_MS} scaled by
 * WEBHOOK_RETRY_BASE_MS, with jitter; once the schedule is spent the row is FAILED and the
 * endpoint's consecutiveFailures counts it. A URL the SSRF rules refuse fails at once.
 */
export class WebhookDelivery implements OutboxHandler {
  readonly maxAttempts = WEBHOOK_SCHEDULE_MS.length + 1;

  constructor(
    private readonly http: OutboundHttpClient,
    private readonly retryBaseMs: number,
  ) {}

  /** The schedule's delay after attempt `attempts`, scaled by WEBHOOK_RETRY_BASE_MS / 5000, ±10 % jitter. */
  backoffMs(attempts: number): number {
    const base = WEBHOOK_SCHEDULE_MS[Math.min(attempts, WEBHOOK_SCHEDULE_MS.length) - 1] * (this.retryBaseMs / 5000);
    return Math.round(base * (0.9 + Math.random() * 0.2));
  }

  async handle(row: OutboxRow, em: EntityManager): Promise<Outcome> {
    const [hook] = await em.execute<EndpointRow[]>(
      `select "id", "url", "secret", "previous_secret", "previous_until", "is_enabled" from "webhooks" where "id" = ?`,
      [row.target_id],
    );
    if (!hook) return { done: true, note: 'webhook deleted meanwhile' };
    if (!hook.is_enabled) return { failed: 'webhook disabled' };
    const id = `msg_${row.id}`;
    const body = JSON.stringify(row.payload);
    const timestamp = Math.floor(Date.now() / 1000);
    const signatures = [signWebhook(hook.secret, id, timestamp, body)];
    if (hook.previous_secret && hook.previous_until && new Date(hook.previous_until).getTime() > Date.now())
      signatures.push(signWebhook(hook.previous_secret, id, timestamp, body));
    let status: number;
    try {
      const res = await this.http.send(hook.url, {
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': timestamp,
          'webhook-signature': signatures.join(' '),
          'user-agent': 'chat-webhooks/1',
        },
        body,
        timeoutMs: 10_000,
      });
      status = res.status;
    } catch (err) {
      if (err instanceof OutboundRefused) return { failed: `refused: ${err.message}`, also: failure(hook.id) };
      return this.retry(row, hook.id, (err as Error).message);
    }
    if (status >= 200 && status < 300)
      return {
        done: true,
        also: async (tx) =>
          void (await tx.execute(`update "webhooks" set "last_success_at" = ?, "consecutive_failures" = 0 where "id" = ?`, [new Date(), hook.id])),
      };
    if (status === 410) return { failed: 'endpoint answered 410: webhook disabled', also: failure(hook.id, true) };
    return this.retry(row, hook.id, `endpoint answered ${status}`);
  }

  /** Again later, or FAILED (counted on the endpoint) once the schedule is spent. */
  private retry(row: OutboxRow, hookId: number, why: string): Outcome {
    if (row.attempts >= this.maxAttempts) return { failed: `gave up after ${row.attempts} attempts: ${why}`, also: failure(hookId) };
    return { retry: why };
  }
}
