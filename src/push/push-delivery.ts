import type { EntityManager } from '@mikro-orm/postgresql';
import { importPKCS8, SignJWT } from 'jose';
import webPush from 'web-push';
import type { PushConfig } from '../config/config';
import type { OutboxHandler, OutboxRow, Outcome } from '../outbox/outbox-worker';
import { OutboundRefused, type OutboundHttpClient, type OutboundResponse } from '../outbound/http-client';
import type { PushContent } from './push-fanout';

interface DeviceRow {
  id: number;
  platform: 'FCM' | 'WEB_PUSH';
  token: string;
  p256dh: string | null;
  auth: string | null;
}

/** Retry-After (seconds or an HTTP date) as a Date, or null. */
function retryAfter(res: OutboundResponse): Date | null {
  const v = res.headers['retry-after'];
  if (!v) return null;
  const s = Number(v);
  if (Number.isFinite(s)) return new Date(Date.now() + Math.min(s, 86400) * 1000);
  const d = Date.parse(String(v));
  return Number.isFinite(d) ? new Date(Math.min(d, Date.now() + 86400_000)) : null;
}

/** Deletes the device (the push service says it is gone), in the transaction recording the row. */
const removeDevice = (id: number) => async (tx: EntityManager) => {
  await tx.execute('delete from "push_devices" where "id" = ?', [id]);
};

/** Failed deliveries in a row after which a device is switched off (issue 34: a device that keeps failing cannot grow the outbox). */
export const FAILURES_TO_SWITCH_OFF = 3;

/**
 * Switches the device off (`active` false: the fan-out writes it no more rows, its pending ones
 * finish without a call) when its last FAILURES_TO_SWITCH_OFF finished deliveries, this one
 * included, all failed; a delivery that succeeded in between breaks the run. Runs in the
 * transaction that records the row as FAILED. Registering the device again switches it back on.
 */
const switchOffIfFailing = (id: number) => async (tx: EntityManager) => {
  await tx.execute(
    `update "push_devices" set "active" = false, "updated_at" = ? where "id" = ? and "active"
       and (select count(*) filter (where r."status" = 'FAILED') from (select "status" from "outbox" where "channel" = 'push' and "kind" = 'delivery' and "target_id" = ? and "status" <> 'PENDING'
            order by "finished_at" desc, "id" desc limit ?) r) = ?`,
    [new Date(), id, id, FAILURES_TO_SWITCH_OFF, FAILURES_TO_SWITCH_OFF],
  );
};

/**
 * Access tokens for FCM HTTP v1 (issue 34): the OAuth 2.0 JWT-bearer grant (RFC 7523) at the
 * service account's `token_uri`, an RS256 assertion signed with its key (jose), scope
 * firebase.messaging. A token is kept until a minute before it expires; concurrent callers share one request.
 */
export class GoogleAccessTokens {
  private cached?: { token: string; until: number };
  private pending?: Promise<string>;

  constructor(
    private readonly fcm: NonNullable<PushConfig['fcm']>,
    private readonly http: OutboundHttpClient,
  ) {}

  /** @throws Error when the token endpoint refuses or cannot be reached. */
  get(): Promise<string> {
    if (this.cached && this.cached.until > Date.now()) return Promise.resolve(this.cached.token);
    return (this.pending ??= this.fetch().finally(() => (this.pending = undefined)));
  }

  /** Forgets the cached token (FCM answered 401). */
  invalidate(): void {
    this.cached = undefined;
  }

