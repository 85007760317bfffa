/**
 * Groups and rooms (issue 3), through the real server over HTTP and graphql-ws, each rule with
 * the allowed and the refused caller: OWNER/ADMIN/MEMBER rights and ranks, non-members, the
 * ownership handover, PUBLIC/PRIVATE rooms and maxMembers, bans, mutes, nicknames, SYSTEM
 * messages, who may delete, live delivery to (and after removal of) a member, and DIRECT leave.
 */
import { User } from '../../src/domain/user/user.entity';
import { codeOf, registerUser, trackRealtime, type GqlResult, type TestUser } from '../support/client';
import { gqlAs } from '../support/graphql';
import { startTestServer, type TestServer } from '../support/test-server';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

const { client, sub } = trackRealtime(
  () => server.wsUrl,
  () => server,
);

type Vars = Record<string, unknown>;
const { q, raw } = gqlAs(() => server.url);
const user = (prefix: string) => registerUser(server.url, prefix);
const users = (...prefixes: string[]) => Promise.all(prefixes.map(user));

const MEMBERSHIP = `role nickname isMuted isBanned user { id }`;
const M = {
  add: `mutation($c: ID!, $u: ID!, $r: MemberRole) { addMember(conversationId: $c, userId: $u, role: $r) { ${MEMBERSHIP} } }`,
  remove: `mutation($c: ID!, $u: ID!) { removeMember(conversationId: $c, userId: $u) }`,
  role: `mutation($c: ID!, $u: ID!, $r: MemberRole!) { setMemberRole(conversationId: $c, userId: $u, role: $r) { ${MEMBERSHIP} } }`,
  mute: `mutation($c: ID!, $u: ID!, $on: Boolean!) { muteMember(conversationId: $c, userId: $u, muted: $on) { ${MEMBERSHIP} } }`,
  ban: `mutation($c: ID!, $u: ID!, $on: Boolean!) { banMember(conversationId: $c, userId: $u, banned: $on) { ${MEMBERSHIP} } }`,
  update: `mutation($c: ID!, $i: UpdateConversationInput!) { updateConversation(id: $c, input: $i) { id name description maxMembers } }`,
  nickname: `mutation($c: ID!, $n: String) { setNickname(conversationId: $c, nickname: $n) { ${MEMBERSHIP} } }`,
  join: `mutation($c: ID!) { joinRoom(id: $c) { id } }`,
  leave: `mutation($c: ID!) { leaveConversation(id: $c) }`,
  send: `mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id seq kind content sender { id } } }`,
  del: `mutation($m: ID!) { deleteMessage(id: $m) { id isDeleted content } }`,
  edit: `mutation($m: ID!) { editMessage(id: $m, content: "rewritten") { id content } }`,
};
const CONV = `query($c: ID!) { conversation(id: $c) { id memberCount maxMembers members { ${MEMBERSHIP} } } }`;
const MESSAGES = `query($c: ID!) { messages(conversationId: $c, first: 100) { totalCount edges { node { id seq kind content sender { id } } } } }`;

