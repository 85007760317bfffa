/**
 * Issue 34, webhooks: the retry schedule (5 s ... 24 h, scaled by WEBHOOK_RETRY_BASE_MS, ±10 %
 * jitter, 10 attempts), bodies kept under 20 KB, and the signature against a fixed vector
 * computed independently of signWebhook.
 */
import { createHmac } from 'node:crypto';
import { signWebhook } from '../../src/domain/webhook/signing';
import { WEBHOOK_MAX_BODY, webhookBody } from '../../src/domain/webhook/webhook-events';
import { OutboundHttpClient } from '../../src/outbound/http-client';
import { WEBHOOK_SCHEDULE_MS, WebhookDelivery } from '../../src/webhook/webhook-delivery';

const HOURS = 3_600_000;

test('the schedule is 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h at the default base; 10 attempts in all', () => {
  expect(WEBHOOK_SCHEDULE_MS).toEqual([5000, 300_000, 1_800_000, 2 * HOURS, 5 * HOURS, 10 * HOURS, 14 * HOURS, 20 * HOURS, 24 * HOURS]);
  const d = new WebhookDelivery(new OutboundHttpClient(false), 5000);
  expect(d.maxAttempts).toBe(10);
  for (let attempt = 1; attempt <= 9; attempt++) {
    for (let i = 0; i < 20; i++) {
      const ms = d.backoffMs(attempt);
      expect(ms).toBeGreaterThanOrEqual(WEBHOOK_SCHEDULE_MS[attempt - 1] * 0.9 - 1);
      expect(ms).toBeLessThanOrEqual(WEBHOOK_SCHEDULE_MS[attempt - 1] * 1.1 + 1);
    }
  }
  const spread = new Set(Array.from({ length: 20 }, () => d.backoffMs(3)));
  expect(spread.size).toBeGreaterThan(1); // jitter
});

test('WEBHOOK_RETRY_BASE_MS scales the whole schedule', () => {
  const d = new WebhookDelivery(new OutboundHttpClient(true), 50);
  const ms = d.backoffMs(2);
  expect(ms).toBeGreaterThanOrEqual(2700);
  expect(ms).toBeLessThanOrEqual(3300);
  expect(d.backoffMs(99)).toBeLessThanOrEqual(24 * HOURS * 0.01 * 1.1);
});

test('a body stays under 20 KB: long content is cut and flagged, short content untouched', () => {
  const at = new Date('2026-12-07T19:00:00Z');
  const short = webhookBody('message.created', at, { id: 1, content: 'hi' });
  expect(short).toEqual({ type: 'message.created', timestamp: '2026-12-07T19:00:00.000Z', data: { id: 1, content: 'hi' } });
  const long = webhookBody('message.created', at, { id: 1, content: 'ư'.repeat(20_000) });
  expect(Buffer.byteLength(JSON.stringify(long))).toBeLessThanOrEqual(WEBHOOK_MAX_BODY);
  expect(long.data.contentTruncated).toBe(true);
  expect((long.data.content as string).length).toBeGreaterThan(1000);
});

test('the v1 signature is base64 HMAC-SHA256 of id.timestamp.body keyed with the decoded secret', () => {
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const body = '{"test": 2432232314}';
  const expected = createHmac('sha256', Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64'))
    .update(`msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.${body}`)
    .digest('base64');
  expect(signWebhook(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body)).toBe(`v1,${expected}`);
  // The Standard Webhooks specification's published example.
  expect(signWebhook(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body)).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
});
