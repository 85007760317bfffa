/**
 * Issue 13, items 2 and 3: a block stops every way one user reaches the other, and muted means no
 * new content of any kind, on GraphQL and on REST (seed 004's edit and attachment routes).
 * The rule for groups both still share: they stay members and read each other's messages there,
 * but neither adds the other anywhere, and their @mentions of each other notify nobody.
 */
import { gql, gqlOk, trackRealtime } from '../support/client';
import { startTestServer, type TestServer } from '../support/test-server';
import { call, form, restUser, type RestUser } from './rest/rest-support';

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

const code = (r: { errors?: { extensions?: { code?: string } }[] }) => r.errors?.[0]?.extensions?.code;
const SEND = 'mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id } }';
const EDIT = 'mutation($id: ID!, $t: String!) { editMessage(id: $id, content: $t) { id content } }';
const NOTIFICATIONS = '{ notifications(first: 20) { edges { node { kind body } } } }';
const png = { name: 'dot.png', bytes: readPng(), type: 'image/png' };

function readPng(): Buffer {
  // A 1x1 PNG.
  return Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
}

async function notificationsOf(u: RestUser): Promise<{ kind: string; body: string }[]> {
  return (await gqlOk(server.url, NOTIFICATIONS, {}, u.token)).notifications.edges.map((e: any) => e.node);
}