async function createGroup(owner: TestUser, members: TestUser[] = [], name = 'group'): Promise<string> {
  const i = { name, memberIds: members.map((m) => m.id) };
  return (await q(owner, `mutation($i: CreateGroupInput!) { createGroup(input: $i) { id } }`, { i })).createGroup.id;
}
async function createRoom(owner: TestUser, input: Vars = {}): Promise<string> {
  const i = { name: `room ${Math.random().toString(36).slice(2)}`, ...input };
  return (await q(owner, `mutation($i: CreateRoomInput!) { createRoom(input: $i) { id } }`, { i })).createRoom.id;
}
const add = (by: TestUser, c: string, u: TestUser, r = 'MEMBER') => q(by, M.add, { c, u: u.id, r }).then((d) => d.addMember);
const join = (u: TestUser, c: string) => q(u, M.join, { c });
const send = (u: TestUser, c: string, t: string) => q(u, M.send, { c, t }).then((d) => d.sendMessage);
const conversation = (u: TestUser, c: string) => q(u, CONV, { c }).then((d) => d.conversation);
const messages = (u: TestUser, c: string) => q(u, MESSAGES, { c }).then((d) => d.messages.edges.map((e: any) => e.node));
/** userId -> role of the active members, as `viewer` sees them. */
async function roles(viewer: TestUser, c: string): Promise<Record<string, string>> {
  return Object.fromEntries((await conversation(viewer, c)).members.map((m: any) => [m.user.id, m.role]));
}
async function memberOf(viewer: TestUser, c: string, u: TestUser): Promise<any> {
  return (await conversation(viewer, c)).members.find((m: any) => m.user.id === u.id);
}
/** Asserts the response is an error with one of `codes` (labelled, so a failure names the step). */
function expectCode(r: GqlResult, label: string, ...codes: string[]) {
  const code = codeOf(r);
  expect({ label, code }).toEqual({ label, code: code && codes.includes(code) ? code : codes.join(' or ') });
}
/** The management mutations `by` attempts on `target`, as [label, query, variables]. */
const managing = (c: string, target: TestUser, outsider: TestUser): [string, string, Vars][] => [
  ['addMember', M.add, { c, u: outsider.id }],
  ['removeMember', M.remove, { c, u: target.id }],
  ['muteMember', M.mute, { c, u: target.id, on: true }],
  ['banMember', M.ban, { c, u: target.id, on: true }],
  ['updateConversation', M.update, { c, i: { name: 'taken over' } }],
];
const isSystem = (m: any) => m.kind === 'SYSTEM' && m.sender === null;

