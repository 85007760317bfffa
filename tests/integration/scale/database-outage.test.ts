/**
 * Issue 6: PostgreSQL goes away under a running server and comes back. Runs when DATABASE_URL
 * is set (the server reaches PostgreSQL through a TCP proxy that the test cuts and restores).
 */
import { gql, gqlOk, registerUser } from '../../support/client';
import { createTestDatabase, testAppOptions, testConfig, type TestDatabase } from '../../support/test-server';
import { TcpProxy } from '../../support/tcp-proxy';
import { startApp, type RunningApp } from '../../../src/app';

const describePg = process.env.DATABASE_URL ? describe : describe.skip;
jest.setTimeout(60000);

describePg('PostgreSQL outage', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let app: RunningApp;
  beforeAll(async () => {
    db = await createTestDatabase();
    const target = new URL(db.url);
    proxy = await new TcpProxy(target.hostname, Number(target.port || 5432)).start();
    const viaProxy = new URL(db.url);
    viaProxy.port = String(proxy.port);
    app = await startApp(testConfig({ DATABASE_URL: viaProxy.toString() }), testAppOptions());
  });
  afterAll(async () => {
    await app?.stop();
    await proxy?.close();
    await db?.drop();
  });

  const readyz = async () => {
    const res = await fetch(app.url.replace(/\/graphql$/, '/readyz'));
    return { status: res.status, body: await res.json() };
  };

  test('operations fail fast with a clear code, /readyz answers 503, and the server recovers without a restart', async () => {
    const user = await registerUser(app.url, 'pgout');
    expect((await readyz()).status).toBe(200);

    await proxy.cut();
    const started = Date.now();
    const r = await gql(app.url, `{ me { id username } }`, {}, user.token);
    const tookMs = Date.now() - started;
    expect(r.errors?.[0]).toMatchObject({
      message: 'Database unavailable; try again shortly',
      extensions: { code: 'INTERNAL_SERVER_ERROR', reason: 'DATABASE_UNAVAILABLE' },
    });
    expect(tookMs).toBeLessThan(15000); // the pool does not queue the request for a minute
    const rest = await fetch(app.url.replace(/\/graphql$/, '/api/chat/unread/count/'), { headers: { authorization: `Bearer ${user.token}` } });
    expect(rest.status).toBe(503);
    expect(rest.headers.get('retry-after')).toBeTruthy();
    expect(await rest.json()).toEqual({ error: 'Database unavailable; try again shortly', detail: 'Database unavailable; try again shortly' });
    expect(await readyz()).toEqual({ status: 503, body: expect.objectContaining({ status: 'unavailable', database: 'unreachable' }) });

    await proxy.restore();
    let me: any;
    for (let i = 0; i < 50 && !me; i++) {
      const again = await gql(app.url, `{ me { id username } }`, {}, user.token);
      if (again.data?.me) me = again.data.me;
      else await new Promise((res) => setTimeout(res, 200));
    }
    expect(me).toEqual({ id: user.id, username: user.username });
    expect((await readyz()).status).toBe(200);
    // Writes work again too.
    const other = await registerUser(app.url, 'pgback');
    const sent = await gqlOk(
      app.url,
      `mutation($u: ID!) { sendMessage(input: { recipientId: $u, content: "back" }) { seq content } }`,
      { u: other.id },
      user.token,
    );
    expect(sent.sendMessage).toEqual({ seq: 1, content: 'back' });
  });
});
