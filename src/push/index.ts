import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Config } from '../config/config';
import { OutboundHttpClient } from '../outbound/http-client';
import { OutboxWorker, type OutboxHandler } from '../outbox/outbox-worker';
import type { Services } from '../services';
import { PushDelivery } from './push-delivery';
import { PushFanout } from './push-fanout';
import { WebhookDelivery } from '../webhook/webhook-delivery';

/** Without push configured, how often an instance re-reads whether any webhook is enabled (ms). */
const WEBHOOK_REFRESH_MS = 60_000;

/**
 * Starts outbox delivery (issue 34; docs/push.md, docs/webhooks.md): the outbox worker of this
 * instance with the webhook handler, and the push handlers (fan-out, then one delivery per device)
 * when push is configured, woken after each queued row (every row, push or webhook, is written in
 * the transaction of the change causing it: src/domain/push/outbox.ts). Says once at start
 * whether push is configured: without it, nothing is queued for push. Warns when
 * OUTBOUND_ALLOW_PRIVATE is set in production.
 */
export function startPush(config: Config, services: Services, rootEm: EntityManager, logger: Logger): OutboxWorker {
  if (config.outboundAllowPrivate && config.nodeEnv === 'production') {
    logger.warn('OUTBOUND_ALLOW_PRIVATE=true in production: Web Push endpoints and webhooks may reach private and loopback addresses and use http://');
  }
  const push = config.push;
  const http = new OutboundHttpClient(config.outboundAllowPrivate);
  const handlers = new Map<string, OutboxHandler>([['webhook:delivery', new WebhookDelivery(http, config.webhooks.retryBaseMs)]]);
  const fanout = push ? new PushFanout(push, services.presence) : null;
  if (push && fanout) {
    handlers.set('push:message', fanout);
    handlers.set('push:delivery', new PushDelivery(push, http));
  }
  let lastRefresh = 0;
  const worker = new OutboxWorker(
    rootEm,
    handlers,
    { pollMs: config.outbox.pollMs, leaseMs: config.outbox.leaseMs, retentionSec: config.outbox.retentionSec, concurrency: config.databaseUrl ? 8 : 1 },
    logger,
    // Webhooks enabled or disabled on another instance reach this one's sends within a poll with
    // push configured (the worker queries every poll anyway), within WEBHOOK_REFRESH_MS without:
    // an idle server without push or webhooks then costs one statement a minute.
    async () => {
      if (!push && Date.now() - lastRefresh < WEBHOOK_REFRESH_MS) return;
      lastRefresh = Date.now();
      await services.webhooks.refresh(rootEm.fork());
    },
    () => !push && !services.pushOutbox.webhooks,
  );
  services.pushOutbox.onQueued = (channel, rows) => {
    worker.queued(channel, rows);
    worker.kick();
  };
  if (fanout) fanout.onQueued = (rows) => worker.queued('push', rows);
  worker.start();
  if (!push) logger.info('push notifications are not configured (no VAPID_* keys, no FCM_PROJECT_ID): nothing is queued for push');
  else
    logger.info(
      { webPush: Boolean(push.webPush), fcm: Boolean(push.fcm), delayMs: push.delayMs, content: push.content },
      "push notifications: queued in the outbox of each send, delivered by this instance's worker",
    );
  return worker;
}