describe('roles', () => {
  test('OWNER and ADMIN add, remove, mute, ban and update; a plain MEMBER gets FORBIDDEN', async () => {
    const [owner, admin, member, t1, t2, o1, o2] = await users('ro', 'ra', 'rm', 'rt', 'rt', 'rx', 'rx');
    const g = await createGroup(owner, [member, t1, t2], 'managed');
    await add(owner, g, admin, 'ADMIN');

    for (const [label, query, vars] of managing(g, t1, o1)) expectCode(await raw(member, query, vars), `MEMBER ${label}`, 'FORBIDDEN');
    const untouched = await conversation(owner, g);
    expect(untouched.memberCount).toBe(5);
    expect(untouched.members.every((m: any) => !m.isMuted && !m.isBanned)).toBe(true);

    for (const [by, outsider, target] of [
      [admin, o1, t1],
      [owner, o2, t2],
    ] as const) {
      expect(await add(by, g, outsider)).toMatchObject({ role: 'MEMBER', user: { id: outsider.id } });
      expect((await q(by, M.mute, { c: g, u: target.id, on: true })).muteMember.isMuted).toBe(true);
      expect((await q(by, M.mute, { c: g, u: target.id, on: false })).muteMember.isMuted).toBe(false);
      expect((await q(by, M.ban, { c: g, u: target.id, on: true })).banMember.isBanned).toBe(true);
      expect((await q(by, M.remove, { c: g, u: outsider.id })).removeMember).toBe(true);
      expect((await q(by, M.update, { c: g, i: { description: `set by ${by.username}` } })).updateConversation.description).toBe(`set by ${by.username}`);
    }
    expect(Object.keys(await roles(owner, g)).sort()).toEqual([owner.id, admin.id, member.id].sort());
  });

  test('only the OWNER changes roles and adds ADMINs or OWNERs', async () => {
    const [owner, admin, member, o1, o2] = await users('wo', 'wa', 'wm', 'wx', 'wx');
    const g = await createGroup(owner, [member], 'ranks');
    await add(owner, g, admin, 'ADMIN');
    for (const by of [admin, member]) {
      expectCode(await raw(by, M.role, { c: g, u: member.id, r: 'ADMIN' }), `${by.username} setMemberRole`, 'FORBIDDEN');
      for (const r of ['ADMIN', 'OWNER']) expectCode(await raw(by, M.add, { c: g, u: o1.id, r }), `${by.username} add ${r}`, 'FORBIDDEN');
    }
    expect(await roles(owner, g)).toEqual({ [owner.id]: 'OWNER', [admin.id]: 'ADMIN', [member.id]: 'MEMBER' });

    expect((await q(owner, M.role, { c: g, u: member.id, r: 'ADMIN' })).setMemberRole.role).toBe('ADMIN');
    expect((await add(owner, g, o1, 'ADMIN')).role).toBe('ADMIN');
    expect((await add(owner, g, o2, 'OWNER')).role).toBe('OWNER');
    expect((await q(owner, M.role, { c: g, u: admin.id, r: 'MEMBER' })).setMemberRole.role).toBe('MEMBER');
    expect(await roles(member, g)).toEqual({ [owner.id]: 'OWNER', [admin.id]: 'MEMBER', [member.id]: 'ADMIN', [o1.id]: 'ADMIN', [o2.id]: 'OWNER' });
  });

  test('an ADMIN cannot remove, mute or ban the OWNER or another ADMIN; the OWNER can', async () => {
    const [owner, a1, a2, outsider] = await users('ko', 'ka', 'ka', 'kx');
    const g = await createGroup(owner, [], 'admins');
    await add(owner, g, a1, 'ADMIN');
    await add(owner, g, a2, 'ADMIN');
    for (const target of [owner, a2]) {
      for (const [label, query, vars] of managing(g, target, outsider).slice(1, 4)) {
        expectCode(await raw(a1, query, vars), `ADMIN ${label} ${target === owner ? 'OWNER' : 'ADMIN'}`, 'FORBIDDEN');
      }
    }
    const conv = await conversation(owner, g);
    expect(conv.memberCount).toBe(3);
    expect(conv.members.every((m: any) => !m.isMuted && !m.isBanned)).toBe(true);
    expect((await q(owner, M.mute, { c: g, u: a2.id, on: true })).muteMember.isMuted).toBe(true);
    expect((await q(owner, M.remove, { c: g, u: a2.id })).removeMember).toBe(true);
    expect(await roles(owner, g)).toEqual({ [owner.id]: 'OWNER', [a1.id]: 'ADMIN' });
  });

  test.each(['GROUP', 'PRIVATE ROOM'])('a non-member gets NOT_FOUND from every member mutation of a %s', async (kind) => {
    const [owner, member, stranger] = await users('no', 'nm', 'ns');
    const c = kind === 'GROUP' ? await createGroup(owner, [member]) : await createRoom(owner, { visibility: 'PRIVATE' });
    if (kind !== 'GROUP') await add(owner, c, member);
    const checks: [string, string, Vars][] = [
      ...managing(c, member, stranger),
      ['setMemberRole', M.role, { c, u: member.id, r: 'ADMIN' }],
      ['setNickname', M.nickname, { c, n: 'intruder' }],
      ['leaveConversation', M.leave, { c }],
      ['joinRoom', M.join, { c }],
      ['conversation', CONV, { c }],
    ];
    for (const [label, query, vars] of checks) expectCode(await raw(stranger, query, vars), label, 'NOT_FOUND');
    expect(await roles(owner, c)).toEqual({ [owner.id]: 'OWNER', [member.id]: 'MEMBER' });
  });
});

