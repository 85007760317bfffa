import { createECDH, createPublicKey, randomBytes, type ECDH } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jwtVerify } from 'jose';
// http_ece is web-push's own encryption library (RFC 8188); here it decrypts as a browser would.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ece = require('http_ece') as { decrypt(buffer: Buffer, params: Record<string, unknown>): Buffer };

/** One push a receiver accepted: its decrypted payload (Web Push) or message (FCM), and headers. */
export interface ReceivedPush {
  path: string;
  headers: IncomingMessage['headers'];
  payload: any;
}

/** A local HTTP server; `answers` (status codes) are used first, in order, then 201. */
export interface Receiver {
  url: string;
  received: ReceivedPush[];
  answers: number[];
  close(): Promise<void>;
  /** Stops listening (the push service is down) and starts again on the same port. */
  down(): Promise<void>;
  up(): Promise<void>;
}

async function listen(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function bodyOf(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

async function receiver(
  handle: (req: IncomingMessage, body: Buffer) => Promise<{ status: number; body?: unknown; push?: ReceivedPush }>,
  answers: number[],
): Promise<Receiver> {
  const received: ReceivedPush[] = [];
  let server: Server;
  const make = () =>
    createServer(async (req, res) => {
      const body = await bodyOf(req);
      try {
        const out = await handle(req, body);
        const status = out.status !== 200 ? out.status : (answers.shift() ?? 200);
        if (status < 300 && out.push) received.push(out.push);
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(out.body ?? {}));
      } catch (err) {
        res.writeHead(400).end(String(err));
      }
    });
  server = make();
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    answers,
    close: () => new Promise((resolve) => server.close(() => resolve())),
    down: () => new Promise((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
    up: async () => {
      server = make();
      await listen(server, port);
    },
  };
}

/** A browser's push subscription: P-256 keys and auth secret made here (PushSubscription.toJSON()). */
export interface Subscription {
  endpoint: string;
  p256dh: string;
  auth: string;
  ecdh: ECDH;
}

/**
 * A Web Push service on this machine (RFC 8030): for each POST it verifies the VAPID JWT
 * (RFC 8292: `Authorization: vapid t=<jwt>, k=<key>`, ES256 by the server's public key, `aud`
 * the endpoint's origin, `sub` the subject), decrypts the body (RFC 8291 aes128gcm) with the
 * subscription's private key and auth secret, and records the payload.
 */
export async function webPushService(vapidPublicKey: string, answers: number[] = []): Promise<Receiver & { subscribe(path: string): Subscription }> {
  const subs = new Map<string, Subscription>();
  const r = await receiver(async (req, body) => {
    const sub = subs.get(req.url ?? '');
    if (!sub) return { status: 404 };
    const m = /^vapid t=([^,]+), k=(.+)$/.exec(String(req.headers.authorization));
    if (!m || m[2] !== vapidPublicKey) throw new Error('bad VAPID header');
    const raw = Buffer.from(vapidPublicKey, 'base64url');
    const key = createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33).toString('base64url') },
      format: 'jwk',
    });
    const { payload: claims } = await jwtVerify(m[1], key, { audience: new URL(sub.endpoint).origin, algorithms: ['ES256'] });
    if (!String(claims.sub).startsWith('mailto:')) throw new Error('bad VAPID subject');
    if (req.headers['content-encoding'] !== 'aes128gcm') throw new Error('not aes128gcm');
    const plain = ece.decrypt(body, { version: 'aes128gcm', privateKey: sub.ecdh, authSecret: sub.auth });
    return { status: 200, push: { path: req.url ?? '', headers: req.headers, payload: JSON.parse(plain.toString('utf8')) } };
  }, answers);
  return {
    ...r,
    subscribe(path: string): Subscription {
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const sub = { endpoint: `${r.url}${path}`, p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url'), ecdh };
      subs.set(path, sub);
      return sub;
    },
  };
}
