/**
 * Issue 34, FCM HTTP v1 through the outbox, against a stand-in for Google's token endpoint and FCM
 * on this machine: the token endpoint verifies the JWT-bearer assertion (RS256 by the service
 * account's key, iss, aud = token_uri, scope) and FCM the bearer token and the message. Seed 002's
 * staff push ("Tin nhắn mới từ <name>", the first 100 characters) reaches every staff user;
 * tokens are cached; UNREGISTERED deletes the device.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jwtVerify } from 'jose';
import { User } from '../../src/domain/user/user.entity';
import { gqlOk, registerUser, waitFor, type TestUser } from '../support/client';
import { startTestServer, type TestServer } from '../support/test-server';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const CLIENT_EMAIL = 'push@chat-test.iam.gserviceaccount.com';
const dir = mkdtempSync(join(tmpdir(), 'fcm-test-'));
let google: Server;
let base = '';
let tokenRequests = 0;
const messages: any[] = [];
let server: TestServer;

beforeAll(async () => {
  google = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      try {
        if (req.url === '/token') {
          const form = new URLSearchParams(body);
          expect(form.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
          const { payload } = await jwtVerify(form.get('assertion')!, publicKey, { audience: `${base}/token`, issuer: CLIENT_EMAIL, algorithms: ['RS256'] });
          expect(payload.scope).toBe('https://www.googleapis.com/auth/firebase.messaging');
          tokenRequests++;
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: `ya29.t${tokenRequests}`, expires_in: 3600 }));
          return;
        }
        expect(req.url).toBe('/v1/projects/chat-test/messages:send');
        expect(req.headers.authorization).toBe(`Bearer ya29.t${tokenRequests}`);
        const { message } = JSON.parse(body);
        if (message.token === 'dead-token') {
          res.writeHead(404, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              error: {
                code: 404,
                status: 'NOT_FOUND',
                details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' }],
              },
            }),
          );
          return;
        }
        messages.push(message);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: `projects/chat-test/messages/${messages.length}` }));
      } catch (err) {
        res.writeHead(400).end(String(err));
      }
    });
  });
  await new Promise<void>((r) => google.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(google.address() as AddressInfo).port}`;
  const keyFile = join(dir, 'service-account.json');
  writeFileSync(
    keyFile,
    JSON.stringify({
      type: 'service_account',
      client_email: CLIENT_EMAIL,
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
      token_uri: `${base}/token`,
    }),
  );
  server = await startTestServer({
    FCM_PROJECT_ID: 'chat-test',
    GOOGLE_APPLICATION_CREDENTIALS: keyFile,
    FCM_API_URL: base,
    OUTBOX_POLL_MS: '50',
    PUSH_DELAY_MS: '500',
  });
});
afterAll(async () => {
  await server.close();
  await new Promise((r) => google.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const q = (u: TestUser, query: string, vars: Record<string, unknown> = {}) => gqlOk(server.url, query, vars, u.token);
const REGISTER = 'mutation($t: String!) { registerPushDevice(input: { platform: FCM, fcmToken: $t }) { id } }';

describe('FCM HTTP v1', () => {
  it("a customer's support message reaches every staff user's devices with seed 002's title; one token for many pushes; UNREGISTERED deletes the device", async () => {
    const customer = await registerUser(server.url, 'fcmc', { firstName: 'Lan', lastName: 'Nguyen' });
    const staff1 = await registerUser(server.url, 'fcms');
    const staff2 = await registerUser(server.url, 'fcmt');
    for (const s of [staff1, staff2]) await server.orm.em.fork().nativeUpdate(User, { id: Number(s.id) }, { isStaff: true });
    await q(staff1, REGISTER, { t: 'staff1-phone' });
    await q(staff2, REGISTER, { t: 'staff2-phone' });
    await q(staff2, REGISTER, { t: 'dead-token' });
    await q(customer, REGISTER, { t: 'customer-phone' });
    const text = 'Xin chào, tôi cần hỗ trợ về đơn hàng. '.repeat(5);
    const sent = (await q(customer, 'mutation($t: String!) { sendMessage(input: { toSupport: true, content: $t }) { id conversationId } }', { t: text }))
      .sendMessage;
    await waitFor(() => messages.length === 2, 'two staff pushes');
    const cid = sent.conversationId;
    expect(messages.map((m) => m.token).sort()).toEqual(['staff1-phone', 'staff2-phone']);
    for (const m of messages) {
      expect(m.notification).toEqual({ title: 'Tin nhắn mới từ Lan Nguyen', body: [...text.replace(/\s+/g, ' ').trim()].slice(0, 100).join('') });
      expect(m.data).toMatchObject({ type: 'message', messageId: sent.id, conversationId: cid, unreadCount: '1' });
      expect(m.android).toMatchObject({ collapse_key: `c${cid}`, ttl: '86400s' });
      expect(m.apns.headers['apns-collapse-id']).toBe(`c${cid}`);
    }
    await waitFor(async () => (await q(staff2, '{ pushDevices { id } }')).pushDevices.length === 1, 'the UNREGISTERED device deleted');
    await q(customer, 'mutation($t: String!) { sendMessage(input: { toSupport: true, content: $t }) { id } }', { t: 'second' });
    await waitFor(() => messages.length === 4, 'two more pushes');
    expect(messages.slice(2).map((m) => m.data.unreadCount)).toEqual(['2', '2']);
    expect(tokenRequests).toBe(1);
    expect(messages.some((m) => m.token === 'customer-phone')).toBe(false);
  });
});
