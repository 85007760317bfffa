import type { ChildProcess } from 'node:child_process';
import { createECDH, randomBytes } from 'node:crypto';
import { Agent, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import webPush from 'web-push';
import { forkChild, stopChild } from '../children';
import { adminQuery, pct, postGraphql, timeConcurrent } from '../measure';
import type { HttpFixture, HttpServerStats, OutboxCounts } from '../http/protocol';

/**
 * What the transactional outbox costs a send (issue 34: "the outbox row must not double a send's
 * cost"). The same server (bench/http/server.ts `ours`, a process of its own) in three
 * configurations, measured in the same run, in turn (`BENCH_OUTBOX_ROUNDS`, default 2, of each,
 * every one a fresh server and database):
 * - `plain`: no push configured and no webhook: a send is one statement, no transaction;
 * - `outbox`: Web Push configured (VAPID keys), one webhook subscribed to every event, and the
 *   DIRECT chat's recipient with a Web Push device (offline, so each of its messages is pushed at
 *   once): each send also writes its `push` row and its `webhook` row in its transaction, and
 *   the server's outbox worker fans out and delivers them meanwhile, to a receiver in this process
 *   answering 201 (push) and 200 (webhooks);
 * - `rowsOnly`: as `outbox`, but this server's worker is held back while the sends are measured
 *   (OUTBOX_POLL_MS at its maximum, no wake-up after a queued row): the send's own cost of its
 *   rows, without the delivery work that competes with it for the same CPU and database (which a
 *   deployment can move to other instances).
 * Figures of each: `sendMessage` into the DIRECT chat, one after another (`BENCH_OUTBOX_SENDS`,
 * 500, after 50 unmeasured): median, p99, mean (ms), sends/s and SQL statements per send; then
 * `BENCH_SENDERS` (16) clients sending `BENCH_OUTBOX_CONCURRENT_SENDS` (3000) into
 * `BENCH_OUTBOX_CONVERSATIONS` (50) groups of 10 (nobody subscribed): sends/s, median and p99;
 * for `outbox`, how long after the last send the outbox was drained and what the receiver got;
 * for `rowsOnly`, the rows left undelivered.
 * The ratios outbox / plain are printed next to them. With DATABASE_URL each server gets a
 * database of its own created through it (`chat_bench_outbox_<pid>_<random>`, dropped after).
 */
export async function benchOutbox(): Promise<OutboxBenchResult> {
  const rounds = Number(process.env.BENCH_OUTBOX_ROUNDS ?? 2);
  const receiver = await startReceiver();
  try {
    const runs: Record<Mode, RunFigures[]> = { plain: [], rowsOnly: [], outbox: [] };
    for (let r = 0; r < rounds; r++) {
      for (const mode of MODES) {
        progress(`round ${r + 1} of ${rounds}: ${mode}`);
        const figures = await withDatabase((databaseUrl) => run(mode, receiver, databaseUrl));
        const seq = [...figures.sequential.times].sort((x, y) => x - y);
        progress(
          `${mode}: one after another median ${pct(seq, 50)} ms, p99 ${pct(seq, 99)} ms; concurrent ${Math.round(figures.concurrent.times.length / figures.concurrent.seconds)} sends/s`,
          figures.drained ? `; drained ${figures.drained.afterLastSendMs} ms after` : '',
        );
        runs[mode].push(figures);
      }
    }
    const summary = (mode: Mode) => {
      const xs = runs[mode];
      const seq = xs.flatMap((x) => x.sequential.times).sort((a, b) => a - b);
      const seqSeconds = xs.reduce((s, x) => s + x.sequential.seconds, 0);
      const conc = xs.flatMap((x) => x.concurrent.times).sort((a, b) => a - b);
      const concSeconds = xs.reduce((s, x) => s + x.concurrent.seconds, 0);
      return {
        sequential: {
          sends: seq.length,
          medianMs: pct(seq, 50),
          p99Ms: pct(seq, 99),
          meanMs: Number((seq.reduce((s, t) => s + t, 0) / seq.length).toFixed(2)),
          sendsPerSec: Math.round(seq.length / seqSeconds),
          sqlPerSend: Number((xs.reduce((s, x) => s + x.sequential.sqlPerSend, 0) / xs.length).toFixed(2)),
        },
        concurrent: {
          sends: conc.length,
          medianMs: pct(conc, 50),
          p99Ms: pct(conc, 99),
          sendsPerSec: Math.round(conc.length / concSeconds),
          errors: xs.reduce((s, x) => s + x.concurrent.errors, 0),
        },
        perRound: xs.map((x) => ({
          sequentialMedianMs: pct(
            [...x.sequential.times].sort((a, b) => a - b),
            50,
          ),
          concurrentSendsPerSec: Math.round(x.concurrent.times.length / x.concurrent.seconds),
          drained: x.drained,
          held: x.held,
        })),
      };
    };
    const plain = summary('plain');
    const rowsOnly = summary('rowsOnly');
    const outbox = summary('outbox');
    const ratio = (a: number, b: number) => Number((a / b).toFixed(2));
    const ratios = (x: Summary) => ({
      sequentialMedian: ratio(x.sequential.medianMs, plain.sequential.medianMs),
      sequentialP99: ratio(x.sequential.p99Ms, plain.sequential.p99Ms),
      sequentialMean: ratio(x.sequential.meanMs, plain.sequential.meanMs),
      concurrentMedian: ratio(x.concurrent.medianMs, plain.concurrent.medianMs),
      concurrentP99: ratio(x.concurrent.p99Ms, plain.concurrent.p99Ms),
      concurrentSendsPerSec: ratio(x.concurrent.sendsPerSec, plain.concurrent.sendsPerSec),
    });
    return {
      database: process.env.DATABASE_URL ? 'postgresql' : 'pglite',
      rounds,
      senders: Number(process.env.BENCH_SENDERS ?? 16),
      plain,
      rowsOnly,
      outbox,
      ratios: { outbox: ratios(outbox), rowsOnly: ratios(rowsOnly) },
      received: { webhooks: receiver.webhooks, pushes: receiver.pushes },
      target: "outbox / plain below 2 (the outbox row must not double a send's cost)",
    };
  } finally {
    await receiver.close();
  }
}

const MODES = ['plain', 'rowsOnly', 'outbox'] as const;
type Mode = (typeof MODES)[number];

/** One server's figures: raw send times (ms) kept for the percentiles over every round. */
interface RunFigures {
  sequential: { times: number[]; seconds: number; sqlPerSend: number };
  concurrent: { times: number[]; seconds: number; errors: number };
  /** `outbox` only: ms from the last send until no row was pending, and the rows by channel and status then. */
  drained: { afterLastSendMs: number; rows: OutboxCounts } | null;
  /** `rowsOnly` only: the rows written by the sends and left undelivered, by channel and status. */
  held: OutboxCounts | null;
}

/** The benchmark's figures (see benchOutbox). */
export type OutboxBenchResult = {
  database: string;
  rounds: number;
  senders: number;
  plain: Summary;
  rowsOnly: Summary;
  outbox: Summary;
  /** Each configuration's figures over `plain`'s. */
  ratios: Record<'outbox' | 'rowsOnly', Record<string, number>>;
  received: { webhooks: number; pushes: number };
  target: string;
};
type Summary = {
  sequential: { sends: number; medianMs: number; p99Ms: number; meanMs: number; sendsPerSec: number; sqlPerSend: number };
  concurrent: { sends: number; medianMs: number; p99Ms: number; sendsPerSec: number; errors: number };
  perRound: { sequentialMedianMs: number; concurrentSendsPerSec: number; drained: RunFigures['drained']; held: OutboxCounts | null }[];
};

/** The receiver: webhooks (POST /hook) answered 200, Web Push (POST /push/...) answered 201; counts both. */
async function startReceiver() {
  const counts = { webhooks: 0, pushes: 0 };
  const srv = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const push = (req.url ?? '').startsWith('/push/');
      if (push) counts.pushes++;
      else counts.webhooks++;
      res.writeHead(push ? 201 : 200).end();
    });
  });
  srv.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  return {
    base,
    get webhooks() {
      return counts.webhooks;
    },
    get pushes() {
      return counts.pushes;
    },
    close: () => {
      srv.closeAllConnections();
      return new Promise<void>((r) => srv.close(() => r()));
    },
  };
}
type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** Runs `fn` on a PostgreSQL database of its own when DATABASE_URL is set (created and dropped here), else with none (in-memory PGlite). */
async function withDatabase<T>(fn: (databaseUrl?: string) => Promise<T>): Promise<T> {
  const base = process.env.DATABASE_URL;
  if (!base) return fn();
  const name = `chat_bench_outbox_${process.pid}_${randomBytes(3).toString('hex')}`;
  const admin = (sql: string) => adminQuery(base, sql);
  await admin(`create database "${name}"`);
  const u = new URL(base);
  u.pathname = `/${name}`;
  try {
    return await fn(u.toString());
  } finally {
    await admin(`drop database if exists "${name}" with (force)`);
  }
}

