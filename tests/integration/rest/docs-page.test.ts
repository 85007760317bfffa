/**
 * Issue 15, item 3: /api/docs is a browsable page of the OpenAPI document, from local assets only
 * (closed networks): the page, its script and styles come from this server, and the page points
 * at /api/openapi.json.
 */
import { startTestServer, type TestServer } from '../../support/test-server';

let server: TestServer;
let origin: string;
beforeAll(async () => {
  server = await startTestServer();
  origin = server.url.replace(/\/graphql$/, '');
});
afterAll(async () => { await server.close(); });

test('the page loads its assets from this server only, and reads /api/openapi.json', async () => {
  for (const path of ['/api/docs', '/api/docs/']) {
    const res = await fetch(`${origin}${path}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    const html = await res.text();
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThanOrEqual(3);
    for (const ref of refs) {
      expect(ref.startsWith('/api/docs/')).toBe(true);
      const asset = await fetch(`${origin}${ref}`);
      expect(asset.status).toBe(200);
      expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(100);
    }
    // No inline script: the page's CSP (helmet's default, script-src 'self') stays strict.
    expect(html).not.toMatch(/<script>(?!<\/script>)/);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
  }
  const init = await (await fetch(`${origin}/api/docs/init.js`)).text();
  expect(init).toContain("url: '/api/openapi.json'");
  expect(init).toContain('validatorUrl: null');
  expect((await fetch(`${origin}/api/docs/assets/no-such-file.js`)).status).toBe(404);
});