describe('the last OWNER leaving', () => {
  test('hands ownership to the oldest ADMIN', async () => {
    const [owner, m1, a1, a2] = await users('ho', 'hm', 'ha', 'ha');
    const g = await createGroup(owner, [], 'heir admin');
    await add(owner, g, m1); // older than both admins, still passed over
    await add(owner, g, a1, 'ADMIN');
    await add(owner, g, a2, 'ADMIN');
    expect((await q(owner, M.leave, { c: g })).leaveConversation).toBe(true);
    expect(await roles(m1, g)).toEqual({ [m1.id]: 'MEMBER', [a1.id]: 'OWNER', [a2.id]: 'ADMIN' });
    expectCode(await raw(owner, CONV, { c: g }), 'former owner reads', 'NOT_FOUND');
    // the new OWNER has the OWNER's rights
    expect((await q(a1, M.role, { c: g, u: m1.id, r: 'ADMIN' })).setMemberRole.role).toBe('ADMIN');
  });

  test('with no ADMIN, hands ownership to the oldest member', async () => {
    const [owner, m1, m2, m3] = await users('eo', 'em', 'em', 'em');
    const g = await createGroup(owner, [], 'heir member');
    for (const m of [m1, m2, m3]) await add(owner, g, m);
    await q(owner, M.leave, { c: g });
    expect(await roles(m2, g)).toEqual({ [m1.id]: 'OWNER', [m2.id]: 'MEMBER', [m3.id]: 'MEMBER' });
  });

  test('the last OWNER cannot step down with setMemberRole; with a second OWNER they can', async () => {
    const [owner, member] = await users('do', 'dm');
    const g = await createGroup(owner, [member], 'no headless groups');
    expectCode(await raw(owner, M.role, { c: g, u: owner.id, r: 'ADMIN' }), 'last OWNER demotes self', 'BAD_USER_INPUT');
    expectCode(await raw(owner, M.role, { c: g, u: owner.id, r: 'MEMBER' }), 'last OWNER demotes self', 'BAD_USER_INPUT');
    expect(await roles(member, g)).toEqual({ [owner.id]: 'OWNER', [member.id]: 'MEMBER' });

    await q(owner, M.role, { c: g, u: member.id, r: 'OWNER' });
    expect((await q(owner, M.role, { c: g, u: owner.id, r: 'ADMIN' })).setMemberRole.role).toBe('ADMIN');
    expect(await roles(member, g)).toEqual({ [owner.id]: 'ADMIN', [member.id]: 'OWNER' });
  });

  test('a banned last OWNER (banned by staff) hands ownership over as when leaving', async () => {
    const [owner, m1, a1] = await users('bo', 'bm', 'ba');
    const staff = await user('bstaff');
    await server.orm.em.fork().nativeUpdate(User, { id: Number(staff.id) }, { isStaff: true });
    const g = await createGroup(owner, [], 'banned owner');
    await add(owner, g, m1);
    await add(owner, g, a1, 'ADMIN');
    expect((await q(staff, M.ban, { c: g, u: owner.id, on: true })).banMember).toMatchObject({ isBanned: true, role: 'MEMBER' });
    expect(await roles(m1, g)).toEqual({ [m1.id]: 'MEMBER', [a1.id]: 'OWNER' });
    expectCode(await raw(owner, CONV, { c: g }), 'banned former owner reads', 'NOT_FOUND');
  });

  test('an OWNER who is not the last one leaves without a handover', async () => {
    const [owner, co, admin] = await users('so', 'sc', 'sa');
    const g = await createGroup(owner, [], 'two owners');
    await add(owner, g, co, 'OWNER');
    await add(owner, g, admin, 'ADMIN');
    await q(owner, M.leave, { c: g });
    expect(await roles(co, g)).toEqual({ [co.id]: 'OWNER', [admin.id]: 'ADMIN' });
  });
});

