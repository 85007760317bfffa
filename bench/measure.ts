import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import { Client } from 'pg';

/** The `p`th percentile (0..100) of `sorted` (ascending), to 2 decimals; NaN when empty. */
export const pct = (sorted: number[], p: number): number =>
  sorted.length ? Number(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))].toFixed(2)) : NaN;

/** Latency percentiles of a set of requests, ms, and how many there were. */
export interface Latencies {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  requests: number;
}

/** The {@link Latencies} of `times` (ms, any order). */
export function latencies(times: number[]): Latencies {
  const s = [...times].sort((a, b) => a - b);
  return { p50: pct(s, 50), p95: pct(s, 95), p99: pct(s, 99), max: pct(s, 100), requests: s.length };
}

/** Runs `fn` `count` times one after another, after `warm` unmeasured runs: each run's time in ms, ascending. */
export async function timeSequential(count: number, fn: () => Promise<unknown>, warm: number): Promise<number[]> {
  for (let i = 0; i < warm; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b);
}

/** Runs one statement on the PostgreSQL at `url` with a connection of its own (create or drop a bench database). */
export async function adminQuery(url: string, sql: string): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/**
 * `total` calls of `fn(k, client)` from `clients` concurrent loops (`k` counts calls from 0,
 * `client` is the loop making it, 0 to clients - 1): each call's time (ms, ascending), the wall
 * time (s) and how many threw (the first error is printed).
 */
export async function timeConcurrent(
  clients: number,
  total: number,
  fn: (k: number, client: number) => Promise<unknown>,
): Promise<{ times: number[]; seconds: number; errors: number }> {
  let next = 0;
  let errors = 0;
  const times: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      while (next < total) {
        const k = next++;
        const t = performance.now();
        try {
          await fn(k, client);
        } catch (err) {
          if (errors++ === 0) console.error(err);
        }
        times.push(performance.now() - t);
      }
    }),
  );
  return { times: times.sort((a, b) => a - b), seconds: (performance.now() - t0) / 1000, errors };
}

/**
 * One GraphQL POST over `agent` (keep-alive: node:http is a lighter client than fetch, so the load
 * generator costs less CPU); resolves with `data`. @throws on a status other than 200, GraphQL
 * errors or a body that is not JSON (with the start of the answer).
 */
export function postGraphql(agent: Agent, url: string, body: object, token?: string): Promise<unknown> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) };
    if (token) headers.authorization = `Bearer ${token}`;
    const req = request(url, { method: 'POST', agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const answer = Buffer.concat(chunks).toString();
        try {
          const json = JSON.parse(answer) as { data?: unknown; errors?: unknown };
          if (res.statusCode !== 200 || json.errors) reject(new Error(`${res.statusCode} ${answer.slice(0, 300)}`));
          else resolve(json.data);
        } catch {
          reject(new Error(`${res.statusCode} ${answer.slice(0, 300)}`));
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(text);
  });
}

/** CPU time used so far (ms) by the machine and by the processes a benchmark does not fork (see {@link cpuSnapshot}). */
export interface CpuSnapshot {
  /** performance.now() when taken. */
  at: number;
  /** Busy time of all cores together (user, nice, system, irq). */
  machineBusyMs: number;
  cores: number;
  /** The `postgres` processes on this machine (all of them: other clients' work too); 0 without /proc. */
  postgresMs: number;
  /** This process (user + system). */
  selfMs: number;
}

let clockTicks: number | undefined;
/** The PostgreSQL processes' CPU time on this machine from /proc (Linux), ms; 0 where there is no /proc. */
function postgresCpuMs(): number {
  let ticks = 0;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return 0;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // exited meanwhile
    }
  }
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return (ticks * 1000) / clockTicks;
}

/** A {@link CpuSnapshot} now (os.cpus() for the machine; /proc for PostgreSQL). */
export function cpuSnapshot(): CpuSnapshot {
  const all = cpus();
  const machineBusyMs = all.reduce((sum, c) => sum + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0);
  const self = process.cpuUsage();
  return { at: performance.now(), machineBusyMs, cores: all.length, postgresMs: postgresCpuMs(), selfMs: (self.user + self.system) / 1000 };
}

/**
 * Cores used on average between two snapshots (CPU ms over wall ms, 1 = one core): the machine,
 * PostgreSQL, this process, and `children` (name: CPU ms each used in between, measured by the
 * caller); `other` is the machine's rest (other processes on the machine, the kernel).
 */
export function coresBetween(a: CpuSnapshot, b: CpuSnapshot, children: Record<string, number>): Record<string, number> {
  const wall = b.at - a.at;
  const cores = (ms: number) => Number((ms / wall).toFixed(2));
  const machine = b.machineBusyMs - a.machineBusyMs;
  const postgres = b.postgresMs - a.postgresMs;
  const self = b.selfMs - a.selfMs;
  const known = postgres + self + Object.values(children).reduce((x, y) => x + y, 0);
  return {
    machine: cores(machine),
    ofCores: a.cores,
    postgres: cores(postgres),
    loadGenerator: cores(self),
    ...Object.fromEntries(Object.entries(children).map(([k, ms]) => [k, cores(ms)])),
    other: cores(Math.max(0, machine - known)),
  };
}
