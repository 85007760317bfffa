/**
 * Issue 15, item 4: with OTEL_EXPORTER_OTLP_ENDPOINT set, the compiled server (as an operator
 * runs it) exports OTLP/HTTP traces of its requests: HTTP, the GraphQL operation and its SQL.
 * A local OTLP receiver (node:http) stands in for the collector; spans are protobuf, whose
 * strings (service name, span names, attributes) appear as UTF-8 in the bodies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../support/test-server';
import { listeningPort } from '../support/listening';

const ROOT = resolve(__dirname, '../..');
let receiver: Server;
let endpoint: string;
const bodies: Buffer[] = [];
let child: ChildProcess | undefined;
let dataDir: string;
/** With DATABASE_URL (the PostgreSQL run), a fresh database of its own, and the pg driver's spans are checked too. */
let db: TestDatabase | undefined;

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/v1/traces') bodies.push(Buffer.concat(chunks));
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
  dataDir = mkdtempSync(join(tmpdir(), 'chat-tracing-test-'));
  if (process.env.DATABASE_URL) db = await createTestDatabase();
});
afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await new Promise<void>((r) => receiver.close(() => r()));
  rmSync(dataDir, { recursive: true, force: true });
  await db?.drop();
});

test('requests are traced to the OTLP endpoint: HTTP, the GraphQL operation, and on PostgreSQL its SQL', async () => {
  // scripts/run-built.js compiles first when dist/ is older than the sources (a fresh checkout's `npm ci` built it).
  child = spawn(process.execPath, [join(ROOT, 'scripts/run-built.js'), 'dist/src/main.js'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      ...(db ? { DATABASE_URL: db.url } : {}),
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_SERVICE_NAME: 'chat-server-under-test',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  // PORT=0: the kernel picks a free port when the server binds; its "listening" log line names it.
  const deadline = Date.now() + 90_000;
  let port: number | null;
  for (;;) {
    port = listeningPort(out);
    if (
      port &&
      (await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      ))
    )
      break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`server did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const url = `http://127.0.0.1:${port}/graphql`;
  const reg = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: 'mutation TraceMe($i: RegisterInput!) { register(input: $i) { user { id } } }',
      variables: { i: { username: `traced_${process.pid}`, password: 'correct-horse-battery' } },
    }),
  });
  expect(reg.status).toBe(200);
  const seen = () => Buffer.concat(bodies).toString('latin1');
  while (!(seen().includes('mutation TraceMe') && seen().includes('POST /graphql') && (!db || /insert/i.test(seen()))) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  const text = seen();
  expect(text).toContain('chat-server-under-test');
  expect(text).toContain('mutation TraceMe'); // the GraphQL operation's span
  expect(text).toContain('POST /graphql'); // the HTTP server span
  if (db) expect(text).toMatch(/insert into/i); // the SQL statements' spans (pg; PGlite has no driver to trace)
  expect(text).not.toContain('correct-horse-battery'); // no variable values in spans
  // Health checks are not traced.
  const before = bodies.length;
  await fetch(`http://127.0.0.1:${port}/healthz`);
  child.kill('SIGTERM');
  await new Promise((r) => child!.once('exit', r));
  expect(Buffer.concat(bodies.slice(before)).toString('latin1')).not.toContain('/healthz');
}, 150_000);
