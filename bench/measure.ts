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
