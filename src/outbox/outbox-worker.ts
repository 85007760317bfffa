import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { OutboxChannel } from '../domain/push/outbox';

/** One claimed row of the `outbox` table (migration 20261207183000). */
export interface OutboxRow {
  id: string;
  channel: OutboxChannel;
  kind: string;
  key: string | null;
  target_id: number | null;
  payload: Record<string, unknown>;
  attempts: number;
  due_at: Date;
  locked_until: Date;
}

/**
 * What a handler made of a row: `done` (with `also`: writes committed in the same transaction as
 * the row's completion, e.g. the fan-out's delivery rows), `retry` (again at `at`, or by the
 * channel's backoff), or `failed` (never again).
 */
export type Outcome =
  | { done: true; also?: (tx: EntityManager) => Promise<void>; note?: string }
  | { retry: string; at?: Date | null }
  | { failed: string; also?: (tx: EntityManager) => Promise<void> };

/** Handles the rows of one channel and kind. */
export interface OutboxHandler {
  handle(row: OutboxRow, em: EntityManager): Promise<Outcome>;
  /** When attempt `attempts` (1 = the first) failed: the delay before the next, ms. */
  backoffMs(attempts: number): number;
  /** Attempts after which a row that keeps failing is FAILED (bounds the outbox). */
  maxAttempts: number;
}

/** Counters per channel (Metrics reads them at scrape time): rows queued by this instance, then outcomes of its attempts. */
export interface OutboxCounts {
  queued: number;
  delivered: number;
  retried: number;
  failed: number;
}

/** Options of {@link OutboxWorker} (OUTBOX_POLL_MS, OUTBOX_LEASE_MS, OUTBOX_RETENTION). */
export interface OutboxWorkerOptions {
  pollMs: number;
  leaseMs: number;
  retentionSec: number;
  /** Rows handled at once: 1 on PGlite (one connection), more on PostgreSQL. */
  concurrency: number;
}

const BATCH = 32;

/**
 * The outbox's worker (issue 34), one per instance: claims due rows with `FOR UPDATE SKIP LOCKED`
 * (instances never take the same row), marks them leased until `now + leaseMs` and counts the
 * attempt, hands each to its channel's handler outside any transaction (HTTP calls hold no
 * database connection), then records the outcome only while its lease still holds (`locked_until`
 * unchanged: a row taken over after a lease expired is not recorded twice). A killed instance's
 * rows are claimed again once their lease expires: at-least-once, the receivers de-duplicate by
 * the row's key. Finished rows are purged after `retentionSec`.
 */
export class OutboxWorker {
  private timer?: NodeJS.Timeout;
  private kickTimer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private lastPurge = 0;
  /** Counters per channel since start. */
  readonly counts = new Map<string, OutboxCounts>();

  constructor(
    private readonly rootEm: EntityManager,
    private readonly handlers: Map<string, OutboxHandler>,
    private readonly options: OutboxWorkerOptions,
    private readonly logger: Logger,
    /** Called before each pass (the webhooks' enabled flag is re-read). */
    private readonly beforePass?: () => Promise<void>,
    /** True when there can be no work (no push configured, no webhook enabled): the pass stops after beforePass, no statement. */
    private readonly idle?: () => boolean,
  ) {}

  /** Starts polling every `pollMs`. */
  start(): void {
    this.timer = setInterval(() => this.kick(0), this.options.pollMs);
    this.timer.unref();
    this.kick(0);
  }

