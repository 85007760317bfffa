/**
 * Issue 27 §5, privacy: `updatePrivacy` and `User.privacy` (contract PrivacySettings). Presence
 * and lastSeenAt follow `presenceVisibility` (EVERYONE, CONTACTS = contacts and co-members, the
 * default, NOBODY) on queries and on the presence subscription; with `sendReadReceipts` off a
 * user's read receipts reach only their own sessions. Real server, real graphql-ws clients.
 */
import { codeOf, gql, gqlOk, registerUser, trackRealtime, waitFor, type TestUser } from '../support/client';
import { startTestServer, type TestServer } from '../support/test-server';
import { call } from './rest/rest-support';

jest.setTimeout(60_000);

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});
const rt = trackRealtime(
  () => server.wsUrl,
  () => server,
);

const PRIVACY = 'mutation($i: PrivacySettingsInput!) { updatePrivacy(input: $i) { sendReadReceipts presenceVisibility } }';
const SEEN = 'query($id: ID!) { user(id: $id) { presence lastSeenAt privacy { presenceVisibility } } }';
const setPrivacy = (u: TestUser, i: Record<string, unknown>) => gqlOk(server.url, PRIVACY, { i }, u.token);
const seen = async (viewer: TestUser, target: TestUser) => (await gqlOk(server.url, SEEN, { id: target.id }, viewer.token)).user;
/** A GROUP of `owner` with `members`: co-members. */
const group = async (owner: TestUser, ...members: TestUser[]) =>
  (await gqlOk(server.url, 'mutation($u: [ID!]!) { createGroup(input: { name: "g", memberIds: $u }) { id } }', { u: members.map((m) => m.id) }, owner.token))
    .createGroup.id as string;
/** `target` goes online (a socket) and then offline, so it has a lastSeenAt; then online again. */
async function onlineWithLastSeen(target: TestUser) {
  const first = rt.client(target);
  await rt.sub(first, 'subscription { notificationAdded { id } }').ready();
  await first.dispose();
  await waitFor(async () => (await seen(target, target)).lastSeenAt != null, 'a last-seen time');
  await rt.sub(rt.client(target), 'subscription { notificationAdded { id } }').ready();
  await waitFor(async () => (await seen(target, target)).presence === 'ONLINE', 'the target online');
}

describe('updatePrivacy and User.privacy', () => {
  test('defaults CONTACTS and true; only the user sees their own privacy; omitted or null fields stay', async () => {
    const u = await registerUser(server.url, 'pv');
    const other = await registerUser(server.url, 'pvo');
    expect((await gqlOk(server.url, '{ me { privacy { sendReadReceipts presenceVisibility } } }', {}, u.token)).me.privacy).toEqual({
      sendReadReceipts: true,
      presenceVisibility: 'CONTACTS',
    });
    expect((await seen(other, u)).privacy).toBeNull();
    expect((await setPrivacy(u, { presenceVisibility: 'NOBODY' })).updatePrivacy).toEqual({ sendReadReceipts: true, presenceVisibility: 'NOBODY' });
    expect((await setPrivacy(u, { sendReadReceipts: false, presenceVisibility: null })).updatePrivacy).toEqual({
      sendReadReceipts: false,
      presenceVisibility: 'NOBODY',
    });
    expect((await setPrivacy(u, {})).updatePrivacy).toEqual({ sendReadReceipts: false, presenceVisibility: 'NOBODY' });
    expect((await seen(other, u)).privacy).toBeNull();
    expect((await seen(u, u)).privacy).toEqual({ presenceVisibility: 'NOBODY' });
    const rows = await server.orm.em.fork().execute('select "presence_visibility", "send_read_receipts" from "users" where "id" = ?', [Number(u.id)]);
    expect(rows[0]).toEqual({ presence_visibility: 'NOBODY', send_read_receipts: false });
  });

  test('bad input is refused with a code, changing nothing; anonymous is UNAUTHENTICATED', async () => {
    const u = await registerUser(server.url, 'pvb');
    for (const i of [{ presenceVisibility: 'FRIENDS' }, { sendReadReceipts: 'no' }, { presenceVisibility: 1 }, { other: true }]) {
      const res = await gql(server.url, PRIVACY, { i }, u.token);
      expect([codeOf(res), i]).toEqual(['BAD_USER_INPUT', i]);
    }
    expect(codeOf(await gql(server.url, PRIVACY, { i: { sendReadReceipts: false } }))).toBe('UNAUTHENTICATED');
    expect((await gqlOk(server.url, '{ me { privacy { sendReadReceipts presenceVisibility } } }', {}, u.token)).me.privacy).toEqual({
      sendReadReceipts: true,
      presenceVisibility: 'CONTACTS',
    });
  });

  test('a burst of updates by one user ends on one of them, whole (no mixed row)', async () => {
    const u = await registerUser(server.url, 'pvc');
    const values = ['EVERYONE', 'CONTACTS', 'NOBODY'] as const;
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => setPrivacy(u, { presenceVisibility: values[i % 3], sendReadReceipts: i % 2 === 0 })),
    );
    expect(answers).toHaveLength(12);
    const final = (await gqlOk(server.url, '{ me { privacy { sendReadReceipts presenceVisibility } } }', {}, u.token)).me.privacy;
    expect(answers.map((a) => a.updatePrivacy)).toContainEqual(final);
  });
});

