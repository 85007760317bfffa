import { Agent, request } from 'node:http';

/**
 * The heavy neighbour's load generator (a child of bench/heavy/index.ts, so that parsing the
 * large answers does not delay the orchestrator's probes): on `{ cmd: 'start' }` keeps
 * `concurrency` requests of `query` with `token` running, each loop sending its next request as
 * soon as the last one answered (an abusive client: it does not wait for `retryAfter`); on
 * `{ cmd: 'stop' }` waits for the running ones and reports how many were served (data, no
 * errors), refused (RATE_LIMITED) and failed otherwise, and the served ones' median latency (ms).
 */
interface Start {
  cmd: 'start';
  url: string;
  token: string;
  query: string;
  concurrency: number;
  honourRetry: boolean;
}

const agent = new Agent({ keepAlive: true, maxSockets: 256 });
let running = false;
let loops: Promise<void>[] = [];
const counts = { served: 0, refused: 0, failed: 0, firstFailure: '' };
const servedMs: number[] = [];

function post(url: string, body: string, token: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), authorization: `Bearer ${token}` },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Waits `ms`, or less if the load is stopped meanwhile. */
async function sleepWhileRunning(ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (running && Date.now() < until) await new Promise((r) => setTimeout(r, Math.min(50, until - Date.now())));
}

async function loop(m: Start): Promise<void> {
  const body = JSON.stringify({ query: m.query });
  while (running) {
    const t = performance.now();
    try {
      const res = await post(m.url, body, m.token);
      const json = JSON.parse(res.text) as { data?: unknown; errors?: { extensions?: { code?: string; retryAfter?: number } }[] };
      const limited = json.errors?.find((e) => e.extensions?.code === 'RATE_LIMITED');
      if (limited) {
        counts.refused++;
        if (m.honourRetry) await sleepWhileRunning((limited.extensions?.retryAfter ?? 1) * 1000);
      } else if (res.status === 200 && json.data && !json.errors) {
        counts.served++;
        servedMs.push(performance.now() - t);
      } else {
        counts.failed++;
        counts.firstFailure ||= `${res.status} ${res.text.slice(0, 300)}`;
      }
    } catch (err) {
      counts.failed++;
      counts.firstFailure ||= String(err);
    }
  }
}

process.on('message', async (m: Start | { cmd: 'stop' }) => {
  if (m.cmd === 'start') {
    running = true;
    loops = Array.from({ length: m.concurrency }, () => loop(m));
    process.send!({ ok: true });
  } else if (m.cmd === 'stop') {
    running = false;
    await Promise.all(loops);
    servedMs.sort((a, b) => a - b);
    const medianServedMs = servedMs.length ? Number(servedMs[Math.floor(servedMs.length / 2)].toFixed(1)) : null;
    process.send!({ ...counts, medianServedMs });
    agent.destroy();
    process.exit(0);
  }
});
process.send!({ ready: true });
