/**
 * Issue 15, item 1: GraphiQL offline. A browser's GET /graphql gets a GraphiQL page whose
 * assets (React, GraphiQL, its CSS and fonts) come from this server only (dist/graphiql, built
 * by scripts/build-graphiql.js); API clients' GET queries still reach Apollo. The browser part
 * drives Debian's Chromium (playwright-core) with every request to another origin blocked and
 * recorded: it pastes a user's token, runs a query over HTTP and a subscription over graphql-ws.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { chromium, type Browser, type Page, type WebSocket as PageSocket } from 'playwright-core';
import { graphiqlRouter, projectRoot } from '../../src/graphiql/route';
import { registerUser, type TestUser } from '../support/client';
import { gqlAs } from '../support/graphql';
import { startTestServer, testConfig, type TestServer } from '../support/test-server';

jest.setTimeout(120000);

/** The few browser globals the page.evaluate callbacks below use (this project's lib has no DOM). */
interface CodeMirrorHost {
  CodeMirror?: { getValue(): string };
  textContent: string | null;
}
declare const document: { querySelector(selector: string): CodeMirrorHost | null };
declare const localStorage: Record<string, string>;

const ROOT = projectRoot(__dirname);
const BUNDLE = join(ROOT, 'dist', 'graphiql');
const CHROMIUM = '/usr/bin/chromium';
const BROWSER_HEADERS = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

let server: TestServer;
let origin: string;
let alice: TestUser;
let bob: TestUser;
let conversationId: string;
const { q } = gqlAs(() => server.url);

beforeAll(async () => {
  // A fresh clone's `npm test` without `npm run build` first: build the bundle here (about a second).
  if (!existsSync(join(BUNDLE, 'graphiql.js')) || !existsSync(join(BUNDLE, 'graphiql.css'))) {
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'build-graphiql.js')], { cwd: ROOT, stdio: 'pipe' });
  }
  server = await startTestServer();
  origin = new URL(server.url).origin;
  [alice, bob] = await Promise.all([registerUser(server.url, 'giql_a'), registerUser(server.url, 'giql_b')]);
  conversationId = (await q(alice, `mutation($i: CreateGroupInput!) { createGroup(input: $i) { id } }`, { i: { name: 'graphiql', memberIds: [bob.id] } }))
    .createGroup.id;
});
afterAll(async () => {
  await server?.close();
});

describe('GET /graphql', () => {
  test('API clients still reach Apollo: JSON for Accept: application/json with ?query=', async () => {
    const res = await fetch(`${server.url}?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { accept: 'application/json', 'apollo-require-preflight': 'true' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ data: { __typename: 'Query' } });
    // No Accept header, or */* (curl): Apollo too, never the page.
    for (const accept of [undefined, '*/*']) {
      const r = await fetch(`${server.url}?query=${encodeURIComponent('{ __typename }')}`, {
        headers: { 'apollo-require-preflight': 'true', ...(accept ? { accept } : {}) },
      });
      expect(r.headers.get('content-type')).not.toMatch(/text\/html/);
      expect(await r.json()).toEqual({ data: { __typename: 'Query' } });
    }
  });

  test('a browser gets the page: same-origin assets only, a strict CSP, cache headers', async () => {
    const res = await fetch(server.url, { headers: BROWSER_HEADERS });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const csp = res.headers.get('content-security-policy') ?? '';
    const host = new URL(origin).host;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain(`connect-src 'self' ws://${host} wss://${host}`);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    const html = await res.text();
    expect(html).not.toMatch(/<script>(?!<\/script>)/);
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]).filter((r) => !r.startsWith('data:'));
    expect(refs).toHaveLength(2);
    for (const ref of refs) {
      expect(ref).toMatch(/^\/graphql\/assets\/graphiql\.(js|css)\?v=[0-9a-f]{16}$/);
      const asset = await fetch(`${origin}${ref}`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(asset.headers.get('content-type')).toMatch(ref.includes('.js') ? /javascript/ : /text\/css/);
      expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(10000);
    }
    const unversioned = await fetch(`${origin}/graphql/assets/graphiql.js`);
    expect(unversioned.headers.get('cache-control')).toBe('no-cache');
    expect(unversioned.headers.get('etag')).toBeTruthy();
    await unversioned.arrayBuffer();
    expect((await fetch(`${origin}/graphql/assets/other.js`)).status).toBe(404);
  });

  test('GRAPHIQL: on by default, off in production unless GRAPHIQL=true', () => {
    expect(testConfig().graphiql).toBe(true);
    expect(testConfig({ GRAPHIQL: 'false' }).graphiql).toBe(false);
    expect(testConfig({ NODE_ENV: 'production' }).graphiql).toBe(false);
    expect(testConfig({ NODE_ENV: 'production', GRAPHIQL: 'true' }).graphiql).toBe(true);
  });

  describe('the router alone', () => {
    let http: Server;
    let base: string;
    const empty = mkdtempSync(join(tmpdir(), 'graphiql-missing-'));
    beforeAll(async () => {
      const app = express();
      app.use('/on', graphiqlRouter({ graphiql: true }, { assetsDir: empty }));
      app.use('/off', graphiqlRouter({ graphiql: false }, { assetsDir: empty }));
      app.use((_req, res) => {
        res.status(418).send('next handler');
      });
      http = createServer(app);
      await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise((r) => http.close(r));
      rmSync(empty, { recursive: true, force: true });
    });

    test('without the bundle: 503 saying to run npm run build', async () => {
      for (const path of ['/on', '/on/assets/graphiql.js']) {
        const res = await fetch(`${base}${path}`, { headers: BROWSER_HEADERS });
        expect(res.status).toBe(503);
        expect(await res.text()).toContain('npm run build');
      }
    });

    test('turned off, or not a browser: passes on to the next handler', async () => {
      expect((await fetch(`${base}/off`, { headers: BROWSER_HEADERS })).status).toBe(418);
      expect((await fetch(`${base}/on`, { headers: { accept: 'application/json' } })).status).toBe(418);
      expect((await fetch(`${base}/on`, { method: 'POST', headers: BROWSER_HEADERS })).status).toBe(418);
    });
  });
});