describe('a block in a DIRECT chat', () => {
  let a: RestUser;
  let b: RestUser;
  let chat: string;
  let old: string;
  beforeAll(async () => {
    a = await restUser(server, 'blka');
    b = await restUser(server, 'blkb');
    chat = (await gqlOk(server.url, 'mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: b.id }, a.token)).openDirectChat.id;
    old = (await gqlOk(server.url, SEND, { c: chat, t: 'before the block' }, a.token)).sendMessage.id;
    await gqlOk(server.url, 'mutation($u: ID!) { blockUser(userId: $u) { id } }', { u: a.id }, b.token);
  });

  test('the blocked user can neither edit old messages nor add attachments (GraphQL and REST), and the blocker receives nothing', async () => {
    const edits = sub(client(b), 'subscription($c: ID) { messageEdited(conversationId: $c) { id content } }', { c: chat });
    await edits.ready();
    expect(code(await gql(server.url, EDIT, { id: old, t: 'sneaky edit' }, a.token))).toBe('FORBIDDEN');
    expect((await call(server, 'PATCH', `/messages/${old}/`, { token: a.token, json: { content: 'sneaky patch' } })).status).toBe(403);
    expect((await call(server, 'PUT', `/messages/${old}/`, { token: a.token, json: { content: 'sneaky put' } })).status).toBe(403);
    const attach = await call(server, 'POST', `/conversations/${chat}/messages/${old}/attachments/`, { token: a.token, form: form({}, [['file', png]]) });
    expect(attach.status).toBe(403);
    const { message } = await gqlOk(server.url, 'query($id: ID!) { message(id: $id) { content attachments { id } } }', { id: old }, b.token);
    expect(message).toEqual({ content: 'before the block', attachments: [] });
    // None of those reached the blocker: lifted, the blocked user's next edit is the first edit event.
    await gqlOk(server.url, 'mutation($u: ID!) { unblockUser(userId: $u) }', { u: a.id }, b.token);
    await gqlOk(server.url, EDIT, { id: old, t: 'control edit' }, a.token);
    expect(await edits.until(() => true)).toEqual([{ messageEdited: { id: old, content: 'control edit' } }]);
  });
});

describe('a block and conversations with others', () => {
  let a: RestUser;
  let b: RestUser;
  let c: RestUser;
  beforeAll(async () => {
    a = await restUser(server, 'blga');
    b = await restUser(server, 'blgb');
    c = await restUser(server, 'blgc');
    await gqlOk(server.url, 'mutation($u: ID!) { blockUser(userId: $u) { id } }', { u: a.id }, b.token);
  });

  test('the blocked user cannot put the blocker in a new group or add them to one, and no ROOM_INVITE reaches the blocker', async () => {
    const create = await gql(
      server.url,
      'mutation($m: [ID!]!) { createGroup(input: { name: "with the blocker", memberIds: $m }) { id } }',
      { m: [b.id, c.id] },
      a.token,
    );
    expect(code(create)).toBe('FORBIDDEN');
    const group = (await gqlOk(server.url, 'mutation($m: [ID!]!) { createGroup(input: { name: "a and c", memberIds: $m }) { id } }', { m: [c.id] }, a.token))
      .createGroup.id;
    expect(code(await gql(server.url, 'mutation($c: ID!, $u: ID!) { addMember(conversationId: $c, userId: $u) { id } }', { c: group, u: b.id }, a.token))).toBe(
      'FORBIDDEN',
    );
    // Nor the other way round: the blocker does not add the user they blocked.
    const mine = (await gqlOk(server.url, 'mutation { createGroup(input: { name: "b alone", memberIds: [] }) { id } }', {}, b.token)).createGroup.id;
    expect(code(await gql(server.url, 'mutation($c: ID!, $u: ID!) { addMember(conversationId: $c, userId: $u) { id } }', { c: mine, u: a.id }, b.token))).toBe(
      'FORBIDDEN',
    );
    expect((await notificationsOf(b)).filter((n) => n.kind === 'ROOM_INVITE')).toEqual([]);
    // Nothing was half-written: the refused group does not exist.
    const { conversations } = await gqlOk(server.url, '{ conversations(first: 50) { edges { node { title } } } }', {}, c.token);
    expect(conversations.edges.map((e: any) => e.node.title)).not.toContain('with the blocker');
  });

  test("in a group both still share (made by someone else), the blocked user's @mention notifies nobody; others' mentions still do", async () => {
    const shared = (
      await gqlOk(server.url, 'mutation($m: [ID!]!) { createGroup(input: { name: "shared", memberIds: $m }) { id } }', { m: [a.id, b.id] }, c.token)
    ).createGroup.id;
    const before = (await notificationsOf(b)).length;
    await gqlOk(server.url, SEND, { c: shared, t: `hey @${b.username}` }, a.token);
    const after = await notificationsOf(b);
    expect(after.filter((n) => n.kind === 'MENTION')).toEqual([]);
    // The message itself is the group's: the blocker still reads it there.
    const { messages } = await gqlOk(
      server.url,
      'query($c: ID!) { messages(conversationId: $c, last: 5) { edges { node { content mentions { id } } } } }',
      { c: shared },
      b.token,
    );
    expect(messages.edges.map((e: any) => e.node)).toContainEqual({ content: `hey @${b.username}`, mentions: [] });
    await gqlOk(server.url, SEND, { c: shared, t: `and @${b.username} from c` }, c.token);
    const mentions = (await notificationsOf(b)).filter((n) => n.kind === 'MENTION');
    expect(mentions.map((n) => n.body)).toEqual([`and @${b.username} from c`]);
    expect(after.length).toBeGreaterThanOrEqual(before);
  });
});

describe('a muted member', () => {
  test('can neither edit old messages nor add attachments (GraphQL and REST); unmuted, they can again', async () => {
    const owner = await restUser(server, 'mown');
    const m = await restUser(server, 'mmem');
    const group = (await gqlOk(server.url, 'mutation($m: [ID!]!) { createGroup(input: { name: "muting", memberIds: $m }) { id } }', { m: [m.id] }, owner.token))
      .createGroup.id;
    const old = (await gqlOk(server.url, SEND, { c: group, t: 'said before the mute' }, m.token)).sendMessage.id;
    const MUTE = 'mutation($c: ID!, $u: ID!, $on: Boolean!) { muteMember(conversationId: $c, userId: $u, muted: $on) { id } }';
    await gqlOk(server.url, MUTE, { c: group, u: m.id, on: true }, owner.token);

    const edited = await gql(server.url, EDIT, { id: old, t: 'edited while muted' }, m.token);
    expect(code(edited)).toBe('FORBIDDEN');
    expect(edited.errors![0].message).toMatch(/muted/);
    expect((await call(server, 'PATCH', `/messages/${old}/`, { token: m.token, json: { content: 'patched while muted' } })).status).toBe(403);
    expect(
      (await call(server, 'POST', `/conversations/${group}/messages/${old}/attachments/`, { token: m.token, form: form({}, [['file', png]]) })).status,
    ).toBe(403);
    const { message } = await gqlOk(server.url, 'query($id: ID!) { message(id: $id) { content attachments { id } } }', { id: old }, owner.token);
    expect(message).toEqual({ content: 'said before the mute', attachments: [] });

    await gqlOk(server.url, MUTE, { c: group, u: m.id, on: false }, owner.token);
    expect((await gqlOk(server.url, EDIT, { id: old, t: 'edited after' }, m.token)).editMessage.content).toBe('edited after');
    expect(
      (await call(server, 'POST', `/conversations/${group}/messages/${old}/attachments/`, { token: m.token, form: form({}, [['file', png]]) })).status,
    ).toBe(201);
  });
});

describe('notification copies of a message (issue 13, item 4)', () => {
  test('follow its edits, and keep no text of it once deleted (GraphQL and REST seed 003)', async () => {
    const owner = await restUser(server, 'ncown');
    const reader = await restUser(server, 'ncrd');
    const room = (await gqlOk(server.url, 'mutation { createRoom(input: { name: "copies", visibility: PUBLIC }) { id } }', {}, owner.token)).createRoom.id;
    await gqlOk(server.url, 'mutation($id: ID!) { joinRoom(id: $id) { id } }', { id: room }, reader.token);
    const id = (await gqlOk(server.url, SEND, { c: room, t: `the secret plan, @${reader.username}` }, owner.token)).sendMessage.id;
    const everything = async () =>
      JSON.stringify([await notificationsOf(reader), (await call(server, 'GET', '/chat/notifications/', { token: reader.token })).body]);
    expect(await everything()).toContain('the secret plan');

    await gqlOk(server.url, EDIT, { id, t: 'nothing to see' }, owner.token);
    const edited = await everything();
    expect(edited).not.toContain('the secret plan');
    expect((await notificationsOf(reader)).map((n) => n.body)).toContain('nothing to see');

    await gqlOk(server.url, 'mutation($id: ID!) { deleteMessage(id: $id) { id } }', { id }, owner.token);
    const deleted = await everything();
    expect(deleted).not.toContain('nothing to see');
    expect(deleted).not.toContain('the secret plan');
  });
});

test('createGroup adds at most 100 members a call (issue 13, item 7): past it BAD_USER_INPUT, nothing written', async () => {
  const owner = await restUser(server, 'capown');
  const ids = Array.from({ length: 101 }, (_, i) => String(800_000_000 + i));
  const r = await gql(server.url, 'mutation($m: [ID!]!) { createGroup(input: { name: "too big", memberIds: $m }) { id } }', { m: ids }, owner.token);
  expect(code(r)).toBe('BAD_USER_INPUT');
  expect(JSON.stringify(r.errors)).toContain('at most 100');
  const { conversations } = await gqlOk(server.url, '{ conversations(first: 5) { totalCount } }', {}, owner.token);
  expect(conversations.totalCount).toBe(0);
});

describe('image size (issue 13, item 5)', () => {
  let small: TestServer;
  beforeAll(async () => {
    small = await startTestServer({ UPLOAD_MAX_PIXELS: '10000' });
  });
  afterAll(async () => {
    await small.close();
  });

  test('an image over UPLOAD_MAX_PIXELS is refused (413 PAYLOAD_TOO_LARGE) before decoding, and nothing is kept; a smaller one passes', async () => {
    const sharp = (await import('sharp')).default;
    const image = (w: number, h: number) =>
      sharp({ create: { width: w, height: h, channels: 3, background: '#336699' } })
        .png()
        .toBuffer();
    const a = await restUser(small, 'pxa');
    const b = await restUser(small, 'pxb');
    const chat = (await gqlOk(small.url, 'mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: b.id }, a.token)).openDirectChat.id;
    const msg = (await gqlOk(small.url, SEND, { c: chat, t: 'pictures' }, a.token)).sendMessage.id;
    const big = await call(small, 'POST', `/conversations/${chat}/messages/${msg}/attachments/`, {
      token: a.token,
      form: form({}, [['file', { name: 'big.png', bytes: await image(200, 200), type: 'image/png' }]]),
    });
    expect(big.status).toBe(413);
    expect(JSON.stringify(big.body)).toContain('200x200');
    const ok = await call(small, 'POST', `/conversations/${chat}/messages/${msg}/attachments/`, {
      token: a.token,
      form: form({}, [['file', { name: 'ok.png', bytes: await image(50, 50), type: 'image/png' }]]),
    });
    expect(ok.status).toBe(201);
    const { message } = await gqlOk(
      small.url,
      'query($id: ID!) { message(id: $id) { attachments { fileName width height thumbnailUrl } } }',
      { id: msg },
      b.token,
    );
    expect(message.attachments).toEqual([{ fileName: 'ok.png', width: 50, height: 50, thumbnailUrl: expect.any(String) }]);
  });
});

/**
 * The cases of issue 13 as one table: what a muted member (in a group) and a blocked user (in the
 * DIRECT chat with the blocker, and towards the blocker elsewhere) may still do, on both transports.
 */
describe('the muted and blocked matrix', () => {
  type Outcome = 'ALLOW' | 'FORBIDDEN' | 'NO_NOTIFICATION';
  let owner: RestUser;
  let muted: RestUser;
  let blocker: RestUser;
  let blocked: RestUser;
  let group: string;
  let direct: string;
  let mutedOld: string;
  let blockedOld: string;
  let shared: string;
  beforeAll(async () => {
    [owner, muted, blocker, blocked] = await Promise.all([restUser(server, 'mxo'), restUser(server, 'mxm'), restUser(server, 'mxr'), restUser(server, 'mxd')]);
    group = (await gqlOk(server.url, 'mutation($m: [ID!]!) { createGroup(input: { name: "mx", memberIds: $m }) { id } }', { m: [muted.id] }, owner.token))
      .createGroup.id;
    mutedOld = (await gqlOk(server.url, SEND, { c: group, t: 'muted old' }, muted.token)).sendMessage.id;
    await gqlOk(
      server.url,
      'mutation($c: ID!, $u: ID!) { muteMember(conversationId: $c, userId: $u, muted: true) { id } }',
      { c: group, u: muted.id },
      owner.token,
    );
    direct = (await gqlOk(server.url, 'mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: blocker.id }, blocked.token)).openDirectChat.id;
    blockedOld = (await gqlOk(server.url, SEND, { c: direct, t: 'blocked old' }, blocked.token)).sendMessage.id;
    shared = (
      await gqlOk(
        server.url,
        'mutation($m: [ID!]!) { createGroup(input: { name: "mx shared", memberIds: $m }) { id } }',
        { m: [blocker.id, blocked.id] },
        owner.token,
      )
    ).createGroup.id;
    await gqlOk(server.url, 'mutation($u: ID!) { blockUser(userId: $u) { id } }', { u: blocked.id }, blocker.token);
  });
  const gqlOutcome = (r: { errors?: { extensions?: { code?: string } }[] }): Outcome | string => (r.errors ? (code(r) ?? 'ERROR') : 'ALLOW');
  const restOutcome = (status: number): Outcome | string => (status < 300 ? 'ALLOW' : status === 403 ? 'FORBIDDEN' : String(status));
  const mentionOutcome = async (from: RestUser, to: RestUser, conv: string) => {
    const before = (await notificationsOf(to)).filter((n) => n.kind === 'MENTION').length;
    await gqlOk(server.url, SEND, { c: conv, t: `@${to.username} look` }, from.token);
    return (await notificationsOf(to)).filter((n) => n.kind === 'MENTION').length > before ? 'ALLOW' : 'NO_NOTIFICATION';
  };
  const cases: [string, () => Promise<Outcome | string>, Outcome][] = [
    ['muted: sendMessage (GraphQL)', async () => gqlOutcome(await gql(server.url, SEND, { c: group, t: 'x' }, muted.token)), 'FORBIDDEN'],
    ['muted: editMessage of their own (GraphQL)', async () => gqlOutcome(await gql(server.url, EDIT, { id: mutedOld, t: 'x' }, muted.token)), 'FORBIDDEN'],
    [
      'muted: PATCH /messages/:id of their own (REST)',
      async () => restOutcome((await call(server, 'PATCH', `/messages/${mutedOld}/`, { token: muted.token, json: { content: 'x' } })).status),
      'FORBIDDEN',
    ],
    [
      'muted: attachment on their own (REST)',
      async () =>
        restOutcome(
          (await call(server, 'POST', `/conversations/${group}/messages/${mutedOld}/attachments/`, { token: muted.token, form: form({}, [['file', png]]) }))
            .status,
        ),
      'FORBIDDEN',
    ],
    [
      'muted: deleteMessage of their own (removing is not new content)',
      async () => gqlOutcome(await gql(server.url, 'mutation($id: ID!) { deleteMessage(id: $id) { id } }', { id: mutedOld }, muted.token)),
      'ALLOW',
    ],
    ['blocked: sendMessage in the DIRECT (GraphQL)', async () => gqlOutcome(await gql(server.url, SEND, { c: direct, t: 'x' }, blocked.token)), 'FORBIDDEN'],
    [
      'blocked: editMessage of their own in the DIRECT (GraphQL)',
      async () => gqlOutcome(await gql(server.url, EDIT, { id: blockedOld, t: 'x' }, blocked.token)),
      'FORBIDDEN',
    ],
    [
      'blocked: PUT /messages/:id of their own in the DIRECT (REST)',
      async () => restOutcome((await call(server, 'PUT', `/messages/${blockedOld}/`, { token: blocked.token, json: { content: 'x' } })).status),
      'FORBIDDEN',
    ],
    [
      'blocked: attachment on their own in the DIRECT (REST)',
      async () =>
        restOutcome(
          (
            await call(server, 'POST', `/conversations/${direct}/messages/${blockedOld}/attachments/`, {
              token: blocked.token,
              form: form({}, [['file', png]]),
            })
          ).status,
        ),
      'FORBIDDEN',
    ],
    [
      'blocked: createGroup with the blocker (GraphQL)',
      async () =>
        gqlOutcome(
          await gql(server.url, 'mutation($m: [ID!]!) { createGroup(input: { name: "x", memberIds: $m }) { id } }', { m: [blocker.id] }, blocked.token),
        ),
      'FORBIDDEN',
    ],
    [
      'blocked: POST /chats with the blocker (REST seed 001)',
      async () => restOutcome((await call(server, 'POST', '/chats/', { token: blocked.token, json: { name: 'x', members: [Number(blocker.id)] } })).status),
      'FORBIDDEN',
    ],
    [
      'blocker: addMember of the blocked user (GraphQL)',
      async () =>
        gqlOutcome(
          await gql(
            server.url,
            'mutation($c: ID!, $u: ID!) { addMember(conversationId: $c, userId: $u) { id } }',
            {
              c: (await gqlOk(server.url, 'mutation { createGroup(input: { name: "mine", memberIds: [] }) { id } }', {}, blocker.token)).createGroup.id,
              u: blocked.id,
            },
            blocker.token,
          ),
        ),
      'FORBIDDEN',
    ],
    ['blocked: @mention of the blocker in a shared group', () => mentionOutcome(blocked, blocker, shared), 'NO_NOTIFICATION'],
    ['blocker: @mention of the blocked user in a shared group', () => mentionOutcome(blocker, blocked, shared), 'NO_NOTIFICATION'],
    ['owner: @mention of the blocker in the same group (unaffected)', () => mentionOutcome(owner, blocker, shared), 'ALLOW'],
  ];
  test('every case answers as the table says', async () => {
    const actual: [string, string][] = [];
    for (const [name, run] of cases) actual.push([name, await run()]);
    expect(actual).toEqual(cases.map(([name, , expected]) => [name, expected]));
  });
});
