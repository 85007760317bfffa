import { timingSafeEqual } from 'node:crypto';
import type { ApolloServerPlugin } from '@apollo/server';
import type { NextFunction, Request, Response } from 'express';
import { Kind, type OperationDefinitionNode } from 'graphql';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DomainEvent, DomainEventType } from '../domain/shared/events';
import type { EventBus } from '../realtime/state/event-bus';

/** What the gauges read when Prometheus scrapes (each a cheap read of the instance's state). */
export interface MetricSources {
  /** Open WebSocket connections. */
  sockets(): number;
  /** Subscriptions registered with the delivery hub. */
  subscriptions(): number;
  /** Frames written by the delivery hub since start. */
  deliveredFrames(): number;
  /** Whether the bus between instances is up (always true without Redis). */
  busHealthy(): boolean;
  /** The database pool (PostgreSQL); absent on PGlite (one connection, no pool). */
  pool?(): { used: number; free: number; pending: number } | null;
  /** Refusals per rate limit since start. */
  rateLimitRefusals?(): ReadonlyMap<string, number>;
  /** Password verifications (argon2) completed since start, by the hash's parameters (`argon2id m=19456 t=2 p=1`). */
  passwordVerifications?(): ReadonlyMap<string, number>;
  /** The outbox worker of this instance (issue 34); null when none runs (no push configured). */
  outbox?(): OutboxSource | null;
}

/** What the outbox worker (src/outbox/outbox-worker.ts) tells the metrics. */
export interface OutboxSource {
  /** Per channel since start: rows queued by this instance, and the outcomes of its attempts. */
  readonly counts: ReadonlyMap<string, Readonly<Record<'queued' | 'delivered' | 'retried' | 'failed', number>>>;
  /** The age in seconds of the oldest pending row that is due (0 when none). */
  oldestDueAgeSec(): Promise<number>;
}

