/**
 * Issue 30, item 9: the React web client (examples/web), built with Vite and served by the
 * server at /demo, in Debian's Chromium (playwright-core) with every request to another origin
 * blocked and recorded. Two browser contexts are two users: Alice sends (text and a PNG), Bob
 * sees it live with an unread badge, its thumbnail, Alice typing, and Alice sees his read receipt.
 * Bob's page goes through a TCP proxy: cutting it drops his socket, Alice sends meanwhile, and
 * after the line is back his client reconnects and catches up with messagesSince. History pages
 * load on demand. Screenshots of both pages are kept in test-artifacts/ (gitignored).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import express from 'express';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import sharp from 'sharp';
import { projectRoot } from '../../src/graphiql/route';
import { registerUser, type TestUser } from '../support/client';
import { gqlAs } from '../support/graphql';
import { TcpProxy } from '../support/tcp-proxy';
import { startTestServer, testConfig, type TestServer } from '../support/test-server';
import { demoRouter } from '../../src/demo/route';

jest.setTimeout(240_000);

/** The browser global the page.waitForFunction callback below uses (this project's lib has no DOM). */
declare const document: { querySelector(selector: string): { complete: boolean; naturalWidth: number } | null };

const ROOT = projectRoot(__dirname);
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test-artifacts');
const PASSWORD = 'correct-horse-battery';
/** Generous: a loaded 2-core machine; every wait is for a condition, never a fixed sleep. */
const WAIT = 30_000;
const hasChromium = existsSync(CHROMIUM);

let built: Promise<unknown> | undefined;
/** Builds the client into dist/web as `npm run demo` does (a few seconds), once per test file: the tests see it as it is now. */
function buildClient(): Promise<unknown> {
  built ??= promisify(execFile)(
    process.execPath,
    [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'examples/web/vite.config.mts', '--logLevel', 'warn'],
    { cwd: ROOT, timeout: 180_000 },
  );
  return built;
}
if (!hasChromium) {
  console.warn(`web-client.test.ts: ${CHROMIUM} is missing, so the web client's browser test is skipped (apt-get install chromium; CI installs it).`);
}