describe('rooms', () => {
  test('a PUBLIC room is found by publicRooms (and its search) and anyone may join it', async () => {
    const [owner, stranger] = await users('po', 'ps');
    const tag = `Lobby${process.pid}x${Date.now().toString(36)}`;
    const room = await createRoom(owner, { name: `The ${tag} Room` });
    const found = async (search?: string) =>
      (
        await q(stranger, `query($s: String) { publicRooms(search: $s, first: 100) { edges { node { id kind visibility maxMembers } } } }`, { s: search })
      ).publicRooms.edges.map((e: any) => e.node);
    expect(await found()).toContainEqual({ id: room, kind: 'ROOM', visibility: 'PUBLIC', maxMembers: 50 });
    expect((await found(tag.toLowerCase())).map((r: any) => r.id)).toEqual([room]);
    expect(await found(`${tag}-nothing-like-it`)).toEqual([]);

    expect((await join(stranger, room)).joinRoom.id).toBe(room);
    expect(await roles(stranger, room)).toEqual({ [owner.id]: 'OWNER', [stranger.id]: 'MEMBER' });
    expect((await send(stranger, room, 'hello room')).seq).toBeGreaterThan(0);
  });

  test('a PRIVATE room is not in publicRooms and a stranger joining it gets NOT_FOUND', async () => {
    const [owner, stranger, invited] = await users('vo', 'vs', 'vi');
    const tag = `Hidden${process.pid}x${Date.now().toString(36)}`;
    const room = await createRoom(owner, { name: tag, visibility: 'PRIVATE' });
    const search = await q(stranger, `query($s: String) { publicRooms(search: $s) { totalCount edges { node { id } } } }`, { s: tag });
    expect(search.publicRooms).toEqual({ totalCount: 0, edges: [] });
    const all = await q(stranger, `{ publicRooms(first: 100) { edges { node { id } } } }`);
    expect(all.publicRooms.edges.map((e: any) => e.node.id)).not.toContain(room);
    expectCode(await raw(stranger, M.join, { c: room }), 'stranger joinRoom', 'NOT_FOUND');
    expectCode(await raw(stranger, CONV, { c: room }), 'stranger reads', 'NOT_FOUND');
    // members are added instead
    await add(owner, room, invited);
    expect(await roles(invited, room)).toEqual({ [owner.id]: 'OWNER', [invited.id]: 'MEMBER' });
  });

  test('maxMembers is enforced on joinRoom and addMember (CONFLICT when full)', async () => {
    const [owner, u1, u2, u3, u4] = await users('mo', 'mu', 'mu', 'mu', 'mu');
    const room = await createRoom(owner, { maxMembers: 3 });
    await join(u1, room);
    await add(owner, room, u2);
    expectCode(await raw(u3, M.join, { c: room }), 'join a full room', 'CONFLICT');
    expectCode(await raw(owner, M.add, { c: room, u: u4.id }), 'add to a full room', 'CONFLICT');
    const full = await conversation(owner, room);
    expect({ count: full.memberCount, max: full.maxMembers }).toEqual({ count: 3, max: 3 });
    // a seat frees up
    await q(u2, M.leave, { c: room });
    await join(u3, room);
    expect(Object.keys(await roles(owner, room)).sort()).toEqual([owner.id, u1.id, u3.id].sort());
  });

  test('updateConversation with maxMembers below the member count is BAD_USER_INPUT', async () => {
    const [owner, u1, u2] = await users('uo', 'uu', 'uu');
    const room = await createRoom(owner, { maxMembers: 10 });
    await join(u1, room);
    await join(u2, room);
    expectCode(await raw(owner, M.update, { c: room, i: { maxMembers: 2 } }), 'maxMembers 2 < 3', 'BAD_USER_INPUT');
    expect((await conversation(owner, room)).maxMembers).toBe(10);
    expect((await q(owner, M.update, { c: room, i: { maxMembers: 3 } })).updateConversation.maxMembers).toBe(3);
  });
});

