import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/**
 * The port a compiled server (`dist/src/main.js` started with PORT=0) listens on, read from its
 * "chat server listening" log line (pino JSON with the `url` it bound, src/main.ts); null until
 * that line is in `output`. With PORT=0 the kernel picks a free port at bind time: a port chosen
 * by the test beforehand can be taken by another test's socket before the child binds it.
 */
export function listeningPort(output: string): number | null {
  for (const line of output.split('\n')) {
    if (!line.includes('chat server listening')) continue;
    try {
      const port = Number(new URL((JSON.parse(line) as { url: string }).url).port);
      if (port > 0) return port;
    } catch {
      /* not this line's JSON */
    }
  }
  return null;
}

const ROOT = join(__dirname, '..', '..');
const MAIN = join(ROOT, 'dist', 'src', 'main.js');

/**
 * Starts the compiled server (`dist/src/main.js`, NODE_ENV test, PORT 0, LOG_LEVEL info, a fixed
 * JWT secret) in a process of its own with `env` added, pushes it onto `children` (for the
 * caller's clean-up), and resolves with its GraphQL URL once it listens (its "chat server
 * listening" line). @throws when it exits first or says nothing within 60 s (with its output).
 */
export async function startCompiledServer(env: Record<string, string>, children: ChildProcess[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: {
      ...env,
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      JWT_SECRET: 'k'.repeat(64),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += String(d);
      const p = listeningPort(out);
      if (p) {
        clearTimeout(timer);
        resolve(p);
      }
    });
    child.stderr!.on('data', (d: Buffer) => (out += String(d)));
    child.once('exit', (code, signal) => reject(new Error(`server exited (${code ?? signal}):\n${out}`)));
  });
  return { child, url: `http://127.0.0.1:${port}/graphql` };
}

/** Kills `child` with SIGKILL and resolves once it is gone. */
export async function killHard(child: ChildProcess): Promise<void> {
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await gone;
}
