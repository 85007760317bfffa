/**
 * Issue 34, "Devices and preferences": setNotificationLevel and Membership.notificationLevel (the
 * kind's default until set), webPushPublicKey, and Web Push endpoints held to the SSRF rules.
 */
import { codeOf, gql, gqlOk, registerUser, type TestUser } from '../support/client';
import { startTestServer, type TestServer } from '../support/test-server';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

const q = (u: TestUser, query: string, vars: Record<string, unknown> = {}) => gqlOk(server.url, query, vars, u.token);
const LEVEL = '{ conversation(id: $c) { viewerMembership { notificationLevel } } }';
const levelOf = async (u: TestUser, c: string) => (await q(u, `query($c: ID!) ${LEVEL}`, { c })).conversation.viewerMembership.notificationLevel;
const SET = 'mutation($c: ID!, $l: NotificationLevel!) { setNotificationLevel(conversationId: $c, level: $l) { id notificationLevel } }';

describe('notification levels', () => {
  it('default ALL for DIRECT and GROUP, MENTIONS for ROOM; set per member; strangers NOT_FOUND; bad level refused', async () => {
    const a = await registerUser(server.url, 'pla');
    const b = await registerUser(server.url, 'plb');
    const stranger = await registerUser(server.url, 'pls');
    const direct = (await q(a, 'mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: b.id })).openDirectChat.id;
    const group = (await q(a, 'mutation($m: [ID!]!) { createGroup(input: { name: "g", memberIds: $m }) { id } }', { m: [b.id] })).createGroup.id;
    const room = (await q(a, 'mutation { createRoom(input: { name: "r", visibility: PUBLIC }) { id } }')).createRoom.id;
    expect([await levelOf(a, direct), await levelOf(a, group), await levelOf(a, room)]).toEqual(['ALL', 'ALL', 'MENTIONS']);
    expect((await q(a, SET, { c: room, l: 'ALL' })).setNotificationLevel.notificationLevel).toBe('ALL');
    expect((await q(b, SET, { c: group, l: 'NONE' })).setNotificationLevel.notificationLevel).toBe('NONE');
    expect([await levelOf(a, room), await levelOf(a, group), await levelOf(b, group)]).toEqual(['ALL', 'ALL', 'NONE']);
    expect(codeOf(await gql(server.url, SET, { c: group, l: 'ALL' }, stranger.token))).toBe('NOT_FOUND');
    expect(codeOf(await gql(server.url, SET, { c: group, l: 'SOME' }, a.token))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(server.url, SET, { c: group, l: 'ALL' }))).toBe('UNAUTHENTICATED');
    // A burst of the same change: one answer each, the level stands.
    await Promise.all(Array.from({ length: 8 }, () => q(b, SET, { c: group, l: 'MENTIONS' })));
    expect(await levelOf(b, group)).toBe('MENTIONS');
  });
});

describe('Web Push devices', () => {
  it('webPushPublicKey is null without VAPID; endpoints must be https and public (a name resolving to 127.0.0.1 too)', async () => {
    const u = await registerUser(server.url, 'plw');
    expect((await q(u, '{ webPushPublicKey }')).webPushPublicKey).toBeNull();
    const REGISTER = 'mutation($i: RegisterPushDeviceInput!) { registerPushDevice(input: $i) { id } }';
    const keys = { p256dh: 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM', auth: 'tBHItJI5svbpez7KI4CCXg' };
    for (const endpoint of [
      'https://localhost/push',
      'https://127.0.0.1/push',
      'https://169.254.169.254/latest',
      'https://10.1.2.3/x',
      'https://[::1]/x',
      'https://[::ffff:127.0.0.1]/x',
      'https://[fd00::1]/x',
      'http://8.8.8.8/x',
    ]) {
      const r = await gql(server.url, REGISTER, { i: { platform: 'WEB_PUSH', webPush: { endpoint, ...keys } } }, u.token);
      expect([endpoint, codeOf(r), r.errors?.[0]?.extensions?.field]).toEqual([endpoint, 'BAD_USER_INPUT', 'webPush.endpoint']);
    }
    const ok = await gql(server.url, REGISTER, { i: { platform: 'WEB_PUSH', webPush: { endpoint: 'https://8.8.8.8/push/1', ...keys } } }, u.token);
    expect(ok.errors).toBeUndefined();
  });
});
