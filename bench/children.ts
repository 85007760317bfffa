import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

/**
 * BENCH_CPU_PROF=<dir>: a V8 CPU profile of a benchmark child between `start` and `stop`, written
 * as `<dir>/<name>-<time>.cpuprofile` (Chrome DevTools, Performance; `node dist/bench/profile-summary.js`
 * sums it). BENCH_CPU_PROF_US sets the sampling interval in µs (V8's default otherwise, 1000).
 * Without BENCH_CPU_PROF both do nothing.
 */
export function cpuProfiler(): { start(): Promise<void>; stop(name: string): Promise<void> } {
  const inspector = new Session();
  const post = (method: string, params?: object) =>
    new Promise<any>((resolve, reject) => inspector.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
  return {
    async start() {
      if (!process.env.BENCH_CPU_PROF) return;
      inspector.connect();
      await post('Profiler.enable');
      if (process.env.BENCH_CPU_PROF_US) await post('Profiler.setSamplingInterval', { interval: Number(process.env.BENCH_CPU_PROF_US) });
      await post('Profiler.start');
    },
    async stop(name) {
      const dir = process.env.BENCH_CPU_PROF;
      if (!dir) return;
      const { profile } = await post('Profiler.stop');
      writeFileSync(join(dir, `${name}-${Date.now()}.cpuprofile`), JSON.stringify(profile));
      inspector.disconnect();
    },
  };
}

/** Asks a server child to stop and waits for it to exit (SIGKILL after 15 s). */
export async function stopChild(proc: ChildProcess): Promise<void> {
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.send({ cmd: 'stop' });
  const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** A benchmark child: its process, `ask` (sends a command, resolves with the child's next message) and `info` (its first message). */
export interface BenchChild<I> {
  proc: ChildProcess;
  ask<T>(msg: unknown): Promise<T>;
  info: I;
}

/**
 * Forks `script` (a path) with `args`, `env` (default: this process's) and `execArgv` (default
 * `--expose-gc --max-old-space-size=4096`), keeps it in `children` while it runs (the caller kills
 * them at exit), and resolves once it sent its first message. A child that reports `{ error }` or
 * exits with a non-zero code ends the benchmark (exit 1).
 */
export async function forkChild<I = { url: string }>(
  script: string,
  args: string[],
  children: Set<ChildProcess>,
  opts: { env?: NodeJS.ProcessEnv; execArgv?: string[] } = {},
): Promise<BenchChild<I>> {
  const proc = fork(script, args, {
    ...(opts.env ? { env: opts.env } : {}),
    execArgv: opts.execArgv ?? ['--expose-gc', '--max-old-space-size=4096'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  const queue: ((v: unknown) => void)[] = [];
  const ready = new Promise<I>((r) => queue.push(r as (v: unknown) => void));
  proc.on('message', (msg) => {
    if ((msg as { error?: string }).error) {
      console.error((msg as { error: string }).error);
      process.exit(1);
    }
    queue.shift()?.(msg);
  });
  proc.on('exit', (code) => {
    if (code) {
      console.error(`${script} exited with ${code}`);
      process.exit(1);
    }
  });
  const ask = <T>(msg: unknown) =>
    new Promise<T>((resolve) => {
      queue.push(resolve as (v: unknown) => void);
      proc.send(msg as object);
    });
  return { proc, ask, info: await ready };
}
