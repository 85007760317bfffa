import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Config } from '../config/config';
import { OutboundHttpClient } from '../outbound/http-client';
import { OutboxWorker, type OutboxHandler } from '../outbox/outbox-worker';
import type { Services } from '../services';
import { PushDelivery } from './push-delivery';
import { PushFanout } from './push-fanout';

/**
 * Starts push delivery (issue 34; docs/push.md): the outbox worker of this instance with the push
 * handlers (fan-out, then one delivery per device), woken after each queued send. Says once at
 * start what is configured: with no push, nothing is queued and no worker runs (null). Warns when
 * OUTBOUND_ALLOW_PRIVATE is set in production.
 */
export function startPush(config: Config, services: Services, rootEm: EntityManager, logger: Logger): OutboxWorker | null {
  if (config.outboundAllowPrivate && config.nodeEnv === 'production') {
    logger.warn('OUTBOUND_ALLOW_PRIVATE=true in production: Web Push endpoints (and webhooks) may reach private and loopback addresses and use http://');
  }
  const push = config.push;
  if (!push) {
    logger.info('push notifications are not configured (no VAPID_* keys, no FCM_PROJECT_ID): nothing is queued');
    return null;
  }
  const http = new OutboundHttpClient(config.outboundAllowPrivate);
  const fanout = new PushFanout(push, services.presence);
  const handlers = new Map<string, OutboxHandler>([
    ['push:message', fanout],
    ['push:delivery', new PushDelivery(push, http)],
  ]);
  const worker = new OutboxWorker(
    rootEm,
    handlers,
    { pollMs: config.outbox.pollMs, leaseMs: config.outbox.leaseMs, retentionSec: config.outbox.retentionSec, concurrency: config.databaseUrl ? 8 : 1 },
    logger,
  );
  services.pushOutbox.onQueued = () => {
    worker.queued('push');
    worker.kick();
  };
  fanout.onQueued = (rows) => worker.queued('push', rows);
  worker.start();
  logger.info(
    { webPush: Boolean(push.webPush), fcm: Boolean(push.fcm), delayMs: push.delayMs, content: push.content },
    "push notifications: queued in the outbox of each send, delivered by this instance's worker",
  );
  return worker;
}
