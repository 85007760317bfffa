import type { ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { adminQuery, latencies, pct, type Latencies as BaseLatencies } from '../measure';
import { forkChild, stopChild } from '../children';
import type { BigGroupFixture, HttpServerStats } from '../http/protocol';

/**
 * The heavy-neighbour scenario (issue 27, section 1): one account keeps BENCH_HEAVY_CONCURRENCY
 * (32) heavy requests running for BENCH_HEAVY_SECONDS (10) s, each
 * `{ a0..a14: conversation(id: G) { members(first: 100) { user { id username fullName } } } }`
 * on a GROUP of 1001 members, from a separate load process (load.ts), while this process probes
 * every 20 ms: another user's `{ me { id } }` and GET /healthz, each on its own timer without
 * waiting for the last answer. Target: both within 100 ms p99. Measured in the same run next to
 * two anchors: the same probes on the same server with no heavy load, and on a bare node:http
 * server answering after one `select 1` (bench/http/server.ts `anchor`). Reports p50/p95/p99 (ms)
 * of each, the heavy requests served and refused (RATE_LIMITED), and the ratios of the p99s.
 * With DATABASE_URL the server runs on a database of its own created through it
 * (`chat_bench_heavy_<pid>_<random>`, dropped at the end); else on in-memory PGlite.
 */
export async function benchHeavyNeighbour(): Promise<HeavyNeighbourResult> {
  const base = process.env.DATABASE_URL;
  if (!base) return run();
  const name = `chat_bench_heavy_${process.pid}_${randomBytes(3).toString('hex')}`;
  const admin = (sql: string) => adminQuery(base, sql);
  await admin(`create database "${name}"`);
  const u = new URL(base);
  u.pathname = `/${name}`;
  try {
    return await run(u.toString());
  } finally {
    await admin(`drop database if exists "${name}" with (force)`);
  }
}

/** The scenario's figures (see benchHeavyNeighbour). */
export type HeavyNeighbourResult = Awaited<ReturnType<typeof run>>;

async function run(databaseUrl?: string) {
  const seconds = Number(process.env.BENCH_HEAVY_SECONDS ?? 10);
  const concurrency = Number(process.env.BENCH_HEAVY_CONCURRENCY ?? 32);
  // BENCH_HEAVY_RETRY=honour: the heavy client waits a refusal's retryAfter before its next request (default: it does not).
  const honourRetry = process.env.BENCH_HEAVY_RETRY === 'honour';
  const ms = seconds * 1000;

  progress('anchor: node:http + one select 1');
  const anchor = await child('../http/server.js', ['anchor'], databaseUrl);
  const anchorProbes = [{ name: 'selectOne', url: anchor.info.url, body: JSON.stringify({ query: '{ one }' }) }];
  await warm(anchorProbes); // PGlite in the anchor is still starting when its server listens
  const anchorProbe = await probe(ms, anchorProbes);
  await stopChild(anchor.proc);

  progress('ours: a group of 1001 members');
  const ours = await child('../http/server.js', ['ours'], databaseUrl);
  const url = ours.info.url;
  const healthz = url.replace(/\/graphql$/, '/healthz');
  const fx = await ours.ask<BigGroupFixture>({ cmd: 'bigGroup', extra: 1000 });
  const heavyQuery = `{ ${Array.from({ length: 15 }, (_, i) => `a${i}: conversation(id: ${JSON.stringify(fx.groupId)}) { members(first: 100) { user { id username fullName } } }`).join(' ')} }`;
  const probes = [
    { name: 'me', url, body: JSON.stringify({ query: '{ me { id } }' }), token: fx.bystanderToken },
    { name: 'healthz', url: healthz },
  ];
  await warm(probes);
  // One heavy request alone (after a warm-up): what each of the 32 costs.
  const one = await roundTrip(url, JSON.stringify({ query: heavyQuery }), fx.heavyToken);
  const oneJson = JSON.parse(one.text) as { data?: Record<string, { members: unknown[] }>; errors?: unknown };
  if (oneJson.errors || oneJson.data?.a0.members.length !== 100) throw new Error(`heavy request failed: ${one.text.slice(0, 300)}`);
  const alone: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await roundTrip(url, JSON.stringify({ query: heavyQuery }), fx.heavyToken);
    alone.push(performance.now() - t);
  }
  alone.sort((a, b) => a - b);

  progress(`ours, no heavy load: probes every 20 ms for ${seconds} s`);
  const server = async (
    phase: () => Promise<Record<string, Latencies>>,
  ): Promise<{ me: Latencies; healthz: Latencies; server: { cpuShare: number; loopDelayMs?: { p50: number; p99: number; max: number } } }> => {
    await ours.ask({ cmd: 'resetCounters' });
    const before = await ours.ask<HttpServerStats>({ cmd: 'stats' });
    const t0 = performance.now();
    const latencies = await phase();
    const after = await ours.ask<HttpServerStats>({ cmd: 'stats' });
    // The server's CPU (user + system) over the phase's wall time: 1 is one core all the time.
    const serverCpuShare = Number(((after.cpuMicros - before.cpuMicros) / 1000 / (performance.now() - t0)).toFixed(2));
    return { me: latencies.me, healthz: latencies.healthz, server: { cpuShare: serverCpuShare, loopDelayMs: after.loopDelayMs } };
  };
  const quiet = await server(() => probe(ms, probes));
  progress(`ours, ${concurrency} heavy requests from one account for ${seconds} s`);
  await ours.ask({ cmd: 'profileStart', label: 'heavy' });
  const load = await child('load.js', []);
  await load.ask({ cmd: 'start', url, token: fx.heavyToken, query: heavyQuery, concurrency, honourRetry });
  let heavy!: { served: number; refused: number; failed: number; firstFailure: string; medianServedMs: number | null };
  const loaded = await server(async () => {
    const r = await probe(ms, probes);
    heavy = await load.ask<{ served: number; refused: number; failed: number; firstFailure: string; medianServedMs: number | null }>({ cmd: 'stop' });
    return r;
  });
  await ours.ask({ cmd: 'profileStop', label: 'heavy' });
  await stopChild(ours.proc);

  const ratio = (a: number, b: number) => Number((a / b).toFixed(2));
  return {
    database: databaseUrl ? 'postgresql' : 'pglite',
    seconds,
    concurrency,
    heavyClient: honourRetry ? 'waits retryAfter after a refusal' : 'resends at once after a refusal',
    groupMembers: 1001,
    heavyQuery: '15 aliases of conversation(id: G) { members(first: 100) { user { id username fullName } } }',
    oneHeavyAloneMs: { median: pct(alone, 50), max: pct(alone, 100) },
    heavy: { ...heavy, servedPerSec: Number((heavy.served / seconds).toFixed(1)) },
    anchorNodeHttpSelectOne: anchorProbe.selectOne,
    noHeavyLoad: quiet,
    underHeavyLoad: loaded,
    p99Ratios: {
      meLoadedToQuiet: ratio(loaded.me.p99, quiet.me.p99),
      healthzLoadedToQuiet: ratio(loaded.healthz.p99, quiet.healthz.p99),
      meLoadedToAnchor: ratio(loaded.me.p99, anchorProbe.selectOne.p99),
      healthzLoadedToAnchor: ratio(loaded.healthz.p99, anchorProbe.selectOne.p99),
    },
    target: 'p99 of me and healthz under heavy load <= 100 ms',
    met: loaded.me.p99 <= 100 && loaded.healthz.p99 <= 100,
  };
}