describe('presence visibility', () => {
  test('CONTACTS (default): co-members and contacts see ONLINE and lastSeenAt, strangers OFFLINE and null; EVERYONE shows all; NOBODY shows none but the user', async () => {
    const target = await registerUser(server.url, 'pt');
    const mate = await registerUser(server.url, 'ptm');
    const contact = await registerUser(server.url, 'ptc');
    const stranger = await registerUser(server.url, 'pts');
    await group(target, mate);
    const req = await gqlOk(server.url, 'mutation($u: ID!) { requestContact(userId: $u) { id } }', { u: target.id }, contact.token);
    await gqlOk(server.url, 'mutation($i: ID!) { acceptContact(id: $i) { id } }', { i: req.requestContact.id }, target.token);
    await onlineWithLastSeen(target);

    const view = async () =>
      Object.fromEntries(
        await Promise.all(
          [
            ['self', target],
            ['mate', mate],
            ['contact', contact],
            ['stranger', stranger],
          ].map(async ([k, v]) => {
            const s = await seen(v as TestUser, target);
            return [k, `${s.presence} ${s.lastSeenAt ? 'seen' : 'null'}`];
          }),
        ),
      );
    expect(await view()).toEqual({ self: 'ONLINE seen', mate: 'ONLINE seen', contact: 'ONLINE seen', stranger: 'OFFLINE null' });
    await setPrivacy(target, { presenceVisibility: 'EVERYONE' });
    expect(await view()).toEqual({ self: 'ONLINE seen', mate: 'ONLINE seen', contact: 'ONLINE seen', stranger: 'ONLINE seen' });
    await setPrivacy(target, { presenceVisibility: 'NOBODY' });
    expect(await view()).toEqual({ self: 'ONLINE seen', mate: 'OFFLINE null', contact: 'OFFLINE null', stranger: 'OFFLINE null' });
    // In a list too (users search), and staff get no exception.
    const listed = await gqlOk(
      server.url,
      'query($s: String) { users(search: $s) { edges { node { id presence lastSeenAt } } } }',
      { s: target.username },
      mate.token,
    );
    expect(listed.users.edges.map((e: any) => e.node)).toEqual([{ id: target.id, presence: 'OFFLINE', lastSeenAt: null }]);
  });

  test('presence subscription: a stranger naming the user in userIds gets nothing under CONTACTS, events under EVERYONE; a co-member none under NOBODY', async () => {
    const target = await registerUser(server.url, 'ps');
    const mate = await registerUser(server.url, 'psm');
    const stranger = await registerUser(server.url, 'pss');
    await group(target, mate);
    const P = 'subscription($u: [ID!]) { presence(userIds: $u) { user { id } status } }';
    const strangerSub = rt.sub(rt.client(stranger), P, { u: [target.id] });
    const mateSub = rt.sub(rt.client(mate), P, { u: [target.id] });
    const mateAudience = rt.sub(rt.client(mate), 'subscription { presence { user { id } status } }');
    await Promise.all([strangerSub.ready(), mateSub.ready(), mateAudience.ready()]);
    const c1 = rt.client(target);
    await rt.sub(c1, 'subscription { notificationAdded { id } }').ready();
    expect(await mateSub.next()).toEqual({ presence: { user: { id: target.id }, status: 'ONLINE' } });
    expect(await mateAudience.next()).toEqual({ presence: { user: { id: target.id }, status: 'ONLINE' } });
    await c1.dispose();
    expect(await mateSub.next()).toEqual({ presence: { user: { id: target.id }, status: 'OFFLINE' } });
    // EVERYONE: the stranger's subscription gets the next change.
    await setPrivacy(target, { presenceVisibility: 'EVERYONE' });
    const c2 = rt.client(target);
    await rt.sub(c2, 'subscription { notificationAdded { id } }').ready();
    expect(await strangerSub.next()).toEqual({ presence: { user: { id: target.id }, status: 'ONLINE' } });
    await c2.dispose();
    expect(await strangerSub.next()).toEqual({ presence: { user: { id: target.id }, status: 'OFFLINE' } });
    expect(strangerSub.events).toHaveLength(2); // nothing from the CONTACTS time before
    // NOBODY: the co-member's subscriptions get nothing more.
    // The co-member's subscriptions had all four changes (c1 and c2 online, offline) while CONTACTS/EVERYONE.
    await waitFor(() => mateSub.events.length === 4 && mateAudience.events.length === 4, "the co-member's four events");
    await setPrivacy(target, { presenceVisibility: 'NOBODY' });
    const before = [mateSub.events.length, mateAudience.events.length, strangerSub.events.length];
    const c3 = rt.client(target);
    await rt.sub(c3, 'subscription { notificationAdded { id } }').ready();
    await c3.dispose();
    await waitFor(async () => (await seen(target, target)).presence === 'OFFLINE', 'the target offline again');
    // A marker: another co-member (EVERYONE) goes online; it reaches the mate's subscriptions, the target's changes did not.
    const other = await registerUser(server.url, 'pso');
    await group(other, mate);
    await setPrivacy(other, { presenceVisibility: 'EVERYONE' });
    const marker = rt.sub(rt.client(mate), P, { u: [target.id, other.id] });
    await marker.ready();
    await rt.sub(rt.client(other), 'subscription { notificationAdded { id } }').ready();
    expect(await marker.next()).toEqual({ presence: { user: { id: other.id }, status: 'ONLINE' } });
    await waitFor(() => mateAudience.events.slice(before[1]).some((e) => e.presence.user.id === other.id), 'the marker on the audience subscription');
    expect(mateAudience.events.slice(before[1]).filter((e) => e.presence.user.id === target.id)).toEqual([]);
    expect([mateSub.events.length, strangerSub.events.length]).toEqual([before[0], before[2]]);
  });
});