  private async fetch(): Promise<string> {
    const { account } = this.fcm;
    const key = await importPKCS8(account.private_key, 'RS256');
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ scope: 'https://www.googleapis.com/auth/firebase.messaging' })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setIssuer(account.client_email)
      .setAudience(account.token_uri)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(key);
    const res = await this.http.send(
      account.token_uri,
      {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }).toString(),
      },
      false,
    );
    if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}`);
    const body = JSON.parse(res.body) as { access_token?: string; expires_in?: number };
    if (!body.access_token) throw new Error('token endpoint gave no access_token');
    this.cached = { token: body.access_token, until: Date.now() + Math.max(0, (body.expires_in ?? 3600) - 60) * 1000 };
    return body.access_token;
  }
}

/**
 * Delivers one `push:delivery` row to its device (issue 34): Web Push (RFC 8030/8291/8292: the
 * `web-push` library's `generateRequestDetails` encrypts (aes128gcm) and signs (VAPID), the
 * outbound client sends, under the SSRF guard) or FCM HTTP v1. 2xx: delivered (the device's
 * lastPushAt). Web Push 404/410, FCM UNREGISTERED or INVALID_ARGUMENT: the device is deleted.
 * 429 and 5xx (FCM QUOTA_EXCEEDED, UNAVAILABLE, INTERNAL), network errors: retried with backoff,
 * honouring Retry-After, at most `maxAttempts` times. Other refusals: failed; after
 * FAILURES_TO_SWITCH_OFF failed deliveries in a row the device is switched off.
 */
export class PushDelivery implements OutboxHandler {
  readonly maxAttempts = 8;
  private readonly tokens?: GoogleAccessTokens;

  constructor(
    private readonly config: PushConfig,
    private readonly http: OutboundHttpClient,
  ) {
    if (config.fcm) this.tokens = new GoogleAccessTokens(config.fcm, http);
  }

  /** PUSH_RETRY_BASE_MS times 4 per attempt, at most 1 h. */
  backoffMs(attempts: number): number {
    return Math.min(3_600_000, this.config.retryBaseMs * 4 ** (attempts - 1));
  }

  async handle(row: OutboxRow, em: EntityManager): Promise<Outcome> {
    const [device] = await em.execute<DeviceRow[]>('select "id", "platform", "token", "p256dh", "auth" from "push_devices" where "id" = ? and "active"', [
      row.target_id,
    ]);
    if (!device) return { done: true, note: 'device unregistered meanwhile' };
    const content = row.payload as unknown as PushContent;
    let outcome: Outcome;
    try {
      outcome = device.platform === 'WEB_PUSH' ? await this.webPush(device, content, row) : await this.fcm(device, content);
    } catch (err) {
      outcome = err instanceof OutboundRefused ? { failed: `refused: ${err.message}` } : { retry: (err as Error).message };
    }
    // The last attempt's retry is a failure here (the worker would give up too), so that it counts towards switching the device off.
    if ('retry' in outcome && row.attempts >= this.maxAttempts) outcome = { failed: `gave up after ${row.attempts} attempts: ${outcome.retry}` };
    if ('failed' in outcome && !outcome.also) return { ...outcome, also: switchOffIfFailing(device.id) };
    if ('done' in outcome && !outcome.also) {
      return {
        ...outcome,
        also: async (tx) => void (await tx.execute('update "push_devices" set "last_push_at" = ? where "id" = ?', [new Date(), device.id])),
      };
    }
    return outcome;
  }

  private async webPush(device: DeviceRow, content: PushContent, row: OutboxRow): Promise<Outcome> {
    const vapid = this.config.webPush;
    if (!vapid) return { failed: 'Web Push is not configured' };
    const payload = JSON.stringify({ type: 'message', tag: content.collapseKey, key: row.key, ...content });
    const details = webPush.generateRequestDetails({ endpoint: device.token, keys: { p256dh: device.p256dh ?? '', auth: device.auth ?? '' } }, payload, {
      vapidDetails: { subject: vapid.subject, publicKey: vapid.publicKey, privateKey: vapid.privateKey },
      TTL: this.config.ttlSec,
      urgency: content.urgent ? 'high' : 'normal',
      topic: content.collapseKey,
      contentEncoding: 'aes128gcm',
    });
    const res = await this.http.send(details.endpoint, {
      method: details.method,
      headers: details.headers as Record<string, string>,
      body: details.body ?? undefined,
    });
    if (res.status >= 200 && res.status < 300) return { done: true };
    if (res.status === 404 || res.status === 410) return { failed: `push service answered ${res.status}: device removed`, also: removeDevice(device.id) };
    if (res.status === 429 || res.status >= 500) return { retry: `push service answered ${res.status}`, at: retryAfter(res) };
    return { failed: `push service answered ${res.status}` };
  }

  private async fcm(device: DeviceRow, content: PushContent): Promise<Outcome> {
    const fcm = this.config.fcm;
    if (!fcm || !this.tokens) return { failed: 'FCM is not configured' };
    const data: Record<string, string> = {
      type: 'message',
      messageId: String(content.messageId),
      conversationId: String(content.conversationId),
      unreadCount: String(content.unreadCount),
    };
    const notification = content.title ? { title: content.title, ...(content.body ? { body: content.body } : {}) } : undefined;
    const message = {
      token: device.token,
      data,
      ...(notification ? { notification } : {}),
      android: {
        collapse_key: content.collapseKey,
        priority: content.urgent ? 'high' : 'normal',
        ttl: `${this.config.ttlSec}s`,
        ...(notification ? { notification: { tag: content.collapseKey, notification_count: content.unreadCount } } : {}),
      },
      apns: {
        headers: { 'apns-collapse-id': content.collapseKey, 'apns-expiration': String(Math.floor(Date.now() / 1000) + this.config.ttlSec) },
        payload: { aps: { badge: content.unreadCount, ...(notification ? {} : { 'content-available': 1 }) } },
      },
      webpush: { headers: { Topic: content.collapseKey, TTL: String(this.config.ttlSec) } },
    };
    const token = await this.tokens.get();
    const res = await this.http.send(
      `${fcm.apiUrl}/v1/projects/${encodeURIComponent(fcm.projectId)}/messages:send`,
      { headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ message }) },
      false,
    );
    if (res.status >= 200 && res.status < 300) return { done: true };
    let status = '';
    let codes: string[] = [];
    try {
      const err = (JSON.parse(res.body) as { error?: { status?: string; details?: { errorCode?: string }[] } }).error;
      status = err?.status ?? '';
      codes = (err?.details ?? []).map((d) => d.errorCode ?? '').filter(Boolean);
    } catch {
      // not JSON: judged by the status alone
    }
    const all = [status, ...codes];
    if (all.includes('UNREGISTERED') || all.includes('INVALID_ARGUMENT') || (res.status === 404 && !status))
      return { failed: `FCM answered ${res.status} ${all.join(' ')}: device removed`, also: removeDevice(device.id) };
    if (res.status === 401) {
      this.tokens.invalidate();
      return { retry: 'FCM answered 401: access token renewed' };
    }
    if (res.status === 429 || res.status >= 500 || all.some((c) => ['QUOTA_EXCEEDED', 'UNAVAILABLE', 'INTERNAL'].includes(c)))
      return { retry: `FCM answered ${res.status} ${all.join(' ')}`, at: retryAfter(res) };
    return { failed: `FCM answered ${res.status} ${all.join(' ')}` };
  }
}