const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(`graphiql.test.ts: ${CHROMIUM} is missing, so the GraphiQL browser test is skipped (apt-get install chromium; CI installs it).`);
}

(hasChromium ? describe : describe.skip)(`in Chromium (${CHROMIUM}), offline`, () => {
  let browser: Browser;
  let page: Page;
  /** Requests the page tried to make to anywhere but the test server (all aborted). */
  const foreign: string[] = [];
  const sockets: PageSocket[] = [];
  const problems: string[] = [];

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const context = await browser.newContext();
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.origin === origin || url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
      foreign.push(url.href);
      return route.abort('blockedbyclient');
    });
    page = await context.newPage();
    page.on('websocket', (ws) => {
      sockets.push(ws);
    });
    page.on('pageerror', (err) => {
      problems.push(`page error: ${err.message}`);
    });
    page.on('console', (msg) => {
      if (msg.type() === 'error' && /Content Security Policy|Refused to/i.test(msg.text())) problems.push(`console: ${msg.text()}`);
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** Replaces the query editor's text (typed as one input, so no auto-closed brackets) and runs it. */
  async function run(document: string) {
    await page.locator('.graphiql-query-editor .CodeMirror').click();
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText(document);
    // GraphiQL reads the operation's name from the editor after a short debounce (100 ms).
    await page.waitForTimeout(400);
    await page.locator('.graphiql-execute-button').click();
  }
  /** The result pane's text (GraphiQL's response editor, CodeMirror 5). */
  const result = () =>
    page.evaluate(() => {
      const cm = document.querySelector('.graphiql-response .CodeMirror');
      return cm?.CodeMirror?.getValue() ?? '';
    });
  async function waitForResult(text: string, timeout = 15000) {
    try {
      await page.waitForFunction(
        (t) => {
          const cm = document.querySelector('.graphiql-response .CodeMirror');
          return (cm?.CodeMirror?.getValue() ?? '').includes(t);
        },
        text,
        { timeout },
      );
    } catch (err) {
      throw new Error(`result pane never showed ${JSON.stringify(text)}; it shows: ${await result()}\n${(err as Error).message}`, { cause: err });
    }
  }
  async function setToken(token: string) {
    await page.fill('#graphiql-token', token);
    await page.press('#graphiql-token', 'Enter');
    await page.waitForFunction(() => document.querySelector('[data-testid="token-state"]')?.textContent === 'authenticated requests');
  }

  test('a query over HTTP and a subscription over graphql-ws, with the pasted token; nothing leaves the origin', async () => {
    const response = await page.goto(server.url);
    expect(response?.status()).toBe(200);
    await page.locator('.graphiql-query-editor .CodeMirror').waitFor({ timeout: 20000 });

    await setToken(alice.token);
    expect(await page.evaluate(() => Object.entries(localStorage).find(([k]) => k.includes('token'))?.[1])).toBe(alice.token);
    await run('{ me { username } }');
    await waitForResult(`"username": "${alice.username}"`);

    const before = server.realtime.hub.subscriberCount();
    await run(`subscription { messageAdded(conversationId: "${conversationId}") { content } }`);
    const deadline = Date.now() + 15000;
    while (server.realtime.hub.subscriberCount() <= before) {
      if (Date.now() > deadline) throw new Error(`the subscription never reached the server; result pane: ${await result()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const content = `hello from the test ${Date.now()}`;
    await q(bob, `mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }`, { i: { conversationId, content } });
    await waitForResult(content);
    expect(sockets).toHaveLength(1);
    expect(new URL(sockets[0].url())).toMatchObject({ protocol: 'ws:', host: new URL(origin).host, pathname: '/graphql' });

    // Another token: the socket of the old one closes, and HTTP requests carry the new one.
    await setToken(bob.token);
    for (let i = 0; i < 100 && !sockets[0].isClosed(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(sockets[0].isClosed()).toBe(true);
    await run('{ me { username } }');
    await waitForResult(`"username": "${bob.username}"`);

    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
  });
});
