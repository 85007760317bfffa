/**
 * HTTP hygiene (issue 7): helmet's headers on /api, /media and /graphql (the landing page still
 * loads in development), CORS from CORS_ORIGINS (never a reflected origin with credentials), the
 * JSON body limit (HTTP_MAX_BODY_BYTES), and the server's header/request/keep-alive timeouts.
 */
import { startTestServer, type TestServer } from '../../support/test-server';
import { rawHttp } from './transport-support';

jest.setTimeout(60000);

let dev: TestServer; // defaults: CORS_ORIGINS=*, landing page on (not production)
let listed: TestServer; // CORS_ORIGINS list, small body limit
let timeouts: TestServer; // short HTTP timeouts, only spoken to over raw TCP
const ALLOWED = 'https://chat.example.com';
beforeAll(async () => {
  [dev, listed, timeouts] = await Promise.all([
    // The product's keep-alive default (5000 ms, tests/unit/config.test.ts); tests/support raises it for other tests.
    startTestServer({ HTTP_KEEP_ALIVE_TIMEOUT_MS: '5000' }),
    startTestServer({ CORS_ORIGINS: `${ALLOWED}, https://admin.example.com`, HTTP_MAX_BODY_BYTES: '4096' }),
    startTestServer({ HTTP_HEADERS_TIMEOUT_MS: '500', HTTP_REQUEST_TIMEOUT_MS: '1500', HTTP_KEEP_ALIVE_TIMEOUT_MS: '700' }),
  ]);
});
afterAll(async () => {
  await Promise.all([dev, listed, timeouts].map((s) => s?.close()));
});

const origin = (s: TestServer) => new URL(s.url).origin;
const gqlPost = (s: TestServer, headers: Record<string, string> = {}, body = JSON.stringify({ query: '{ __typename }' })) =>
  fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