describe('the /demo route', () => {
  test('not in production; without a build, 503 saying to run npm run demo', async () => {
    expect(demoRouter(testConfig({ NODE_ENV: 'production' })).stack).toHaveLength(0);
    const empty = mkdtempSync(join(tmpdir(), 'demo-missing-'));
    const app = express();
    app.use('/demo', demoRouter(testConfig(), { assetsDir: empty }));
    const http = createServer(app);
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(http.address() as AddressInfo).port}/demo/`);
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('npm run demo');
    } finally {
      await new Promise((r) => http.close(r));
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test('the built page: same-origin assets, a strict CSP, cache headers', async () => {
    await buildClient();
    const server = await startTestServer();
    try {
      const origin = `http://127.0.0.1:${server.port}`;
      const page = await fetch(`${origin}/demo/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('cache-control')).toBe('no-cache');
      const csp = page.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain(`connect-src 'self' ws://127.0.0.1:${server.port} wss://127.0.0.1:${server.port}`);
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
      const refs = [...(await page.text()).matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]).filter((r) => !r.startsWith('data:'));
      expect(refs.length).toBeGreaterThanOrEqual(2);
      for (const ref of refs) {
        expect(ref).toMatch(/^\/demo\/assets\/[\w-]+\.(js|css)$/);
        const asset = await fetch(`${origin}${ref}`);
        expect(asset.status).toBe(200);
        expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
        await asset.arrayBuffer();
      }
      expect((await fetch(`${origin}/demo/assets/nothing.js`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});

(hasChromium ? describe : describe.skip)(`the web client in Chromium (${CHROMIUM}), offline`, () => {
  let server: TestServer;
  let proxy: TcpProxy;
  let browser: Browser;
  let alice: TestUser;
  let bob: TestUser;
  const { q } = gqlAs(() => server.url);
  /** Requests a page tried to make to anywhere but the server or the proxy (all aborted). */
  const foreign: string[] = [];
  /** The origins the pages may reach: the server, the proxy (and a second server, below). */
  const allowed = new Set<string>();
  const problems: string[] = [];
  const pages: Page[] = [];

  beforeAll(async () => {
    await buildClient();
    server = await startTestServer();
    proxy = await new TcpProxy('127.0.0.1', server.port).start();
    [alice, bob] = await Promise.all([registerUser(server.url, 'web_a', { firstName: 'Alice' }), registerUser(server.url, 'web_b', { firstName: 'Bob' })]);
    allowed.add(origin()).add(viaProxy());
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await server?.close();
  });

  const origin = () => `http://127.0.0.1:${server.port}`;
  const viaProxy = () => `http://127.0.0.1:${proxy.port}`;

  /** A new browser context (its own storage: another user) on `base`/demo/, logged in through the form. */
  async function signIn(base: string, user: TestUser): Promise<Page> {
    const context: BrowserContext = await browser.newContext({ viewport: { width: 1000, height: 640 } });
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (allowed.has(url.origin) || url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
      foreign.push(url.href);
      return route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    pages.push(page);
    page.on('pageerror', (err) => {
      problems.push(`${user.username}: page error: ${err.message}`);
    });
    page.on('console', (msg) => {
      if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text())) problems.push(`${user.username}: ${msg.text()}`);
    });
    const response = await page.goto(`${base}/demo/`);
    expect(response?.status()).toBe(200);
    await page.getByPlaceholder('username').fill(user.username);
    await page.getByPlaceholder('password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText(`@${user.username}`).waitFor({ timeout: WAIT });
    return page;
  }

  /** Resolves once `on` holds at least `count` subscriptions (graphql-ws acknowledges none). */
  async function subscriptions(count: number, on: TestServer = server) {
    const deadline = Date.now() + WAIT;
    while (on.realtime.hub.subscriberCount() < count) {
      if (Date.now() > deadline) throw new Error(`the server holds ${on.realtime.hub.subscriberCount()} subscriptions, not ${count}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  async function subscriptionsAtMost(count: number) {
    const deadline = Date.now() + WAIT;
    while (server.realtime.hub.subscriberCount() > count) {
      if (Date.now() > deadline) throw new Error(`the server still holds ${server.realtime.hub.subscriberCount()} subscriptions, more than ${count}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  /** Resolves once the picture in `page`'s open conversation has loaded; returns its src. */
  async function pictureShown(page: Page): Promise<string> {
    await page.waitForFunction(
      () => {
        const img = document.querySelector('.messages .attachment img');
        return !!img && img.complete && img.naturalWidth > 0;
      },
      undefined,
      { timeout: WAIT },
    );
    return (await page.locator('.messages .attachment img').getAttribute('src')) ?? '';
  }
  /** The status a GET of `url` gets now (its body read, so the connection is reused cleanly). */
  async function statusOf(url: string): Promise<number> {
    const res = await fetch(url);
    await res.arrayBuffer();
    return res.status;
  }
  const message = (page: Page, text: string) => page.locator('.messages li', { hasText: text });
  async function send(page: Page, text: string) {
    await page.getByLabel('message', { exact: true }).fill(text);
    await page.getByRole('button', { name: 'Send' }).click();
    await message(page, text).waitFor({ timeout: WAIT });
  }

  let a: Page;
  let b: Page;

  test('Alice sends text and a picture; Bob sees it live, reads it, sees her typing; she sees his receipt', async () => {
    const base = server.realtime.hub.subscriberCount();
    a = await signIn(origin(), alice);
    b = await signIn(viaProxy(), bob);
    // Each page's one subscription to every conversation of its user (NewMessages).
    await subscriptions(base + 2);

    // Alice opens the direct chat by Bob's username and sends a PNG with a caption.
    await a.getByPlaceholder('chat with username…').fill(bob.username);
    await a.getByRole('button', { name: 'Open' }).click();
    await a.getByLabel('message', { exact: true }).waitFor({ timeout: WAIT });
    const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 240, g: 120, b: 20 } } })
      .png()
      .toBuffer();
    await a.getByLabel('attach files').setInputFiles({ name: 'orange.png', mimeType: 'image/png', buffer: png });
    await a.locator('.previews img').waitFor({ timeout: WAIT });
    await send(a, 'hello Bob, a picture');
    await pictureShown(a);

    // Bob: the new conversation appears live in his list with one unread message.
    const row = b.locator('.conversations button', { hasText: 'Alice' });
    await row.locator('[data-testid="unread"]', { hasText: '1' }).waitFor({ timeout: WAIT });
    expect(await row.locator('.preview').textContent()).toContain('hello Bob, a picture');

    // He opens it: the message with its thumbnail (served by /media), the badge gone, and Alice sees "read".
    await row.click();
    await message(b, 'hello Bob, a picture').waitFor({ timeout: WAIT });
    expect(await pictureShown(b)).toMatch(/^\/media\//);
    await row.locator('[data-testid="unread"]').waitFor({ state: 'detached', timeout: WAIT });
    await message(a, 'hello Bob, a picture').locator('[data-testid="receipt"][data-status="read"]').waitFor({ timeout: WAIT });

    // Bob's page now also watches typing and receipts there (two more subscriptions; Alice's two too).
    await subscriptions(base + 6);
    await a.getByLabel('message', { exact: true }).pressSequentially('are you');
    await b.getByTestId('typing').filter({ hasText: 'Alice typing…' }).waitFor({ timeout: WAIT });
    await send(a, 'are you there?');
    await message(b, 'are you there?').waitFor({ timeout: WAIT });
    await send(b, 'here!');
    await message(a, 'here!').waitFor({ timeout: WAIT });
    await message(a, 'are you there?').locator('[data-testid="receipt"][data-status="read"]').waitFor({ timeout: WAIT });

    mkdirSync(ARTIFACTS, { recursive: true });
    await a.screenshot({ path: join(ARTIFACTS, 'web-client-alice.png') });
    await b.screenshot({ path: join(ARTIFACTS, 'web-client-bob.png') });
    expect(existsSync(join(ARTIFACTS, 'web-client-bob.png'))).toBe(true);
  });

  test("Bob's socket drops; what Alice sends meanwhile reaches him after he reconnects (messagesSince)", async () => {
    const before = server.realtime.hub.subscriberCount();
    await b.getByTestId('connection').filter({ hasText: 'live' }).waitFor({ timeout: WAIT });
    await proxy.cut();
    await b
      .getByTestId('connection')
      .filter({ hasText: /offline|connecting/ })
      .waitFor({ timeout: WAIT });
    // The server has let go of Bob's three subscriptions: nothing can reach him live now.
    await subscriptionsAtMost(before - 3);
    await send(a, 'while you were away');
    expect(await message(b, 'while you were away').count()).toBe(0);

    await proxy.restore();
    await b.getByTestId('connection').filter({ hasText: 'live' }).waitFor({ timeout: WAIT });
    await message(b, 'while you were away').waitFor({ timeout: WAIT });
    // And live again afterwards.
    await subscriptions(before);
    await send(a, 'welcome back');
    await message(b, 'welcome back').waitFor({ timeout: WAIT });
    await b.screenshot({ path: join(ARTIFACTS, 'web-client-bob-reconnected.png') });
  });

  test('history: the newest 30 messages first, older ones on demand', async () => {
    const group = (await q(alice, `mutation($i: CreateGroupInput!) { createGroup(input: $i) { id } }`, { i: { name: 'History', memberIds: [bob.id] } }))
      .createGroup.id;
    for (let i = 1; i <= 40; i++) {
      await q(alice, `mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }`, { i: { conversationId: group, content: `old message ${i}.` } });
    }
    const row = b.locator('.conversations button', { hasText: 'History' });
    await row.locator('[data-testid="unread"]', { hasText: '40' }).waitFor({ timeout: WAIT });
    await row.click();
    await message(b, 'old message 40.').waitFor({ timeout: WAIT });
    expect(await message(b, 'old message 10.').count()).toBe(0);
    expect(await message(b, 'old message 11.').count()).toBe(1);
    await b.getByRole('button', { name: 'Older messages' }).click();
    await message(b, 'old message 1.').waitFor({ timeout: WAIT });
    // All 40 once each (and the group's own SYSTEM messages, if any), in order; nothing older left.
    const texts = (await b.locator('.messages li .text').allTextContents()).filter((t) => t.startsWith('old message'));
    expect(texts).toEqual(Array.from({ length: 40 }, (_, i) => `old message ${i + 1}.`));
    await b.getByRole('button', { name: 'Older messages' }).waitFor({ state: 'detached', timeout: WAIT });

    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
  });

  test('issue 30 item 10: an expired media URL is fetched anew (RefreshMedia) and the picture shows', async () => {
    // Signed URLs live 3 s here.
    const short = await startTestServer({ MEDIA_URL_TTL_S: '3' });
    const base = `http://127.0.0.1:${short.port}`;
    allowed.add(base);
    try {
      const [carol, dan] = await Promise.all([
        registerUser(short.url, 'web_c', { firstName: 'Carol' }),
        registerUser(short.url, 'web_d', { firstName: 'Dan' }),
      ]);
      const { q: qs } = gqlAs(short.url);
      const conversationId = (await qs(carol, `mutation($u: String!) { openDirectChat(username: $u) { id } }`, { u: dan.username })).openDirectChat.id;
      const page = await signIn(base, dan);
      // Dan's first picture request waits until its URL has expired (the server says 404), then goes:
      // the page left open for longer than MEDIA_URL_TTL_S, in 3 s.
      const held: string[] = [];
      await page.route('**/media/**', async (route) => {
        const url = route.request().url();
        if (!held.length) {
          held.push(url);
          const deadline = Date.now() + WAIT;
          while ((await statusOf(url)) === 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        }
        await route.continue();
      });
      await page.locator('.conversations button', { hasText: 'Carol' }).click();
      await page.getByLabel('message', { exact: true }).waitFor({ timeout: WAIT });
      await subscriptions(3, short);

      const png = await sharp({ create: { width: 30, height: 30, channels: 3, background: { r: 20, g: 160, b: 90 } } })
        .png()
        .toBuffer();
      const form = new FormData();
      const query = 'mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }';
      form.append('operations', JSON.stringify({ query, variables: { i: { conversationId, content: 'green', attachments: [null] } } }));
      form.append('map', JSON.stringify({ 0: ['variables.i.attachments.0'] }));
      form.append('0', new Blob([png], { type: 'image/png' }), 'green.png');
      const res = await fetch(short.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${carol.token}`, 'apollo-require-preflight': 'true' },
        body: form,
      });
      expect(await res.json()).toEqual({ data: { sendMessage: { id: expect.any(String) } } });

      await message(page, 'green').waitFor({ timeout: WAIT });
      const shown = await pictureShown(page);
      expect(held).toHaveLength(1);
      expect(await statusOf(held[0])).toBe(404);
      expect(new URL(shown, base).href).not.toBe(held[0]);
      await page.context().close();
      expect(foreign).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await short.close();
    }
  });
});
