/**
 * Issue 30, item 2: the shipped load balancer (deploy/nginx.conf) for real, with Debian's nginx
 * (.ci/run installs it), in front of two instances of the server: REST links (a seed-001 upload
 * answers media links on the proxy's host and port, which download through it), GraphQL,
 * graphql-ws and Socket.IO. The configuration is the repository's file, adapted only where a
 * test must: the upstream addresses (chat-1:4000, chat-2:4000) and the listening port.
 * With DATABASE_URL and REDIS_URL the two upstreams are two instances of one deployment (events
 * cross between them); otherwise both upstream entries name one instance (the proxy's handling is
 * the same; there is no second instance to share a database with). Without nginx it is skipped.
 *
 * Also, without nginx: X-Forwarded-Proto/-Host/-Port count only from proxies TRUST_PROXY trusts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { io as connectIo, type Socket } from 'socket.io-client';
import { gqlOk, registerUser, subscribe, wsClient } from '../support/client';
import { startTestCluster, startTestServer, type TestCluster, type TestServer } from '../support/test-server';
import { call, form, restUser } from './rest/rest-support';

jest.setTimeout(120_000);

const ROOT = join(__dirname, '..', '..');
const NGINX =
  ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p)) ??
  (spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).stdout.trim() || null);
const CLUSTER = Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);
if (!NGINX) console.warn('nginx.test.ts: nginx is not installed (apt-get install -y nginx): the load balancer test is skipped');
const describeNginx = NGINX ? describe : describe.skip;

/** A free TCP port on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * deploy/nginx.conf with the upstream servers and the listening port replaced (and nothing else).
 * @throws when the file no longer has exactly what is replaced (so the test is not silently testing less).
 */
export function adaptNginxConf(conf: string, upstreams: [number, number], port: number): string {
  const count = (re: RegExp) => (conf.match(re) ?? []).length;
  const [one, two, listen] = [count(/server chat-1:4000\b/g), count(/server chat-2:4000\b/g), count(/^\s*listen 80;/gm)];
  if (one < 1 || two < 1 || listen !== 1)
    throw new Error(`deploy/nginx.conf changed shape (chat-1: ${one}, chat-2: ${two}, listen 80: ${listen}): adapt tests/integration/nginx.test.ts`);
  return conf
    .replace(/server chat-1:4000\b/g, `server 127.0.0.1:${upstreams[0]}`)
    .replace(/server chat-2:4000\b/g, `server 127.0.0.1:${upstreams[1]}`)
    .replace(/^(\s*)listen 80;/m, `$1listen 127.0.0.1:${port};`);
}

