import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

/**
 * BENCH_CPU_PROF=<dir>: a V8 CPU profile of a benchmark child between `start` and `stop`, written
 * as `<dir>/<name>-<time>.cpuprofile` (Chrome DevTools, Performance). Without the variable both
 * do nothing.
 */
export function cpuProfiler(): { start(): Promise<void>; stop(name: string): Promise<void> } {
  const inspector = new Session();
  const post = (method: string) => new Promise<any>((resolve, reject) => inspector.post(method, (err, res) => (err ? reject(err) : resolve(res))));
  return {
    async start() {
      if (!process.env.BENCH_CPU_PROF) return;
      inspector.connect();
      await post('Profiler.enable');
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
