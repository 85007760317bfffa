import type { EntityManager } from '@mikro-orm/postgresql';
import type { PushOutbox } from '../push/outbox';
import type { Scope } from '../shared/actor';
import { conflict, forbidden, notFound, parseId } from '../shared/errors';
import { checkOutboundUrl } from '../shared/outbound-url';
import { validate, z } from '../shared/validate';
import { newWebhookSecret } from './signing';
import { WEBHOOK_EVENT_TYPES } from './webhook-events';

/** Most webhooks a deployment may have (past it: CONFLICT). */
export const MAX_WEBHOOKS = 50;

/** A webhook endpoint as the contract shows it (type Webhook). */
export interface WebhookView {
  id: number;
  url: string;
  eventTypes: string[];
  isEnabled: boolean;
  createdAt: Date;
  lastSuccessAt: Date | null;
  lastFailureAt: Date | null;
  consecutiveFailures: number;
}

interface Row {
  id: number;
  url: string;
  event_types: string[];
  is_enabled: boolean;
  created_at: Date;
  last_success_at: Date | null;
  last_failure_at: Date | null;
  consecutive_failures: number;
}

const view = (r: Row): WebhookView => ({
  id: r.id,
  url: r.url,
  eventTypes: r.event_types,
  isEnabled: r.is_enabled,
  createdAt: new Date(r.created_at),
  lastSuccessAt: r.last_success_at && new Date(r.last_success_at),
  lastFailureAt: r.last_failure_at && new Date(r.last_failure_at),
  consecutiveFailures: r.consecutive_failures,
});

const COLUMNS = `"id", "url", "event_types", "is_enabled", "created_at", "last_success_at", "last_failure_at", "consecutive_failures"`;
const url = z.string().trim().min(1).max(2048);
const eventTypes = z
  .array(z.enum(WEBHOOK_EVENT_TYPES))
  .max(WEBHOOK_EVENT_TYPES.length)
  .transform((a) => [...new Set(a)]);

/**
 * Webhooks (issue 34, "Webhooks (staff)"; contract "Push notifications and webhooks"): staff
 * register endpoints that receive signed events (docs/webhooks.md). Every operation is staff only
 * (FORBIDDEN otherwise). A URL must be https:// and resolve only to public addresses
 * (BAD_USER_INPUT), checked here and again at every delivery; OUTBOUND_ALLOW_PRIVATE lifts it.
 * Keeps the send's outbox told whether any webhook is enabled.
 */
export class WebhookService {
  constructor(
    private readonly outbox: PushOutbox,
    private readonly options: { allowPrivate: boolean; secretOverlapSec: number },
  ) {}

  private staff(scope: Scope): void {
    if (!scope.actor.isStaff) throw forbidden('Webhooks are for staff only');
  }

  /** Re-reads whether any webhook is enabled (the outbox worker calls it every poll). */
  async refresh(em: EntityManager): Promise<void> {
    const [r] = await em.execute<{ on: boolean }[]>(`select exists (select 1 from "webhooks" where "is_enabled") as "on"`);
    this.outbox.webhooks = Boolean(r?.on);
  }

  /** Every webhook, oldest first. @throws FORBIDDEN for non-staff. */
  async list(scope: Scope): Promise<WebhookView[]> {
    this.staff(scope);
    const rows = await scope.em.execute<Row[]>(`select ${COLUMNS} from "webhooks" order by "id" limit ?`, [MAX_WEBHOOKS]);
    return rows.map(view);
  }

  /**
   * Registers an endpoint for `eventTypes` (`[]` = all) with a new secret, shown only in the answer.
   * @throws FORBIDDEN (non-staff), BAD_USER_INPUT (bad URL, refused address, unknown event type), CONFLICT past {@link MAX_WEBHOOKS}.
   */
  async create(scope: Scope, input: { url: string; eventTypes: string[] }): Promise<{ webhook: WebhookView; secret: string }> {
    this.staff(scope);
    const data = validate(z.object({ url, eventTypes }), input);
    await checkOutboundUrl(data.url, this.options.allowPrivate, 'url');
    const secret = newWebhookSecret();
    const [row] = await scope.em.execute<Row[]>(
      `insert into "webhooks" ("url", "event_types", "secret", "created_by_id", "created_at")
       select ?, ?::jsonb, ?, ?, ? where (select count(*) from "webhooks") < ? returning ${COLUMNS}`,
      [data.url, JSON.stringify(data.eventTypes), secret, scope.actor.id, new Date(), MAX_WEBHOOKS],
    );
    if (!row) throw conflict(`At most ${MAX_WEBHOOKS} webhooks: delete one first`);
    await this.refresh(scope.em);
    return { webhook: view(row), secret };
  }

  /**
   * Changes an endpoint's URL, event types or whether it is enabled (re-enabling clears consecutiveFailures).
   * @throws FORBIDDEN, NOT_FOUND, BAD_USER_INPUT as {@link create}.
   */
  async update(
    scope: Scope,
    id: string | number,
    input: { url?: string | null; eventTypes?: string[] | null; isEnabled?: boolean | null },
  ): Promise<WebhookView> {
    this.staff(scope);
    const key = parseId(id, 'id');
    const data = validate(z.object({ url: url.nullish(), eventTypes: eventTypes.nullish(), isEnabled: z.boolean().nullish() }), input);
    if (data.url != null) await checkOutboundUrl(data.url, this.options.allowPrivate, 'url');
    const [row] = await scope.em.execute<Row[]>(
      `update "webhooks" set "url" = coalesce(?, "url"), "event_types" = coalesce(?::jsonb, "event_types"),
              "consecutive_failures" = case when ? and not "is_enabled" then 0 else "consecutive_failures" end,
              "is_enabled" = coalesce(?, "is_enabled")
        where "id" = ? returning ${COLUMNS}`,
      [data.url ?? null, data.eventTypes ? JSON.stringify(data.eventTypes) : null, data.isEnabled === true, data.isEnabled ?? null, key],
    );
    if (!row) throw notFound('Webhook');
    await this.refresh(scope.em);
    return view(row);
  }

  /**
   * A new secret; the old one keeps signing (a second signature) for WEBHOOK_SECRET_OVERLAP_S.
   * @throws FORBIDDEN, NOT_FOUND.
   */
  async rotateSecret(scope: Scope, id: string | number): Promise<{ webhook: WebhookView; secret: string }> {
    this.staff(scope);
    const secret = newWebhookSecret();
    const [row] = await scope.em.execute<Row[]>(
      `update "webhooks" set "previous_secret" = "secret", "previous_until" = ?, "secret" = ? where "id" = ? returning ${COLUMNS}`,
      [new Date(Date.now() + this.options.secretOverlapSec * 1000), secret, parseId(id, 'id')],
    );
    if (!row) throw notFound('Webhook');
    return { webhook: view(row), secret };
  }

  /** Deletes an endpoint and its pending deliveries. @throws FORBIDDEN, NOT_FOUND. */
  async delete(scope: Scope, id: string | number): Promise<boolean> {
    this.staff(scope);
    const key = parseId(id, 'id');
    const gone = await scope.em.transactional(async (tx) => {
      const r = await tx.execute(`delete from "webhooks" where "id" = ? returning "id"`, [key]);
      if (r.length) await tx.execute(`delete from "outbox" where "channel" = 'webhook' and "target_id" = ? and "status" = 'PENDING'`, [key]);
      return r.length > 0;
    });
    if (!gone) throw notFound('Webhook');
    await this.refresh(scope.em);
    return true;
  }
}