describe('members', () => {
  test('a banned member loses access and cannot rejoin or be re-added until unbanned', async () => {
    const [owner, banned] = await users('bo', 'bb');
    const room = await createRoom(owner);
    await join(banned, room);
    await send(owner, room, 'before the ban');
    expect((await q(owner, M.ban, { c: room, u: banned.id, on: true })).banMember).toMatchObject({ isBanned: true, user: { id: banned.id } });

    expectCode(await raw(banned, CONV, { c: room }), 'banned reads conversation', 'NOT_FOUND');
    expectCode(await raw(banned, MESSAGES, { c: room }), 'banned reads messages', 'NOT_FOUND');
    expectCode(await raw(banned, M.join, { c: room }), 'banned joinRoom', 'FORBIDDEN');
    expectCode(await raw(owner, M.add, { c: room, u: banned.id }), 'addMember of banned', 'CONFLICT');
    expect(await roles(owner, room)).toEqual({ [owner.id]: 'OWNER' });

    expect((await q(owner, M.ban, { c: room, u: banned.id, on: false })).banMember.isBanned).toBe(false);
    await join(banned, room);
    expect((await messages(banned, room)).map((m: any) => m.content)).toContain('before the ban');
  });

  test('a muted member cannot send (FORBIDDEN) but still reads; unmuted, they can send', async () => {
    const [owner, muted] = await users('to', 'tm');
    const g = await createGroup(owner, [muted], 'quiet please');
    expect((await q(owner, M.mute, { c: g, u: muted.id, on: true })).muteMember.isMuted).toBe(true);
    expect((await memberOf(owner, g, muted)).isMuted).toBe(true);
    expectCode(await raw(muted, M.send, { c: g, t: 'let me speak' }), 'muted sendMessage', 'FORBIDDEN');
    await send(owner, g, 'you can still read this');
    const read = await messages(muted, g);
    expect(read.map((m: any) => m.content)).toContain('you can still read this');
    expect(read.map((m: any) => m.content)).not.toContain('let me speak');

    await q(owner, M.mute, { c: g, u: muted.id, on: false });
    expect((await send(muted, g, 'thanks')).content).toBe('thanks');
  });

  test('setNickname shows up in members', async () => {
    const [owner, member] = await users('ko', 'km');
    const g = await createGroup(owner, [member], 'nicknames');
    expect((await q(member, M.nickname, { c: g, n: 'Captain' })).setNickname).toMatchObject({ nickname: 'Captain', user: { id: member.id } });
    expect((await memberOf(owner, g, member)).nickname).toBe('Captain');
    expect((await memberOf(owner, g, owner)).nickname).toBeNull();
    await q(member, M.nickname, { c: g, n: null });
    expect((await memberOf(owner, g, member)).nickname).toBeNull();
  });

  test('leaveConversation on a DIRECT is BAD_USER_INPUT', async () => {
    const [a, b] = await users('da', 'db');
    const c = (await q(a, `mutation($u: ID) { openDirectChat(userId: $u) { id } }`, { u: b.id })).openDirectChat.id;
    expectCode(await raw(a, M.leave, { c }), 'leave DIRECT', 'BAD_USER_INPUT');
    expect((await send(a, c, 'still here')).content).toBe('still here');
  });
});

describe('SYSTEM messages', () => {
  /** Asserts the last message is a new SYSTEM message right after `prevSeq`, and that seq is gap-free. */
  async function expectSystemAfter(viewer: TestUser, c: string, prevSeq: number, label: string): Promise<number> {
    const list = await messages(viewer, c);
    expect({ label, seqs: list.map((m: any) => m.seq) }).toEqual({ label, seqs: list.map((_: any, i: number) => i + 1) });
    const last = list[list.length - 1];
    expect({ label, seq: last?.seq, system: last && isSystem(last), content: typeof last?.content }).toEqual({
      label,
      seq: prevSeq + 1,
      system: true,
      content: 'string',
    });
    return last.seq;
  }

  test('createGroup writes a SYSTEM message as seq 1', async () => {
    const [owner, member] = await users('co', 'cm');
    const g = await createGroup(owner, [member], 'born');
    const list = await messages(member, g);
    expect(list.length).toBeGreaterThan(0);
    expect(list[0]).toMatchObject({ seq: 1, kind: 'SYSTEM', sender: null });
  });

  test('adding, removing and leaving each write a SYSTEM message that takes a seq', async () => {
    const [owner, a, b, c] = await users('yo', 'ya', 'yb', 'yc');
    const g = await createGroup(owner, [a], 'events');
    let seq = (await send(owner, g, 'hello')).seq;
    await add(owner, g, b);
    seq = await expectSystemAfter(owner, g, seq, 'added');
    await q(owner, M.remove, { c: g, u: b.id });
    seq = await expectSystemAfter(owner, g, seq, 'removed');
    await add(owner, g, c);
    seq = await expectSystemAfter(owner, g, seq, 'added again');
    await q(c, M.leave, { c: g });
    seq = await expectSystemAfter(a, g, seq, 'left');
    expect((await send(a, g, 'next')).seq).toBe(seq + 1);
  });

  test('banning writes a SYSTEM message that takes a seq', async () => {
    const [owner, a, b] = await users('zo', 'za', 'zb');
    const g = await createGroup(owner, [a, b], 'ban event');
    const seq = (await send(owner, g, 'hello')).seq;
    await q(owner, M.ban, { c: g, u: b.id, on: true });
    await expectSystemAfter(a, g, seq, 'banned');
  });

  test('SYSTEM messages cannot be edited or deleted, not even by the OWNER', async () => {
    const [owner, member, extra] = await users('xo', 'xm', 'xe');
    const g = await createGroup(owner, [member], 'immutable');
    await add(owner, g, extra);
    const system = (await messages(owner, g)).filter(isSystem).pop();
    expect(system).toBeDefined();
    expectCode(await raw(owner, M.del, { m: system.id }), 'delete SYSTEM', 'BAD_USER_INPUT');
    expectCode(await raw(owner, M.edit, { m: system.id }), 'edit SYSTEM', 'FORBIDDEN', 'BAD_USER_INPUT');
    const after = await q(member, `query($m: ID!) { message(id: $m) { content kind isEdited isDeleted } }`, { m: system.id });
    expect(after.message).toEqual({ content: system.content, kind: 'SYSTEM', isEdited: false, isDeleted: false });
  });
});