/** Runs nginx (not as a daemon) with `siteConf` included in its http block, as the nginx image does with conf.d/. */
async function startNginx(siteConf: string, port: number): Promise<{ child: ChildProcess; prefix: string; output: () => string }> {
  const prefix = mkdtempSync(join(tmpdir(), 'nginx-test-'));
  chmodSync(prefix, 0o755);
  for (const d of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi', 'logs']) {
    mkdirSync(join(prefix, d));
    chmodSync(join(prefix, d), 0o777);
  }
  writeFileSync(join(prefix, 'chat.conf'), siteConf);
  // The nginx image's main file, minus what a test cannot have (its user, system paths).
  writeFileSync(
    join(prefix, 'nginx.conf'),
    [
      'daemon off;',
      'worker_processes 1;',
      `pid ${prefix}/nginx.pid;`,
      'error_log stderr warn;',
      'events { worker_connections 1024; }',
      'http {',
      '  access_log off;',
      '  sendfile on;',
      '  keepalive_timeout 65;',
      '  default_type application/octet-stream;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((d) => `  ${d}_temp_path ${prefix}/${d};`),
      `  include ${prefix}/chat.conf;`,
      '}',
      '',
    ].join('\n'),
  );
  const child = spawn(NGINX!, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', 'stderr'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}):\n${out}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error(`nginx did not listen on ${port}:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, prefix, output: () => out };
}

describeNginx('deploy/nginx.conf in front of two instances (Debian nginx)', () => {
  let cluster: TestCluster | undefined;
  let single: TestServer | undefined;
  let instances: { url: string; realtime: TestServer['realtime'] }[];
  let nginx: Awaited<ReturnType<typeof startNginx>>;
  let origin: string;
  let proxy: TestServer; // the proxy's address in the shape the REST helpers take
  let uploads: string | undefined;

  beforeAll(async () => {
    // The instances trust one proxy hop, as in docker-compose.yml.
    if (CLUSTER) {
      // One upload folder for both, as docker-compose.yml's shared volume.
      uploads = mkdtempSync(join(tmpdir(), 'nginx-test-uploads-'));
      cluster = await startTestCluster(2, { TRUST_PROXY: '1', UPLOAD_DIR: uploads });
      instances = cluster.instances;
    } else {
      console.log('nginx.test.ts: without DATABASE_URL and REDIS_URL both upstream entries name one instance');
      single = await startTestServer({ TRUST_PROXY: '1' });
      instances = [single, single];
    }
    const ports = instances.map((i) => Number(new URL(i.url).port)) as [number, number];
    const port = await freePort();
    nginx = await startNginx(adaptNginxConf(readFileSync(join(ROOT, 'deploy', 'nginx.conf'), 'utf8'), ports, port), port);
    origin = `http://127.0.0.1:${port}`;
    proxy = { url: `${origin}/graphql` } as TestServer;
  });

  afterAll(async () => {
    if (nginx && nginx.child.exitCode === null) {
      const exited = new Promise((r) => nginx.child.once('exit', r));
      nginx.child.kill('SIGTERM');
      await exited;
    }
    if (nginx) rmSync(nginx.prefix, { recursive: true, force: true });
    await cluster?.close();
    await single?.close();
    if (uploads) rmSync(uploads, { recursive: true, force: true });
  });

  test("REST: a seed-001 upload answers media links on the proxy's host and port, and they download through it; page links too", async () => {
    const owner = await restUser(proxy, 'ngo');
    const member = await restUser(proxy, 'ngm');
    const chat = await call(proxy, 'POST', '/chats/', { token: owner.token, form: form({ name: 'nginx', members: [member.id] }) });
    expect(chat.status).toBe(201);
    const png = await sharp({ create: { width: 320, height: 200, channels: 3, background: { r: 10, g: 120, b: 200 } } })
      .png()
      .toBuffer();
    const sent = await call(proxy, 'POST', `/chats/${chat.body.id}/send-message/`, {
      token: owner.token,
      form: form({ content: 'qua nginx' }, [['medias', { name: 'a.png', bytes: png, type: 'image/png' }]]),
    });
    expect(sent.status).toBe(201);
    const [media] = sent.body.media;
    expect(media.url.startsWith(`${origin}/media/${media.id}?exp=`)).toBe(true);
    expect(media.thumbnail.startsWith(`${origin}/media/${media.id}/thumbnail?`)).toBe(true);
    const file = await fetch(media.url);
    expect([file.status, file.headers.get('content-type')]).toEqual([200, 'image/png']);
    expect(Buffer.from(await file.arrayBuffer()).equals(png)).toBe(true);
    const thumb = await fetch(media.thumbnail);
    expect([thumb.status, thumb.headers.get('content-type')]).toEqual([200, 'image/webp']);
    await thumb.arrayBuffer();
    // Page-number links (seed 001) carry the proxy's origin as well.
    await call(proxy, 'POST', `/chats/${chat.body.id}/send-message/`, { token: owner.token, json: { content: 'second' } });
    const page = await call(proxy, 'GET', `/chats/${chat.body.id}/messages/?page_size=1`, { token: member.token });
    expect(page.body.next).toBe(`${origin}/api/chats/${chat.body.id}/messages/?page_size=1&page=2`);
    const next = await fetch(page.body.next, { headers: { authorization: `Bearer ${member.token}` } });
    expect(next.status).toBe(200);
    expect(((await next.json()) as { results: unknown[] }).results).toHaveLength(1);
  });

  test('GraphQL over HTTP and graphql-ws through the proxy: a message sent through it reaches sockets through it and on each instance', async () => {
    const a = await registerUser(proxy.url, 'nga');
    const b = await registerUser(proxy.url, 'ngb');
    expect((await gqlOk(proxy.url, '{ me { id username } }', {}, a.token)).me).toEqual({ id: a.id, username: a.username });
    const chat = (await gqlOk(proxy.url, 'mutation($u: ID!) { openDirectChat(userId: $u) { id } }', { u: b.id }, a.token)).openDirectChat;
    const send = (content: string) =>
      gqlOk(
        proxy.url,
        'mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id } }',
        { c: chat.id, t: content },
        a.token,
      );
    type Added = { messageAdded: { content: string } };
    const query = 'subscription($c: ID!) { messageAdded(conversationId: $c) { content } }';
    // One socket through the proxy, and one straight on each instance (with two instances, the
    // message crosses between them through Redis whichever instance nginx gave the write to).
    const viaProxy = wsClient(`ws://127.0.0.1:${new URL(origin).port}/graphql`, b.token);
    const direct = [...new Set(instances)].map((i) => ({ i, client: wsClient(i.url.replace(/^http/, 'ws'), b.token) }));
    try {
      const proxied = subscribe<Added>(viaProxy, query, { c: chat.id });
      await proxied.readyBy(() => send('ping'));
      const straight = direct.map(({ i, client }) => subscribe<Added>(client, query, { c: chat.id }, { server: i as TestServer }));
      await Promise.all(straight.map((sub) => sub.ready()));
      await send('live through nginx');
      for (const sub of [proxied, ...straight]) {
        let got = await sub.next();
        while (got.messageAdded.content === 'ping') got = await sub.next();
        expect(got).toEqual({ messageAdded: { content: 'live through nginx' } });
      }
    } finally {
      await viaProxy.dispose();
      for (const { client } of direct) await client.dispose();
    }
  });

  test('Socket.IO (seed 002) through the proxy: long-polling, then the WebSocket upgrade', async () => {
    const customer = await restUser(proxy, 'ngc');
    const sockets: Socket[] = [];
    try {
      for (const transports of [['polling'], ['polling', 'websocket']] as const) {
        const s = connectIo(origin, { auth: { token: customer.token }, transports: [...transports], reconnection: false, forceNew: true });
        sockets.push(s);
        await new Promise<void>((resolve, reject) => {
          s.once('connect', () => resolve());
          s.once('connect_error', reject);
        });
        if (transports.length === 2) {
          await new Promise<void>((resolve) => (s.io.engine.transport.name === 'websocket' ? resolve() : s.io.engine.once('upgrade', () => resolve())));
          expect(s.io.engine.transport.name).toBe('websocket');
        }
        const own = new Promise<Record<string, unknown>>((resolve) => s.once('new_message', resolve));
        const ack = await s.timeout(10_000).emitWithAck('send_message', { noi_dung: `qua nginx ${transports.join('+')}` });
        expect(ack).toMatchObject({ ok: true });
        expect(await own).toMatchObject({ noi_dung: `qua nginx ${transports.join('+')}`, nguoi_goi_id: Number(customer.id) });
      }
    } finally {
      for (const s of sockets) s.disconnect();
    }
  });
});

describe('X-Forwarded-Proto/-Host/-Port count only from trusted proxies (TRUST_PROXY)', () => {
  let trusting: TestServer;
  let direct: TestServer;
  beforeAll(async () => {
    [trusting, direct] = await Promise.all([startTestServer({ TRUST_PROXY: 'loopback' }), startTestServer()]);
  });
  afterAll(async () => {
    await Promise.all([trusting?.close(), direct?.close()]);
  });

  /** The `next` link of a seed-001 page with these request headers. */
  async function nextLink(server: TestServer, headers: Record<string, string>): Promise<string> {
    const user = await restUser(server, 'fwd');
    const chat = await call(server, 'POST', '/chats/', { token: user.token, form: form({ name: 'fwd' }) });
    for (const t of ['one', 'two']) await call(server, 'POST', `/chats/${chat.body.id}/send-message/`, { token: user.token, json: { content: t } });
    const page = await call(server, 'GET', `/chats/${chat.body.id}/messages/?page_size=1`, { token: user.token, headers });
    return new URL(page.body.next).origin;
  }

  test('from a trusted proxy: the forwarded scheme, host and port (a port in X-Forwarded-Host wins; default ports are left out)', async () => {
    expect(await nextLink(trusting, { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'chat.example', 'x-forwarded-port': '8443' })).toBe(
      'https://chat.example:8443',
    );
    expect(await nextLink(trusting, { 'x-forwarded-proto': 'http', 'x-forwarded-host': 'chat.example:8080', 'x-forwarded-port': '80' })).toBe(
      'http://chat.example:8080',
    );
    expect(await nextLink(trusting, { 'x-forwarded-proto': 'https, http', 'x-forwarded-host': 'chat.example, inner', 'x-forwarded-port': '443' })).toBe(
      'https://chat.example',
    );
    // Only a port: the request's own host with the proxy's port.
    expect(await nextLink(trusting, { 'x-forwarded-port': '9000' })).toBe('http://127.0.0.1:9000');
    // Nonsense values are ignored.
    const own = `http://127.0.0.1:${new URL(trusting.url).port}`;
    expect(await nextLink(trusting, { 'x-forwarded-proto': 'gopher', 'x-forwarded-host': 'bad host/path', 'x-forwarded-port': '99999' })).toBe(own);
  });

  test('from anyone else (TRUST_PROXY unset): ignored', async () => {
    expect(await nextLink(direct, { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example', 'x-forwarded-port': '8443' })).toBe(
      `http://127.0.0.1:${new URL(direct.url).port}`,
    );
  });
});
