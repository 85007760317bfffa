/**
 * Issue 31 "Edit history", "Pins" and "Forwarding", through real servers and clients: revisions
 * written by every edit (the actual editor recorded, erased by deletion for all but staff and by
 * account deletion), the edit window, edit racing delete; pins (who may, idempotent, newest first,
 * the per-conversation limit, unpinned by deletion, archived, messagesSince); forwards (visibility
 * of the original, every send rule, attachments sharing stored bytes that outlive either message,
 * idempotent bursts). The database is read only to count rows and to make a user staff.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { codeOf, gql, gqlOk, registerUser, type GqlResult, type TestUser } from '../support/client';
import { filesUnder } from '../support/files';
import { startTestServer, type TestServer } from '../support/test-server';
import { call } from './rest/rest-support';

const UPLOADS = mkdtempSync(join(tmpdir(), 'history-test-uploads-'));
let server: TestServer;
beforeAll(async () => {
  // Bursts of concurrent writes from one user: the budgets would refuse some before they reach the rules under test.
  server = await startTestServer({ UPLOAD_DIR: UPLOADS, RATE_MESSAGES_PER_SEC: '1000', RATE_MESSAGES_BURST: '1000', GRAPHQL_USER_MAX_IN_FLIGHT: '64' });
});
afterAll(async () => {
  await server?.close();
  rmSync(UPLOADS, { recursive: true, force: true });
});

const sql = <T = Record<string, unknown>>(query: string, params: unknown[] = []) => server.orm.em.fork().execute<T[]>(query, params);
const q = (u: TestUser, query: string, v: Record<string, unknown> = {}, url = server.url) => gqlOk(url, query, v, u.token);
const raw = (u: TestUser, query: string, v: Record<string, unknown> = {}, url = server.url) => gql(url, query, v, u.token);
const expectCode = (r: GqlResult, code: string, message?: RegExp) => {
  expect(codeOf(r)).toBe(code);
  if (message) expect(r.errors?.[0]?.message).toMatch(message);
};

async function staffUser(prefix = 'hs_staff', url = server.url, s = server): Promise<TestUser> {
  const u = await registerUser(url, prefix);
  await s.orm.em.fork().execute('update "users" set "is_staff" = true where "id" = ?', [Number(u.id)]);
  return u;
}
const group = async (owner: TestUser, members: TestUser[], url = server.url) =>
  (await q(owner, 'mutation($m: [ID!]!) { createGroup(input: { name: "History", memberIds: $m }) { id } }', { m: members.map((m) => m.id) }, url)).createGroup
    .id as string;
const room = async (owner: TestUser) => (await q(owner, 'mutation { createRoom(input: { name: "Pins room" }) { id } }')).createRoom.id as string;
const direct = async (a: TestUser, b: TestUser, url = server.url) =>
  (await q(a, 'mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: b.id }, url)).openDirectChat.id as string;
const send = async (u: TestUser, c: string, content: string, url = server.url) =>
  (await q(u, 'mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id createdAt } }', { c, t: content }, url))
    .sendMessage as {
    id: string;
    createdAt: string;
  };

const EDIT = 'mutation($id: ID!, $t: String!) { editMessage(id: $id, content: $t) { id content isEdited } }';
const DELETE = 'mutation($id: ID!) { deleteMessage(id: $id) { id } }';
const REVISIONS = 'query($id: ID!) { message(id: $id) { id content isDeleted revisions { content editedAt editedBy { id } } } }';
const revisions = async (u: TestUser, id: string) =>
  (await q(u, REVISIONS, { id })).message.revisions as { content: string; editedAt: string; editedBy: { id: string } | null }[];

describe('edit history', () => {
  let alice: TestUser, bob: TestUser, staff: TestUser, c: string;
  beforeAll(async () => {
    alice = await registerUser(server.url, 'hs_a');
    bob = await registerUser(server.url, 'hs_b');
    staff = await staffUser();
    c = await group(alice, [bob]);
  });

  test('every edit keeps the previous version; revisions are oldest first, the original with createdAt and its author', async () => {
    const m = await send(alice, c, 'first');
    expect(await revisions(bob, m.id)).toEqual([{ content: 'first', editedAt: m.createdAt, editedBy: { id: alice.id } }]);
    await q(alice, EDIT, { id: m.id, t: 'second' });
    await q(alice, EDIT, { id: m.id, t: 'third' });
    const seen = await revisions(bob, m.id);
    expect(seen.map((r) => [r.content, r.editedBy?.id])).toEqual([
      ['first', alice.id],
      ['second', alice.id],
      ['third', alice.id],
    ]);
    expect(seen[0].editedAt).toBe(m.createdAt);
    expect(Date.parse(seen[1].editedAt)).toBeGreaterThanOrEqual(Date.parse(seen[0].editedAt));
    expect(Date.parse(seen[2].editedAt)).toBeGreaterThanOrEqual(Date.parse(seen[1].editedAt));
    const rows = await sql<{ content: string }>('select "content" from "message_revisions" where "message_id" = ? order by "id"', [Number(m.id)]);
    expect(rows.map((r) => r.content)).toEqual(['first', 'second']);
  });

  test('a moderator (staff) editing records the actual editor, and the next version by the author records the author', async () => {
    const m = await send(alice, c, 'rude words');
    await q(staff, EDIT, { id: m.id, t: '[removed by staff]' });
    await q(alice, EDIT, { id: m.id, t: 'sorry' });
    expect((await revisions(bob, m.id)).map((r) => [r.content, r.editedBy?.id])).toEqual([
      ['rude words', alice.id],
      ['[removed by staff]', staff.id],
      ['sorry', alice.id],
    ]);
  });

  test("deleting erases the history for everyone but staff, who keep every version; an unedited message's deletion keeps nothing", async () => {
    const m = await send(alice, c, 'harass');
    await q(alice, EDIT, { id: m.id, t: 'harmless' });
    await q(alice, DELETE, { id: m.id });
    expect(await revisions(alice, m.id)).toEqual([]);
    expect(await revisions(bob, m.id)).toEqual([]);
    expect((await revisions(staff, m.id)).map((r) => r.content)).toEqual(['harass', 'harmless']);
    const plain = await send(alice, c, 'plain');
    await q(alice, DELETE, { id: plain.id });
    expect(await revisions(staff, plain.id)).toEqual([]);
  });

  test('account deletion erases the revisions of their messages, for staff too', async () => {
    const carol = await registerUser(server.url, 'hs_c');
    await q(alice, 'mutation($c: ID!, $u: ID!) { addMember(conversationId: $c, userId: $u) { id } }', { c, u: carol.id });
    const m = await send(carol, c, 'carol v1');
    await q(carol, EDIT, { id: m.id, t: 'carol v2' });
    expect((await revisions(staff, m.id)).length).toBe(2);
    await q(carol, 'mutation($p: String!) { deleteAccount(password: $p) }', { p: 'correct-horse-battery' });
    expect(await revisions(staff, m.id)).toEqual([]);
    expect(await sql('select 1 from "message_revisions" where "message_id" = ?', [Number(m.id)])).toEqual([]);
  });

  test('edit racing delete: either the edit lands first (its revision kept, for staff) or it is refused; never a half-written history', async () => {
    const outcomes = new Set<string>();
    for (let round = 0; round < 12; round++) {
      const m = await send(alice, c, `race ${round}`);
      const [edit, del] = await Promise.all([raw(alice, EDIT, { id: m.id, t: `edited ${round}` }), raw(alice, DELETE, { id: m.id })]);
      expect(del.errors).toBeUndefined();
      const rows = await sql<{ content: string }>('select "content" from "message_revisions" where "message_id" = ? order by "id"', [Number(m.id)]);
      if (edit.errors) {
        expectCode(edit, 'BAD_USER_INPUT', /deleted/);
        expect(rows).toEqual([]);
        outcomes.add('refused');
      } else {
        expect(rows.map((r) => r.content)).toEqual([`race ${round}`, `edited ${round}`]);
        outcomes.add('edited first');
      }
      expect(await revisions(bob, m.id)).toEqual([]);
    }
    expect(outcomes.size).toBeGreaterThan(0);
  });

  test('20 concurrent edits of one message: 20 revisions, each the version it replaced', async () => {
    const m = await send(alice, c, 'v0');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => raw(alice, EDIT, { id: m.id, t: `v${i + 1}` })));
    expect(results.filter((r) => r.errors)).toEqual([]);
    const seen = await revisions(bob, m.id);
    expect(seen).toHaveLength(21);
    expect(seen[0].content).toBe('v0');
    // Each stored version is distinct: no edit overwrote another's "previous version".
    expect(new Set(seen.map((r) => r.content)).size).toBe(21);
  });

  test('the legacy dialects keep their shapes: seed 004 still shows is_edited (and no revision field)', async () => {
    const m = await send(alice, c, 'legacy');
    await q(alice, EDIT, { id: m.id, t: 'legacy edited' });
    const page = await call(server, 'GET', `/conversations/${c}/messages/?page_size=100`, { token: alice.token });
    expect(page.status).toBe(200);
    const row = page.body.results.find((x: { id: number }) => String(x.id) === m.id);
    expect(row.is_edited).toBe(true);
    expect(row.content).toBe('legacy edited');
    expect(Object.keys(row).some((k) => /revision|pinned|forward/.test(k))).toBe(false);
  });
});

describe('pins', () => {
  let alice: TestUser, bob: TestUser, staff: TestUser;
  const PIN = 'mutation($id: ID!, $p: Boolean!) { pinMessage(id: $id, pinned: $p) { id isPinned pinnedAt pinnedBy { id } } }';
  const PINNED = 'query($c: ID!) { pinnedMessages(conversationId: $c) { id isPinned } }';
  beforeAll(async () => {
    alice = await registerUser(server.url, 'pn_a');
    bob = await registerUser(server.url, 'pn_b');
    staff = await staffUser('pn_staff');
  });

  test('DIRECT and GROUP: any member pins; pinnedMessages lists newest pin first; unpin', async () => {
    const d = await direct(alice, bob);
    const m1 = await send(alice, d, 'one');
    const m2 = await send(alice, d, 'two');
    const pinned = (await q(bob, PIN, { id: m1.id, p: true })).pinMessage;
    expect(pinned).toMatchObject({ isPinned: true, pinnedBy: { id: bob.id } });
    expect(pinned.pinnedAt).toEqual(expect.any(String));
    await q(alice, PIN, { id: m2.id, p: true });
    expect((await q(alice, PINNED, { c: d })).pinnedMessages.map((m: { id: string }) => m.id)).toEqual([m2.id, m1.id]);
    expect((await q(alice, PIN, { id: m2.id, p: false })).pinMessage).toEqual({ id: m2.id, isPinned: false, pinnedAt: null, pinnedBy: null });
    expect((await q(bob, PINNED, { c: d })).pinnedMessages.map((m: { id: string }) => m.id)).toEqual([m1.id]);
    const g = await group(alice, [bob]);
    const gm = await send(alice, g, 'group');
    expect((await q(bob, PIN, { id: gm.id, p: true })).pinMessage.isPinned).toBe(true);
  });

  test('ROOM: OWNER and ADMIN pin, a MEMBER is refused; staff pin anywhere; a stranger gets NOT_FOUND', async () => {
    const r = await room(alice);
    await q(bob, 'mutation($c: ID!) { joinRoom(id: $c) { id } }', { c: r });
    const m = await send(bob, r, 'room message');
    expectCode(await raw(bob, PIN, { id: m.id, p: true }), 'FORBIDDEN', /owner and admins/);
    expect((await q(alice, PIN, { id: m.id, p: true })).pinMessage.isPinned).toBe(true);
    expect((await q(staff, PIN, { id: m.id, p: false })).pinMessage.isPinned).toBe(false);
    const stranger = await registerUser(server.url, 'pn_x');
    expectCode(await raw(stranger, PIN, { id: m.id, p: true }), 'NOT_FOUND');
  });

  test('idempotent: pinning twice (also 10 at once) takes one change number and keeps the first pin', async () => {
    const d = await direct(alice, bob);
    const m = await send(alice, d, 'idem');
    const before = await sql<{ change_seq: number }>('select "change_seq" from "conversations" where "id" = ?', [Number(d)]);
    const results = await Promise.all(Array.from({ length: 10 }, () => raw(alice, PIN, { id: m.id, p: true })));
    expect(results.filter((r) => r.errors)).toEqual([]);
    const at = new Set(results.map((r) => r.data.pinMessage.pinnedAt));
    const after = await sql<{ change_seq: number }>('select "change_seq" from "conversations" where "id" = ?', [Number(d)]);
    expect(Number(after[0].change_seq)).toBe(Number(before[0].change_seq) + 1);
    expect((await q(alice, PIN, { id: m.id, p: true })).pinMessage.pinnedAt).toBe([...at].pop());
    // Unpinning an unpinned message changes nothing either.
    await q(alice, PIN, { id: m.id, p: false });
    const unpinned = await sql<{ change_seq: number }>('select "change_seq" from "conversations" where "id" = ?', [Number(d)]);
    await q(alice, PIN, { id: m.id, p: false });
    expect(await sql('select "change_seq" from "conversations" where "id" = ?', [Number(d)])).toEqual(unpinned);
  });

  test('messagesSince returns a message pinned after the mark (a client offline during the pin sees it)', async () => {
    const d = await direct(alice, bob);
    const old = await send(alice, d, 'old');
    const mark = await send(alice, d, 'mark');
    const seqOf = (await q(bob, 'query($id: ID!) { message(id: $id) { seq } }', { id: mark.id })).message.seq;
    await q(bob, PIN, { id: old.id, p: true });
    const since = (await q(bob, 'query($c: ID!, $s: Int!) { messagesSince(conversationId: $c, afterSeq: $s) { id isPinned } }', { c: d, s: seqOf }))
      .messagesSince;
    expect(since).toEqual([{ id: old.id, isPinned: true }]);
  });

  test('a deleted message is unpinned and cannot be pinned; an archived conversation refuses pins', async () => {
    const g = await group(alice, [bob]);
    const m = await send(alice, g, 'to delete');
    await q(alice, PIN, { id: m.id, p: true });
    await q(alice, DELETE, { id: m.id });
    expect((await q(alice, PINNED, { c: g })).pinnedMessages).toEqual([]);
    expect((await q(alice, 'query($id: ID!) { message(id: $id) { isPinned pinnedBy { id } } }', { id: m.id })).message).toEqual({
      isPinned: false,
      pinnedBy: null,
    });
    expectCode(await raw(alice, PIN, { id: m.id, p: true }), 'BAD_USER_INPUT', /deleted/);
    const other = await send(alice, g, 'kept');
    await q(alice, 'mutation($c: ID!) { archiveConversation(id: $c, archived: true) { id } }', { c: g });
    expectCode(await raw(alice, PIN, { id: other.id, p: true }), 'FORBIDDEN', /archived/i);
    expectCode(await raw(staff, PIN, { id: other.id, p: true }), 'FORBIDDEN', /archived/i);
  });
});

describe('forwarding', () => {
  let alice: TestUser, bob: TestUser, carol: TestUser;
  let source: string;
  const FORWARD = `mutation($id: ID!, $to: ID!, $k: String) { forwardMessage(id: $id, toConversationId: $to, clientMessageId: $k) {
    id conversationId content kind isForwarded forwardedFrom { id content } attachments { id url fileName size } } }`;
  beforeAll(async () => {
    alice = await registerUser(server.url, 'fw_a');
    bob = await registerUser(server.url, 'fw_b');
    carol = await registerUser(server.url, 'fw_c');
    source = await group(alice, [bob]);
  });

  test('the copy carries the content and forwardedFrom; forwardedFrom is null for a viewer who cannot see the original', async () => {
    const m = await send(alice, source, 'worth sharing');
    const d = await direct(bob, carol);
    const copy = (await q(bob, FORWARD, { id: m.id, to: d })).forwardMessage;
    expect(copy).toMatchObject({
      conversationId: d,
      content: 'worth sharing',
      kind: 'TEXT',
      isForwarded: true,
      forwardedFrom: { id: m.id, content: 'worth sharing' },
    });
    const asCarol = (await q(carol, 'query($id: ID!) { message(id: $id) { isForwarded forwardedFrom { id } sender { id } } }', { id: copy.id })).message;
    expect(asCarol).toEqual({ isForwarded: true, forwardedFrom: null, sender: { id: bob.id } });
    expect((await q(alice, 'query($id: ID!) { message(id: $id) { isForwarded forwardedFrom { id } } }', { id: m.id })).message).toEqual({
      isForwarded: false,
      forwardedFrom: null,
    });
  });

  test('the caller must see the original (NOT_FOUND) and it must not be deleted (BAD_USER_INPUT)', async () => {
    const m = await send(alice, source, 'private');
    const d = await direct(carol, bob);
    expectCode(await raw(carol, FORWARD, { id: m.id, to: d }), 'NOT_FOUND');
    const gone = await send(alice, source, 'gone');
    await q(alice, DELETE, { id: gone.id });
    expectCode(await raw(alice, FORWARD, { id: gone.id, to: await direct(alice, carol) }), 'BAD_USER_INPUT', /deleted/);
  });

  test('every send rule of the target applies: not a member, banned, muted, blocked, archived', async () => {
    const m = await send(alice, source, 'rules');
    // Not a member of the target: NOT_FOUND.
    const carolsGroup = await group(carol, []);
    expectCode(await raw(bob, FORWARD, { id: m.id, to: carolsGroup }), 'NOT_FOUND');
    // Muted in the target.
    const target = await group(carol, [bob]);
    await q(carol, 'mutation($c: ID!, $u: ID!) { muteMember(conversationId: $c, userId: $u, muted: true) { id } }', { c: target, u: bob.id });
    expectCode(await raw(bob, FORWARD, { id: m.id, to: target }), 'FORBIDDEN', /muted/);
    // Banned from the target: it is no longer readable.
    await q(carol, 'mutation($c: ID!, $u: ID!) { banMember(conversationId: $c, userId: $u, banned: true) { id } }', { c: target, u: bob.id });
    expectCode(await raw(bob, FORWARD, { id: m.id, to: target }), 'NOT_FOUND');
    // A block in a DIRECT chat.
    const d = await direct(bob, carol);
    await q(carol, 'mutation($u: ID!) { blockUser(userId: $u) { id } }', { u: bob.id });
    expectCode(await raw(bob, FORWARD, { id: m.id, to: d }), 'FORBIDDEN');
    // Archived target.
    const archived = await group(alice, [bob]);
    await q(alice, 'mutation($c: ID!) { archiveConversation(id: $c, archived: true) { id } }', { c: archived });
    expectCode(await raw(bob, FORWARD, { id: m.id, to: archived }), 'FORBIDDEN', /archived/i);
    expect(await sql('select 1 from "messages" where "forwarded_from_id" = ?', [Number(m.id)])).toEqual([]);
  });

  test('a burst of the same forward (one clientMessageId) makes one message; the key reused for another conversation is a CONFLICT', async () => {
    const m = await send(alice, source, 'burst');
    const d = await direct(alice, carol);
    const results = await Promise.all(Array.from({ length: 12 }, () => raw(alice, FORWARD, { id: m.id, to: d, k: 'fw-burst-1' })));
    expect(results.filter((r) => r.errors)).toEqual([]);
    expect(new Set(results.map((r) => r.data.forwardMessage.id)).size).toBe(1);
    expect(await sql('select "id" from "messages" where "forwarded_from_id" = ?', [Number(m.id)])).toHaveLength(1);
    expectCode(await raw(alice, FORWARD, { id: m.id, to: source, k: 'fw-burst-1' }), 'CONFLICT');
  });

  test('attachments: the copy shares the stored bytes (no new file), and deleting either message or either account leaves the other its file', async () => {
    const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 10, g: 200, b: 90 } } })
      .png()
      .toBuffer();
    const form = new FormData();
    const SEND_FILE = 'mutation($i: SendMessageInput!) { sendMessage(input: $i) { id kind attachments { id url } } }';
    const dave = await registerUser(server.url, 'fw_d');
    const shared = await group(dave, [alice, bob]);
    form.append('operations', JSON.stringify({ query: SEND_FILE, variables: { i: { conversationId: shared, content: '', attachments: [null] } } }));
    form.append('map', JSON.stringify({ 0: ['variables.i.attachments.0'] }));
    form.append('0', new Blob([png], { type: 'image/png' }), 'pic.png');
    const res = await fetch(server.url, { method: 'POST', headers: { authorization: `Bearer ${dave.token}`, 'apollo-require-preflight': 'true' }, body: form });
    const original = ((await res.json()) as { data: { sendMessage: { id: string; kind: string; attachments: { id: string }[] } } }).data.sendMessage;
    expect(original.kind).toBe('IMAGE');
    const files = () => sql<{ n: string }>('select count(distinct "storage_key") as n from "attachments"');
    const filesBefore = Number((await files())[0].n);

    const toBob = await direct(alice, bob);
    const toCarol = await direct(alice, carol);
    const copyB = (await q(alice, FORWARD, { id: original.id, to: toBob })).forwardMessage;
    const copyC = (await q(alice, FORWARD, { id: original.id, to: toCarol })).forwardMessage;
    expect(copyB).toMatchObject({ kind: 'IMAGE', content: '', isForwarded: true });
    expect(copyB.attachments).toHaveLength(1);
    expect(Number((await files())[0].n)).toBe(filesBefore);
    const onDisk = filesUnder(UPLOADS).length;
    const keys = await sql<{ storage_key: string }>('select distinct "storage_key" from "attachments" where "message_id" in (?, ?, ?)', [
      Number(original.id),
      Number(copyB.id),
      Number(copyC.id),
    ]);
    expect(keys).toHaveLength(1);
    const download = async (u: TestUser, messageId: string) => {
      const m = (await q(u, 'query($id: ID!) { message(id: $id) { attachments { url } } }', { id: messageId })).message;
      if (!m.attachments.length) return 404;
      const r = await fetch(new URL(m.attachments[0].url, server.url), { headers: { authorization: `Bearer ${u.token}` } });
      return r.status === 200 && Buffer.from(await r.arrayBuffer()).equals(png) ? 200 : r.status;
    };
    expect(await download(carol, copyC.id)).toBe(200);
    expect(filesUnder(UPLOADS).length).toBe(onDisk);

    // The original's sender deletes their account: the original's rows go, the copies keep their bytes.
    await q(dave, 'mutation($p: String!) { deleteAccount(password: $p) }', { p: 'correct-horse-battery' });
    expect(await download(bob, copyB.id)).toBe(200);
    expect(await download(carol, copyC.id)).toBe(200);
    // One copy deleted (message), then its forwarder's account: the other copy keeps its bytes until its own sender's deletion.
    await q(alice, DELETE, { id: copyB.id });
    expect(await download(carol, copyC.id)).toBe(200);
    await q(alice, 'mutation($p: String!) { deleteAccount(password: $p) }', { p: 'correct-horse-battery' });
    expect(await sql('select 1 from "attachments" where "storage_key" = ?', [keys[0].storage_key])).toEqual([]);
    // No row uses the bytes any more: now they are removed.
    expect(filesUnder(UPLOADS).some((f) => f.includes(keys[0].storage_key))).toBe(false);
  });
});

describe('settings: MESSAGE_EDIT_WINDOW_S and MAX_PINS_PER_CONVERSATION', () => {
  let small: TestServer;
  beforeAll(async () => {
    small = await startTestServer({ MESSAGE_EDIT_WINDOW_S: '1', MAX_PINS_PER_CONVERSATION: '2' });
  });
  afterAll(async () => {
    await small?.close();
  });

  test('past the edit window the sender is FORBIDDEN, saying so; staff moderating are not limited', async () => {
    const a = await registerUser(small.url, 'ew_a');
    const staff = await staffUser('ew_staff', small.url, small);
    const c = await group(a, [], small.url);
    const m = await send(a, c, 'quick', small.url);
    expect((await q(a, EDIT, { id: m.id, t: 'quick fix' }, small.url)).editMessage.content).toBe('quick fix');
    await new Promise((r) => setTimeout(r, 1100));
    expectCode(await raw(a, EDIT, { id: m.id, t: 'too late' }, small.url), 'FORBIDDEN', /within 1 seconds.*MESSAGE_EDIT_WINDOW_S/);
    expect((await q(staff, EDIT, { id: m.id, t: 'moderated' }, small.url)).editMessage.content).toBe('moderated');
  });

  test('past MAX_PINS_PER_CONVERSATION a pin is a CONFLICT naming the limit; unpinning one makes room', async () => {
    const a = await registerUser(small.url, 'mp_a');
    const c = await group(a, [], small.url);
    const ids = [];
    for (const t of ['p1', 'p2', 'p3']) ids.push((await send(a, c, t, small.url)).id);
    const PIN = 'mutation($id: ID!, $p: Boolean!) { pinMessage(id: $id, pinned: $p) { isPinned } }';
    await q(a, PIN, { id: ids[0], p: true }, small.url);
    await q(a, PIN, { id: ids[1], p: true }, small.url);
    expectCode(await raw(a, PIN, { id: ids[2], p: true }, small.url), 'CONFLICT', /At most 2 .*MAX_PINS_PER_CONVERSATION/);
    await q(a, PIN, { id: ids[0], p: false }, small.url);
    expect((await q(a, PIN, { id: ids[2], p: true }, small.url)).pinMessage.isPinned).toBe(true);
    expect(
      (await q(a, 'query($c: ID!) { pinnedMessages(conversationId: $c) { id } }', { c }, small.url)).pinnedMessages.map((m: { id: string }) => m.id),
    ).toEqual([ids[2], ids[1]]);
  });
});