describe.each(['GROUP', 'ROOM'])('deleteMessage in a %s', (kind) => {
  test('the sender and OWNER/ADMIN may delete; a plain MEMBER gets FORBIDDEN', async () => {
    const [owner, admin, author, bystander] = await users('lo', 'la', 'lm', 'lb');
    let c: string;
    if (kind === 'GROUP') c = await createGroup(owner, [author, bystander]);
    else {
      c = await createRoom(owner);
      await join(author, c);
      await join(bystander, c);
    }
    await add(owner, c, admin, 'ADMIN');
    const [own, byAdmin, byOwner, kept] = [
      await send(author, c, 'one'),
      await send(author, c, 'two'),
      await send(author, c, 'three'),
      await send(author, c, 'four'),
    ];

    expectCode(await raw(bystander, M.del, { m: kept.id }), "MEMBER deletes another's", 'FORBIDDEN');
    for (const [by, m] of [
      [author, own],
      [admin, byAdmin],
      [owner, byOwner],
    ] as const) {
      expect((await q(by, M.del, { m: m.id })).deleteMessage).toEqual({ id: m.id, isDeleted: true, content: '' });
    }
    const state = Object.fromEntries((await messages(bystander, c)).map((m: any) => [m.id, m.content]));
    expect([own, byAdmin, byOwner, kept].map((m) => state[m.id])).toEqual(['', '', '', 'four']);
  });
});

test('a subscribed member receives the SYSTEM message when someone joins, and nothing once removed', async () => {
  const [owner, watcher, newcomer] = await users('lo', 'lw', 'ln');
  const room = await createRoom(owner);
  await join(watcher, room);
  const query = `subscription($c: ID) { messageAdded(conversationId: $c) { seq kind content sender { id } } }`;
  const live = sub(client(watcher), query, { c: room });
  const control = sub(client(owner), query, { c: room });
  await Promise.all([live.ready(), control.ready()]);

  await join(newcomer, room);
  const joined = (await live.next()).messageAdded;
  expect(isSystem(joined)).toBe(true);
  expect((await control.next()).messageAdded).toEqual(joined);

  await q(owner, M.remove, { c: room, u: watcher.id });
  const removal = (await control.next()).messageAdded;
  expect(isSystem(removal)).toBe(true);
  const after = await send(owner, room, 'after the removal');
  expect((await control.next()).messageAdded.content).toBe('after the removal');
  expectCode(await raw(watcher, MESSAGES, { c: room }), 'removed reads', 'NOT_FOUND');
  // Nothing between the removal and the member's return reached them: back in the (PUBLIC) room,
  // their own join notice is the first thing newer than the removal on the same subscription.
  await join(watcher, room);
  const rejoined = (await control.until((e) => e.messageAdded.seq > after.seq)).map((e) => e.messageAdded);
  expect(rejoined).toHaveLength(1);
  const sinceRemoval = (await live.until((e) => e.messageAdded.seq === rejoined[0].seq))
    .map((e: any) => e.messageAdded.seq)
    .filter((s: number) => s > removal.seq);
  expect(sinceRemoval).toEqual([rejoined[0].seq]);
});