  /** Looks for due rows after `delayMs` (a row was just queued: after its commit), sooner than the next poll. */
  kick(delayMs = 25): void {
    if (this.stopped) return;
    if (delayMs > 0) {
      if (!this.kickTimer) {
        this.kickTimer = setTimeout(() => {
          this.kickTimer = undefined;
          this.kick(0);
        }, delayMs);
        this.kickTimer.unref();
      }
      return;
    }
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop()
      .catch((err) => this.logger.warn({ err }, 'outbox worker: a pass failed; trying again at the next poll'))
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          this.kick(0);
        }
      });
  }

  /** Stops polling and waits for the pass under way (its rows are recorded, or taken over after their lease). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.kickTimer);
    await this.running;
  }

  /** The age in seconds of the oldest due row still pending (0 when none): a metric of how far behind delivery is. */
  async oldestDueAgeSec(): Promise<number> {
    const [row] = await this.rootEm
      .fork()
      .execute<{ due_at: Date | null }[]>(`select min("due_at") as "due_at" from "outbox" where "status" = 'PENDING' and "due_at" <= ?`, [new Date()]);
    return row?.due_at ? Math.max(0, (Date.now() - new Date(row.due_at).getTime()) / 1000) : 0;
  }

  private async loop(): Promise<void> {
    await this.beforePass?.();
    if (this.idle?.()) return;
    for (;;) {
      if (this.stopped) return;
      const rows = await this.claim();
      if (rows.length) await this.runAll(rows);
      if (rows.length < BATCH) break;
    }
    if (Date.now() - this.lastPurge > 60_000) {
      this.lastPurge = Date.now();
      const n = await this.purge();
      if (n) this.logger.info({ purged: n }, 'outbox: finished rows past OUTBOX_RETENTION purged');
    }
  }

  /** Claims up to BATCH due rows (pending, due, not leased or lease expired), oldest due first. */
  private async claim(): Promise<OutboxRow[]> {
    const now = new Date();
    const until = new Date(now.getTime() + this.options.leaseMs);
    return this.rootEm.fork().execute<OutboxRow[]>(
      `update "outbox" o set "locked_until" = ?, "attempts" = o."attempts" + 1
        where o."id" in (select "id" from "outbox" where "status" = 'PENDING' and "due_at" <= ? and ("locked_until" is null or "locked_until" < ?)
                          order by "due_at" limit ? for update skip locked)
        returning o.*`,
      [until, now, now, BATCH],
    );
  }

  private async runAll(rows: OutboxRow[]): Promise<void> {
    let next = 0;
    const lane = async () => {
      while (next < rows.length) await this.run(rows[next++]);
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, rows.length) }, lane));
  }

  /** Counts `n` rows of `channel` written to the outbox by this instance (a send's row, a fan-out's delivery rows). */
  queued(channel: OutboxChannel, n = 1): void {
    this.count(channel, 'queued', n);
  }

  private count(channel: string, what: keyof OutboxCounts, n = 1): void {
    let c = this.counts.get(channel);
    if (!c) this.counts.set(channel, (c = { queued: 0, delivered: 0, retried: 0, failed: 0 }));
    c[what] += n;
  }

  /** Handles one claimed row and records its outcome under its lease. */
  private async run(row: OutboxRow): Promise<void> {
    const handler = this.handlers.get(`${row.channel}:${row.kind}`);
    const em = this.rootEm.fork();
    let outcome: Outcome;
    if (!handler) outcome = { failed: `no handler for ${row.channel}:${row.kind}` };
    else {
      try {
        outcome = await handler.handle(row, em);
      } catch (err) {
        outcome = { retry: (err as Error).message ?? String(err) };
      }
    }
    if ('retry' in outcome && handler && row.attempts >= handler.maxAttempts) outcome = { failed: `gave up after ${row.attempts} attempts: ${outcome.retry}` };
    const lease = [row.id, row.locked_until];
    const fence = `"id" = ? and "locked_until" = ? and "status" = 'PENDING'`;
    try {
      if ('retry' in outcome) {
        const at = outcome.at ?? new Date(Date.now() + handler!.backoffMs(row.attempts));
        await em.execute(`update "outbox" set "due_at" = ?, "locked_until" = null, "last_error" = ? where ${fence}`, [
          at,
          outcome.retry.slice(0, 1000),
          ...lease,
        ]);
        this.count(row.channel, 'retried');
        return;
      }
      const status = 'done' in outcome ? 'DONE' : 'FAILED';
      const error = 'failed' in outcome ? outcome.failed : (outcome.note ?? null);
      const recorded = await em.transactional(async (tx) => {
        const n = await tx.execute(
          `update "outbox" set "status" = ?, "finished_at" = ?, "locked_until" = null, "last_error" = ? where ${fence} returning "id"`,
          [status, new Date(), error?.slice(0, 1000) ?? null, ...lease],
        );
        if (!n.length) return false;
        await outcome.also?.(tx);
        return true;
      });
      if (recorded) this.count(row.channel, status === 'DONE' ? 'delivered' : 'failed');
      if (status === 'FAILED') this.logger.warn({ outbox: row.id, channel: row.channel, kind: row.kind, error }, 'outbox: delivery failed for good');
    } catch (err) {
      this.logger.warn({ err, outbox: row.id }, 'outbox: outcome not recorded; the row is taken again after its lease');
    }
  }

  /** Deletes finished rows older than OUTBOX_RETENTION. @returns how many. */
  async purge(): Promise<number> {
    const cutoff = new Date(Date.now() - this.options.retentionSec * 1000);
    const r = await this.rootEm.fork().execute(`delete from "outbox" where "status" <> 'PENDING' and "finished_at" < ? returning "id"`, [cutoff]);
    return r.length;
  }
}