async function run(mode: Mode, receiver: Receiver, databaseUrl?: string): Promise<RunFigures> {
  const n = Number(process.env.BENCH_OUTBOX_SENDS ?? 500);
  const sends = Number(process.env.BENCH_OUTBOX_CONCURRENT_SENDS ?? 3000);
  const senders = Number(process.env.BENCH_SENDERS ?? 16);
  const convs = Number(process.env.BENCH_OUTBOX_CONVERSATIONS ?? 50);
  const members = 10;
  const vapid = webPush.generateVAPIDKeys();
  const env: NodeJS.ProcessEnv = { ...process.env, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) };
  if (mode !== 'plain') {
    Object.assign(env, {
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
      VAPID_SUBJECT: 'mailto:bench@example.com',
      OUTBOUND_ALLOW_PRIVATE: 'true',
      PUSH_DELAY_MS: '0',
      ...(mode === 'rowsOnly' ? { OUTBOX_POLL_MS: '600000' } : {}),
    });
  } else {
    for (const k of ['VAPID_PUBLIC_KEY', 'VAPID_PRIVATE_KEY', 'VAPID_SUBJECT', 'FCM_PROJECT_ID', 'FCM_SERVICE_ACCOUNT_JSON']) delete env[k];
  }
  const ours = await forkChild<{ url: string; wsUrl: string }>(join(__dirname, '../http/server.js'), ['ours'], children, { env });
  try {
    const { url } = ours.info;
    const fx = await ours.ask<HttpFixture>({ cmd: 'fixture', conversations: convs, members });
    const { senderToken, recipientToken, conversationId: direct } = fx.direct;
    if (mode !== 'plain') {
      await ours.ask({ cmd: 'webhook', url: `${receiver.base}/hook` });
      if (mode === 'rowsOnly') await ours.ask({ cmd: 'holdDelivery' });
      // The recipient's browser: a Web Push subscription (P-256 key and auth secret made here) at the receiver.
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      await post(
        url,
        {
          query: 'mutation($i: RegisterPushDeviceInput!) { registerPushDevice(input: $i) { id } }',
          variables: {
            i: {
              platform: 'WEB_PUSH',
              webPush: {
                endpoint: `${receiver.base}/push/${randomBytes(4).toString('hex')}`,
                p256dh: ecdh.getPublicKey('base64url'),
                auth: randomBytes(16).toString('base64url'),
              },
            },
          },
        },
        recipientToken,
      );
    }
    let i = 0;
    const sendDirect = () =>
      post(
        url,
        {
          query: 'mutation($c: ID, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id } }',
          variables: { c: direct, t: `direct ${i++}` },
        },
        senderToken,
      );
    for (let k = 0; k < 50; k++) await sendDirect(); // warm-up
    await ours.ask({ cmd: 'resetCounters' });
    const seqTimes: number[] = [];
    const s0 = performance.now();
    for (let k = 0; k < n; k++) {
      const t = performance.now();
      await sendDirect();
      seqTimes.push(performance.now() - t);
    }
    const seqSeconds = (performance.now() - s0) / 1000;
    const { sql } = await ours.ask<HttpServerStats>({ cmd: 'stats' });

    const sendTo = (k: number) =>
      post(
        url,
        {
          query: 'mutation($c: ID, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id } }',
          variables: { c: fx.conversationIds[k % convs], t: `c${k}` },
        },
        fx.tokens[k % convs][Math.floor(k / convs) % members],
      );
    await concurrent(senders, 200, sendTo); // warm-up
    const conc = await concurrent(senders, sends, sendTo);
    let drained: RunFigures['drained'] = null;
    if (mode === 'outbox') {
      const t0 = performance.now();
      for (;;) {
        const rows = await ours.ask<OutboxCounts>({ cmd: 'outbox' });
        if (!Object.values(rows).some((byStatus) => byStatus.PENDING)) {
          drained = { afterLastSendMs: Math.round(performance.now() - t0), rows };
          break;
        }
        if (performance.now() - t0 > 300_000) throw new Error(`the outbox did not drain: ${JSON.stringify(rows)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return {
      sequential: { times: seqTimes, seconds: seqSeconds, sqlPerSend: Number((sql / n).toFixed(2)) },
      concurrent: conc,
      drained,
      held: mode === 'rowsOnly' ? await ours.ask<OutboxCounts>({ cmd: 'outbox' }) : null,
    };
  } finally {
    await stopChild(ours.proc);
  }
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});
const progress = (...parts: unknown[]) => console.error(`[bench outbox ${new Date().toISOString().slice(11, 19)}]`, ...parts);

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** POSTs a GraphQL request over this bench's agent; answers its `data` (measure.ts postGraphql). */
const post = (url: string, body: object, token?: string) => postGraphql(agent, url, body, token);

const concurrent = timeConcurrent;