interface Probe {
  name: string;
  url: string;
  body?: string;
  token?: string;
}

/** 20 unmeasured rounds of the probes, one after another: connections open, caches and the database warm. */
async function warm(probes: Probe[]): Promise<void> {
  for (let i = 0; i < 20; i++) for (const p of probes) await roundTrip(p.url, p.body, p.token);
}
interface Latencies extends BaseLatencies {
  errors: number;
}

/** Each probe sent every 20 ms for `ms` (not waiting for the last answer); latency percentiles in ms. */
async function probe(ms: number, probes: Probe[]): Promise<Record<string, Latencies>> {
  const times = probes.map(() => [] as number[]);
  const errors = probes.map(() => 0);
  const pending: Promise<void>[] = [];
  const timer = setInterval(() => {
    probes.forEach((p, k) => {
      const t = performance.now();
      pending.push(
        roundTrip(p.url, p.body, p.token).then(
          (r) => {
            if (r.status !== 200 || r.text.includes('"errors"')) errors[k]++;
            else times[k].push(performance.now() - t);
          },
          () => {
            errors[k]++;
          },
        ),
      );
    });
  }, 20);
  await new Promise((r) => setTimeout(r, ms));
  clearInterval(timer);
  await Promise.all(pending);
  return Object.fromEntries(
    probes.map((p, k) => {
      return [p.name, { ...latencies(times[k]), errors: errors[k] }];
    }),
  );
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function roundTrip(url: string, body?: string, token?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = body ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {};
    if (token) headers.authorization = `Bearer ${token}`;
    const req = request(url, { method: body ? 'POST' : 'GET', agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const progress = (...parts: unknown[]) => console.error(`[bench heavy ${new Date().toISOString().slice(11, 19)}]`, ...parts);
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Forks a child (BENCH_SERVER_NODE_FLAGS go to server children); `ask` sends a command and resolves with the next answer. */
function child(script: string, args: string[], databaseUrl?: string) {
  const extra = script.endsWith('server.js') ? (process.env.BENCH_SERVER_NODE_FLAGS ?? '').split(' ').filter(Boolean) : [];
  return forkChild(join(__dirname, script), args, children, {
    env: { ...process.env, DATABASE_URL: databaseUrl ?? '' },
    execArgv: ['--expose-gc', '--max-old-space-size=4096', ...extra],
  });
}