describe('security headers (helmet)', () => {
  /** Headers every hardened route sends. */
  function expectHardened(h: Headers): void {
    expect(h.get('strict-transport-security')).toMatch(/max-age=\d+/);
    expect(h.get('x-content-type-options')).toBe('nosniff');
    expect(h.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(h.get('referrer-policy')).toBe('no-referrer');
    expect(h.get('x-powered-by')).toBeNull();
  }

  test('/api answers (and its 404s) carry them, with a CSP and same-origin resource policy', async () => {
    for (const path of ['/api/openapi.json', '/api/no-such-route/']) {
      const res = await fetch(`${origin(dev)}${path}`);
      expectHardened(res.headers);
      expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
      expect(res.headers.get('cross-origin-resource-policy')).toBe('same-origin');
      await res.arrayBuffer();
    }
  });

  test('/media carries them, but lets other origins embed files (<img src> of a signed URL)', async () => {
    const res = await fetch(`${origin(dev)}/media/1?exp=1&sig=x`);
    expect(res.status).toBe(404);
    expectHardened(res.headers);
    expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    await res.arrayBuffer();
  });

  test('/graphql carries them, with a strict CSP in development too: the GraphiQL page loads under its own', async () => {
    const res = await gqlPost(dev);
    expect(res.status).toBe(200);
    expectHardened(res.headers);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    await res.arrayBuffer();
    const page = await fetch(dev.url, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toMatch(/<script/i);
  });
});

describe('CORS', () => {
  const preflight = (s: TestServer, from: string) =>
    fetch(s.url, {
      method: 'OPTIONS',
      headers: { origin: from, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' },
    });

  test('the REST layer (/api) answers browsers of the listed origins too, and only those', async () => {
    const ask = (from: string) =>
      fetch(`${origin(listed)}/api/chat/rooms/`, {
        method: 'OPTIONS',
        headers: { origin: from, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
      });
    const pre = await ask(ALLOWED);
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
    const refused = await ask('https://evil.example');
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    const res = await fetch(`${origin(listed)}/api/chat/rooms/`, { headers: { origin: ALLOWED } });
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    await Promise.all([pre, refused, res].map((r) => r.arrayBuffer()));
  });

  test('CORS_ORIGINS=* allows any origin but never with credentials (no reflected origin)', async () => {
    const pre = await preflight(dev, 'https://evil.example');
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-credentials')).toBeNull();
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
    const res = await gqlPost(dev, { origin: 'https://evil.example' });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    await res.arrayBuffer();
  });

  test('a list allows exactly its origins, with credentials; any other origin gets no CORS headers', async () => {
    const pre = await preflight(listed, ALLOWED);
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(pre.headers.get('access-control-allow-credentials')).toBe('true');
    expect(pre.headers.get('vary')).toMatch(/origin/i);
    const res = await gqlPost(listed, { origin: ALLOWED });
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    await res.arrayBuffer();

    for (const other of ['https://evil.example', 'https://chat.example.com.evil.example', 'null']) {
      const refused = await preflight(listed, other);
      expect({ other, allow: refused.headers.get('access-control-allow-origin') }).toEqual({ other, allow: null });
      await refused.arrayBuffer();
    }
  });
});

describe('CORS: browser code reads X-Request-Id (issue 30)', () => {
  test('GraphQL and REST answers expose X-Request-Id to any allowed origin, with "*" and with a list', async () => {
    for (const [server, from] of [
      [dev, 'https://any.example'],
      [listed, ALLOWED],
    ] as const) {
      const gqlRes = await gqlPost(server, { origin: from });
      const restRes = await fetch(`${origin(server)}/api/chat/rooms/`, { headers: { origin: from } });
      for (const res of [gqlRes, restRes]) {
        expect(res.headers.get('x-request-id')).toBeTruthy();
        expect(res.headers.get('access-control-expose-headers')?.toLowerCase().split(/,\s*/)).toContain('x-request-id');
        await res.arrayBuffer();
      }
    }
  });
});

describe('body size (HTTP_MAX_BODY_BYTES=4096)', () => {
  const bodyOf = (bytes: number) => {
    const shell = JSON.stringify({ query: '{ __typename }', variables: { pad: '' } });
    return JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(bytes - shell.length) } });
  };

  test('a JSON body under the limit runs; one over it is 413 PAYLOAD_TOO_LARGE', async () => {
    const ok = await gqlPost(listed, {}, bodyOf(4000));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ data: { __typename: 'Query' } });
    const big = await gqlPost(listed, {}, bodyOf(5000));
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ errors: [{ extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
  });

  test('the multipart `operations` field has the same limit', async () => {
    const form = new FormData();
    form.set('operations', bodyOf(5000));
    form.set('map', '{}');
    const res = await fetch(listed.url, { method: 'POST', headers: { 'apollo-require-preflight': 'true' }, body: form });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ errors: [{ extensions: { code: 'PAYLOAD_TOO_LARGE' } }] });
  });
});

describe('server timeouts', () => {
  const port = (s: TestServer) => Number(new URL(s.url).port);

  test('HTTP_HEADERS_TIMEOUT_MS: headers that never finish get 408 and the connection is closed', async () => {
    const r = await rawHttp(port(timeouts), ['GET /healthz HTTP/1.1\r\nHost: localhost\r\n', 'X-Slow: 1\r\n'], { gapMs: 100 });
    expect(r.text).toMatch(/^HTTP\/1\.1 408/);
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(400);
    expect(r.closedAfterMs).toBeLessThan(5000);
  });

  test('HTTP_REQUEST_TIMEOUT_MS: a body that never finishes gets 408 and the connection is closed', async () => {
    const r = await rawHttp(port(timeouts), [
      'POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"query":',
    ]);
    expect(r.text).toMatch(/^HTTP\/1\.1 408/);
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(1200);
    expect(r.closedAfterMs).toBeLessThan(8000);
  });

  test('HTTP_KEEP_ALIVE_TIMEOUT_MS: an idle kept-alive connection is closed after it', async () => {
    const r = await rawHttp(port(timeouts), ['GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n']);
    expect(r.text).toMatch(/^HTTP\/1\.1 200/);
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(500);
    expect(r.closedAfterMs).toBeLessThan(5000);
  });

  test('the defaults are set too: keep-alive announced as 5 s, and the connection stays open meanwhile', async () => {
    const r = await rawHttp(port(dev), ['GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n'], { maxMs: 1500 });
    expect(r.text).toMatch(/^HTTP\/1\.1 200/);
    expect(r.text).toMatch(/\r\nKeep-Alive: timeout=5\r\n/i);
    expect(r.closedAfterMs).toBe(Infinity);
  });
});