describe('read receipts', () => {
  test("sendReadReceipts false: other members get no readReceipt, the reader's own other session does; back on, they do", async () => {
    const owner = await registerUser(server.url, 'rr');
    const reader = await registerUser(server.url, 'rrr');
    const g = await group(owner, reader);
    await gqlOk(server.url, 'mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: "one" }) { id } }', { c: g }, owner.token);
    await setPrivacy(reader, { sendReadReceipts: false });
    const R = 'subscription($c: ID!) { readReceipt(conversationId: $c) { user { id } lastReadSeq } }';
    const ownerSub = rt.sub(rt.client(owner), R, { c: g });
    const readerOther = rt.sub(rt.client(reader), R, { c: g });
    await Promise.all([ownerSub.ready(), readerOther.ready()]);
    await gqlOk(server.url, 'mutation($c: ID!) { markRead(conversationId: $c) { lastReadSeq } }', { c: g }, reader.token);
    expect(await readerOther.next()).toMatchObject({ readReceipt: { user: { id: reader.id } } });
    // The owner's own receipt (sending reads the chat) proves the owner's subscription is live and got nothing of the reader's.
    await gqlOk(server.url, 'mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: "two" }) { id } }', { c: g }, owner.token);
    await gqlOk(server.url, 'mutation($c: ID!) { markRead(conversationId: $c) { lastReadSeq } }', { c: g }, owner.token);
    expect(await readerOther.until((e) => e.readReceipt.user.id === owner.id)).toBeDefined();
    await waitFor(() => ownerSub.events.some((e) => e.readReceipt.user.id === owner.id), "the owner's own receipt");
    expect(ownerSub.events.filter((e) => e.readReceipt.user.id === reader.id)).toEqual([]);
    // Nor does the reader's reading mark the owner's messages read (GraphQL isRead, seed 004 is_read).
    const isRead = async () =>
      (await gqlOk(server.url, 'query($c: ID!) { messages(conversationId: $c, last: 1) { edges { node { isRead } } } }', { c: g }, owner.token)).messages
        .edges[0].node.isRead;
    const restIsRead = async () =>
      (await call(server, 'GET', `/conversations/${g}/messages/?page_size=100`, { token: owner.token })).body.results
        .filter((m: any) => m.sender?.id === Number(owner.id))
        .map((m: any) => m.is_read);
    expect(await isRead()).toBe(false);
    expect(await restIsRead()).toEqual([false, false]);
    await setPrivacy(reader, { sendReadReceipts: true });
    await gqlOk(server.url, 'mutation($c: ID!) { markRead(conversationId: $c) { lastReadSeq } }', { c: g }, reader.token);
    expect(await ownerSub.until((e) => e.readReceipt.user.id === reader.id)).toBeDefined();
    expect(await isRead()).toBe(true);
    expect(await restIsRead()).toEqual([true, true]);
  });
});