/** Distinct GraphQL operation names kept as label values; past it (or for odd names), "other" (a client chooses names: bounded cardinality). */
const MAX_OPERATION_NAMES = 200;
const OPERATION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/**
 * Prometheus metrics of one instance (issue 15), on a registry of its own (several servers in one
 * process, as in tests, do not mix): HTTP requests by route and status with durations, GraphQL
 * operations by name, type and outcome with durations, open sockets, active subscriptions,
 * events published (by type) and frames delivered, delivery latency of new messages (commit to
 * fan-out on this instance, seconds), bus health, database pool use, rate-limit refusals, and
 * Node's process metrics (`collectDefaultMetrics`).
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  private readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  private readonly operations: Counter<'operation' | 'type' | 'outcome'>;
  private readonly operationDuration: Histogram<'operation' | 'type'>;
  private readonly published: Counter<'type'>;
  private readonly deliveryLatency: Histogram;
  private readonly operationNames = new Set<string>();

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.httpRequests = new Counter({
      name: 'chat_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'chat_http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'route', 'status'],
      registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    });
    this.operations = new Counter({
      name: 'chat_graphql_operations_total',
      help: 'GraphQL operations over HTTP by name, type and outcome (ok, error)',
      labelNames: ['operation', 'type', 'outcome'],
      registers,
    });
    this.operationDuration = new Histogram({
      name: 'chat_graphql_operation_duration_seconds',
      help: 'GraphQL operation duration over HTTP',
      labelNames: ['operation', 'type'],
      registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    });
    this.published = new Counter({
      name: 'chat_events_published_total',
      help: 'Domain events published by this instance, by type',
      labelNames: ['type'],
      registers,
    });
    this.deliveryLatency = new Histogram({
      name: 'chat_delivery_latency_seconds',
      help: 'New messages: from the commit to their fan-out on this instance (includes the bus between instances)',
      registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
    new Gauge({
      name: 'chat_ws_open_sockets',
      help: 'Open WebSocket connections',
      registers,
      collect() {
        this.set(sources.sockets());
      },
    });
    new Gauge({
      name: 'chat_ws_active_subscriptions',
      help: 'Subscriptions registered with the delivery hub',
      registers,
      collect() {
        this.set(sources.subscriptions());
      },
    });
    new Gauge({
      name: 'chat_events_delivered_frames',
      help: 'Frames written to sockets by the delivery hub since start (a counter read at scrape)',
      registers,
      collect() {
        this.set(sources.deliveredFrames());
      },
    });
    new Gauge({
      name: 'chat_bus_healthy',
      help: '1 while the event bus between instances is up',
      registers,
      collect() {
        this.set(sources.busHealthy() ? 1 : 0);
      },
    });
    if (sources.pool) {
      const pool = sources.pool;
      new Gauge({
        name: 'chat_db_pool_connections',
        help: 'Database pool connections by state (used, free, pending acquires)',
        labelNames: ['state'],
        registers,
        collect() {
          const p = pool();
          if (!p) return;
          this.set({ state: 'used' }, p.used);
          this.set({ state: 'free' }, p.free);
          this.set({ state: 'pending' }, p.pending);
        },
      });
    }
    if (sources.rateLimitRefusals) {
      const refusals = sources.rateLimitRefusals;
      new Gauge({
        name: 'chat_rate_limit_refusals',
        help: 'Requests refused by each rate limit since start (a counter read at scrape)',
        labelNames: ['limit'],
        registers,
        collect() {
          for (const [limit, n] of refusals()) this.set({ limit }, n);
        },
      });
    }
    if (sources.passwordVerifications) {
      const verifications = sources.passwordVerifications;
      // Logins of unknown usernames verify a dummy hash: they count here like wrong passwords (same work, no enumeration by timing).
      new Gauge({
        name: 'chat_password_verifications',
        help: 'Password verifications (argon2) completed since start, by the parameters of the hash verified (a counter read at scrape)',
        labelNames: ['work'],
        registers,
        collect() {
          for (const [work, n] of verifications()) this.set({ work }, n);
        },
      });
    }
    if (sources.outbox) this.outboxMetrics(sources.outbox, registers);
  }

  /**
   * The outbox (issue 34): counters per channel of rows queued, delivered, retried and failed by
   * this instance (each brought up to the worker's count at scrape), and the oldest due row's age
   * (one indexed query at scrape; the table is shared, so every instance reports the same age).
   */
  private outboxMetrics(source: () => OutboxSource | null, registers: Registry[]): void {
    for (const what of ['queued', 'delivered', 'retried', 'failed'] as const) {
      const seen = new Map<string, number>();
      new Counter({
        name: `chat_outbox_${what}_total`,
        help: {
          queued: 'Outbox rows written by this instance, by channel (a send, a fan-out to devices)',
          delivered: 'Outbox rows delivered by this instance, by channel',
          retried: 'Outbox attempts that failed and were scheduled again, by channel',
          failed: 'Outbox rows given up for good (refused, gone, or attempts spent), by channel',
        }[what],
        labelNames: ['channel'],
        registers,
        collect() {
          for (const [channel, c] of source()?.counts ?? []) {
            const delta = c[what] - (seen.get(channel) ?? 0);
            if (delta > 0) this.inc({ channel }, delta);
            seen.set(channel, c[what]);
          }
        },
      });
    }
    new Gauge({
      name: 'chat_outbox_oldest_due_age_seconds',
      help: 'Age of the oldest outbox row that is due and not yet delivered (0 when none): how far behind delivery is',
      registers,
      async collect() {
        const worker = source();
        if (worker) this.set(await worker.oldestDueAgeSec());
      },
    });
  }

  /** Counts one event published by this instance. */
  eventPublished(type: DomainEventType): void {
    this.published.inc({ type });
  }

  /** Observes the delivery latency of an event as it fans out (new messages only: they carry their commit time). */
  eventDispatched(e: DomainEvent): void {
    if (e.type !== 'message.added') return;
    const ms = Date.now() - Date.parse(e.message.createdAt);
    if (Number.isFinite(ms) && ms >= 0) this.deliveryLatency.observe(ms / 1000);
  }

  /**
   * Express middleware: times every request and counts it by method, route pattern (the
   * matched route, e.g. `/api/chat/rooms/:id/`, never the raw URL: bounded labels) and status.
   */
  http() {
    return (req: Request, res: Response, next: NextFunction): void => {
      const started = process.hrtime.bigint();
      res.once('finish', () => {
        const route = req.route?.path
          ? `${req.baseUrl}${String(req.route.path)}`
          : req.baseUrl || (res.statusCode === 404 ? 'unmatched' : req.path.split('/').slice(0, 2).join('/') || '/');
        const labels = { method: req.method, route, status: String(res.statusCode) };
        this.httpRequests.inc(labels);
        this.httpDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
      });
      next();
    };
  }

  /** Apollo Server plugin: counts and times each operation by name, type (query, mutation) and outcome. */
  apolloPlugin(): ApolloServerPlugin {
    return {
      requestDidStart: async () => {
        const started = process.hrtime.bigint();
        return {
          willSendResponse: async (rc) => {
            // A document that failed validation has no resolved operation: its first definition names it.
            const first = rc.document?.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
            const operation = this.operationLabel(rc.operationName ?? rc.request.operationName ?? first?.name?.value);
            const type = rc.operation?.operation ?? first?.operation ?? 'unknown';
            const outcome = rc.errors?.length || (rc.response.body.kind === 'single' && rc.response.body.singleResult.errors?.length) ? 'error' : 'ok';
            this.operations.inc({ operation, type, outcome });
            this.operationDuration.observe({ operation, type }, Number(process.hrtime.bigint() - started) / 1e9);
          },
        };
      },
    };
  }

  /**
   * GET /metrics in Prometheus's text format. With `token`, only `Authorization: Bearer <token>`
   * (compared in constant time) gets it; others get 401.
   */
  handler(token?: string) {
    const expected = token ? Buffer.from(`Bearer ${token}`) : null;
    return async (req: Request, res: Response): Promise<void> => {
      if (expected) {
        const given = Buffer.from(String(req.headers.authorization ?? ''));
        if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
          res.status(401).set('www-authenticate', 'Bearer').json({ error: 'A valid METRICS_TOKEN is required' });
          return;
        }
      }
      res
        .set('content-type', this.registry.contentType)
        .set('cache-control', 'no-store')
        .send(await this.registry.metrics());
    };
  }

  private operationLabel(name: string | null | undefined): string {
    if (!name) return 'anonymous';
    if (!OPERATION_NAME.test(name)) return 'other';
    if (this.operationNames.has(name)) return name;
    if (this.operationNames.size >= MAX_OPERATION_NAMES) return 'other';
    this.operationNames.add(name);
    return name;
  }
}

/** The bus, counting what this instance publishes (everything else passes through). */
export function meteredBus(bus: EventBus, metrics: Metrics): EventBus {
  return {
    publish: (e) => {
      metrics.eventPublished(e.type);
      bus.publish(e);
    },
    on: (type, handler, key) => bus.on(type, handler, key),
    healthy: () => bus.healthy(),
    onResync: (handler) => bus.onResync(handler),
    close: () => bus.close(),
  };
}
