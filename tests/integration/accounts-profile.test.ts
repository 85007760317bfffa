/**
 * Profiles and avatars (issue 18 items 1-3) through the real server: updateProfile, setAvatar
 * and removeAvatar over GraphQL (JSON and multipart), the result in every REST dialect's user
 * shape, the signed avatar URLs on /media/avatars, the files in UPLOAD_DIR, and the live
 * `userUpdated` subscription over graphql-ws (who gets it, who does not, what it costs in SQL).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import WebSocket from 'ws';
import { codeOf, gql, gqlOk, registerUser, restUrl, subscribe, trackRealtime, waitFor, wsClient, type GqlResult, type TestUser } from '../support/client';
import { filesUnder } from '../support/files';
import { startTestCluster, startTestServer, type TestServer } from '../support/test-server';
import { isDeliveryQuery } from '../../src/realtime/delivery/hub';

jest.setTimeout(60_000);

const UPLOADS = mkdtempSync(join(tmpdir(), 'accounts-profile-uploads-'));
const MAX_PIXELS = 1_000_000;

let server: TestServer;
let base: string;
let deliverySql: string[] = [];
beforeAll(async () => {
  server = await startTestServer(
    { UPLOAD_DIR: UPLOADS, UPLOAD_MAX_PIXELS: String(MAX_PIXELS) },
    {
      onQuery: (line, context) => {
        if (isDeliveryQuery(context)) deliverySql.push(line);
      },
    },
  );
  base = server.url.replace(/\/graphql$/, '');
});
afterAll(async () => {
  await server?.close();
  rmSync(UPLOADS, { recursive: true, force: true });
});

const rt = trackRealtime(
  () => server.wsUrl,
  () => server,
);

const USER = 'id username firstName lastName fullName avatarUrl avatarThumbnailUrl';
const UPDATE = `mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { ${USER} } }`;
const UPDATED = `subscription($u: [ID!]) { userUpdated(userIds: $u) { id firstName lastName fullName avatarUrl avatarThumbnailUrl } }`;
const me = async (u: TestUser) => (await gqlOk(server.url, `{ me { ${USER} } }`, {}, u.token)).me;
const update = (u: TestUser, i: Record<string, unknown>) => gql(server.url, UPDATE, { i }, u.token);

/** setAvatar as a GraphQL multipart request (Apollo's CSRF header, the user's token). */
async function setAvatar(user: TestUser, name: string, bytes: Buffer, url = server.url): Promise<GqlResult> {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query: `mutation($f: Upload!) { setAvatar(file: $f) { ${USER} } }`, variables: { f: null } }));
  form.append('map', JSON.stringify({ 0: ['variables.f'] }));
  form.append('0', new Blob([bytes], { type: 'application/octet-stream' }), name);
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${user.token}`, 'apollo-require-preflight': 'true' }, body: form });
  return { status: res.status, ...((await res.json()) as Omit<GqlResult, 'status'>) };
}

const image = (format: 'png' | 'jpeg' | 'webp', width: number, height: number) =>
  sharp({ create: { width, height, channels: 3, background: { r: 30, g: 140, b: 90 } } })
    [format]()
    .toBuffer();
/** GET with an optional token; the URL may be a path (`/media/...`) or absolute. */
const fetchMedia = (url: string, token?: string) =>
  fetch(url.startsWith('/') ? `${base}${url}` : url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
const storedFiles = () => filesUnder(UPLOADS).length;
const rest = async (u: TestUser, path: string) => {
  const res = await fetch(restUrl(server.url, path), { headers: { authorization: `Bearer ${u.token}` } });
  expect(res.status).toBe(200);
  return res.json() as Promise<any>;
};

/**
 * Alice and the people around her: bob (a DIRECT chat: contact and co-member), carol (a group:
 * co-member), frank (an accepted contact only), dave (a stranger), eve (a co-member alice blocked).
 */
async function world(tag: string) {
  const alice = await registerUser(server.url, `${tag}a`, { firstName: 'Alice', lastName: 'A' });
  const bob = await registerUser(server.url, `${tag}b`);
  const carol = await registerUser(server.url, `${tag}c`);
  const dave = await registerUser(server.url, `${tag}d`);
  const eve = await registerUser(server.url, `${tag}e`);
  const frank = await registerUser(server.url, `${tag}f`);
  const request = (await gqlOk(server.url, 'mutation($u: ID!) { requestContact(userId: $u) { id } }', { u: alice.id }, frank.token)).requestContact.id;
  await gqlOk(server.url, 'mutation($i: ID!) { acceptContact(id: $i) { id } }', { i: request }, alice.token);
  const direct = (await gqlOk(server.url, 'mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: bob.id }, alice.token)).openDirectChat.id;
  const group = (
    await gqlOk(server.url, 'mutation($m: [ID!]!) { createGroup(input: { name: "g", memberIds: $m }) { id } }', { m: [carol.id, eve.id] }, alice.token)
  ).createGroup.id;
  await gqlOk(server.url, 'mutation($u: ID!) { blockUser(userId: $u) { id } }', { u: eve.id }, alice.token);
  return { alice, bob, carol, dave, eve, frank, direct, group };
}

describe('updateProfile', () => {
  test('a name change shows in GraphQL and every REST dialect, and reaches a contact and a co-member live, not a stranger nor across a block', async () => {
    const { alice, bob, carol, dave, eve, frank, direct, group } = await world('pf');
    const bobSub = rt.sub(rt.client(bob), UPDATED);
    const frankSub = rt.sub(rt.client(frank), UPDATED);
    const carolSub = rt.sub(rt.client(carol), UPDATED, { u: [alice.id] });
    const daveSub = rt.sub(rt.client(dave), UPDATED);
    const eveSub = rt.sub(rt.client(eve), UPDATED);
    // Explicit ids narrow the audience, never widen it: dave is nobody carol may follow.
    const carolAskingDave = rt.sub(rt.client(carol), UPDATED, { u: [dave.id, carol.id] });
    await Promise.all([bobSub, frankSub, carolSub, daveSub, eveSub, carolAskingDave].map((s) => s.ready()));

    const after = (await update(alice, { firstName: 'Alicia', lastName: 'Liddell' })).data!.updateProfile;
    expect(after).toMatchObject({
      id: alice.id,
      firstName: 'Alicia',
      lastName: 'Liddell',
      fullName: 'Alicia Liddell',
      avatarUrl: null,
      avatarThumbnailUrl: null,
    });
    const live = {
      userUpdated: { id: alice.id, firstName: 'Alicia', lastName: 'Liddell', fullName: 'Alicia Liddell', avatarUrl: null, avatarThumbnailUrl: null },
    };
    expect(await bobSub.next()).toEqual(live);
    expect(await carolSub.next()).toEqual(live);
    expect(await frankSub.next()).toEqual(live);
    expect(await me(alice)).toEqual(after);
    expect((await gqlOk(server.url, 'query($u: ID) { user(id: $u) { fullName } }', { u: alice.id }, dave.token)).user.fullName).toBe('Alicia Liddell');

    // Not delivered: each of these subscriptions gets its own user's next change first (bus order), and nothing before it.
    await update(dave, { firstName: 'Dave' });
    expect((await daveSub.until((e) => e.userUpdated.id === dave.id)).map((e) => e.userUpdated.id)).toEqual([dave.id]);
    await update(eve, { firstName: 'Eve' });
    expect((await eveSub.until((e) => e.userUpdated.id === eve.id)).map((e) => e.userUpdated.id)).toEqual([eve.id]);
    await update(carol, { firstName: 'Carol' });
    expect((await carolAskingDave.until((e) => e.userUpdated.id === carol.id)).map((e) => e.userUpdated.id)).toEqual([carol.id]);

    // Every dialect's user shape.
    const recent = await rest(bob, '/chat/recent-conversations/');
    expect(recent.find((c: any) => String(c.id) === direct).other_user).toEqual({
      id: Number(alice.id),
      username: alice.username,
      first_name: 'Alicia',
      last_name: 'Liddell',
      avatar: null,
      role: null,
      score: 0,
      rank: null,
      in_game_ids: [],
    });
    const chat = await rest(carol, `/chats/${group}/`);
    expect(chat.members_summary.find((m: any) => m.id === Number(alice.id))).toEqual({
      id: Number(alice.id),
      username: alice.username,
      full_name: 'Alicia Liddell',
      avatar_thumbnail: null,
      role: null,
    });
    const room = await rest(carol, `/chat/rooms/${group}/`);
    expect(room.members.find((m: any) => m.id === Number(alice.id))).toEqual({
      id: Number(alice.id),
      username: alice.username,
      first_name: 'Alicia',
      last_name: 'Liddell',
    });
    const conversation = await rest(bob, `/conversations/${direct}/`);
    expect(conversation.participants.find((p: any) => p.id === Number(alice.id))).toMatchObject({
      first_name: 'Alicia',
      last_name: 'Liddell',
      profile_picture: null,
    });
    await gqlOk(server.url, 'mutation { sendMessage(input: { toSupport: true, content: "help" }) { id } }', {}, alice.token);
    const support = await rest(alice, '/chat/conversations/my_conversation/');
    expect(support.customer_info.ho_ten).toBe('Alicia Liddell');
    expect(support.last_message.nguoi_goi_name).toBe('Alicia Liddell');
  });

  test('bad input is BAD_USER_INPUT and changes nothing; control characters are removed as at register; null clears', async () => {
    const { alice, bob } = await world('pb');
    const bobSub = rt.sub(rt.client(bob), UPDATED);
    await bobSub.ready();
    const before = await me(alice);
    const long = 'x'.repeat(151);
    for (const [input, field] of [
      [{ firstName: long }, 'firstName'],
      [{ firstName: 'Fine', lastName: long }, 'lastName'],
      [{ lastName: `${'é'.repeat(150)}\u{1F600}` }, 'lastName'],
    ] as const) {
      const r = await update(alice, input);
      expect({ code: codeOf(r), field: r.errors?.[0]?.extensions?.field ?? r.errors?.[0]?.message.split(':')[0] }).toEqual({ code: 'BAD_USER_INPUT', field });
      expect(r.data?.updateProfile ?? null).toBeNull();
    }
    for (const junk of [{ firstName: 123 }, { firstName: ['a'] }, { nickname: 'x' }]) {
      const r = await update(alice, junk);
      expect(codeOf(r)).toBe('BAD_USER_INPUT');
      expect(r.status).toBe(400);
    }
    expect(await me(alice)).toEqual(before);

    // The first event bob gets is the valid change: none of the refused ones published anything.
    const cleaned = (await update(alice, { firstName: 'Ann\u0000a\u0007', lastName: '  Smi\u0085th\tJr  ' })).data!.updateProfile;
    expect(cleaned).toMatchObject({ firstName: 'Anna', lastName: 'Smith Jr' });
    expect((await bobSub.until(() => true)).map((e) => e.userUpdated)).toEqual([
      expect.objectContaining({ id: alice.id, firstName: 'Anna', lastName: 'Smith Jr' }),
    ]);
    // Omitted: unchanged; null or empty: cleared (fullName falls back to the username).
    expect((await update(alice, { lastName: null })).data!.updateProfile).toMatchObject({ firstName: 'Anna', lastName: null, fullName: 'Anna' });
    expect((await update(alice, { firstName: '\u0000 ' })).data!.updateProfile).toMatchObject({ firstName: null, lastName: null, fullName: alice.username });
  });

  test('a burst of 10 concurrent edits by one user ends consistent: the row, every dialect and the last live event agree', async () => {
    const { alice, bob, direct } = await world('pc');
    const bobSub = rt.sub(rt.client(bob), UPDATED, { u: [alice.id] });
    await bobSub.ready();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => update(alice, { firstName: `F${i}`, lastName: `L${i}` })));
    for (const r of results) expect(r.errors).toBeUndefined();
    const got: any[] = [];
    for (let i = 0; i < 10; i++) got.push((await bobSub.next()).userUpdated);
    const final = await me(alice);
    expect(final.firstName).toMatch(/^F\d$/);
    expect(final.lastName).toBe(`L${final.firstName.slice(1)}`);
    expect(got.map((e) => e.firstName).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `F${i}`));
    expect(got[9]).toEqual({
      id: alice.id,
      firstName: final.firstName,
      lastName: final.lastName,
      fullName: final.fullName,
      avatarUrl: null,
      avatarThumbnailUrl: null,
    });
    const recent = await rest(bob, '/chat/recent-conversations/');
    expect(recent.find((c: any) => String(c.id) === direct).other_user).toMatchObject({ first_name: final.firstName, last_name: final.lastName });
  });
});

describe('avatars', () => {
  test('refused uploads (not an image, a renamed PDF or text, too many pixels, HEIC) store nothing and change nothing', async () => {
    const u = await registerUser(server.url, 'avr');
    const files = storedFiles();
    const pdf = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');
    const cases: [string, Buffer, string][] = [
      ['report.png', pdf, 'UNSUPPORTED_MEDIA_TYPE'],
      ['notes.png', Buffer.from('just some text, not an image'), 'UNSUPPORTED_MEDIA_TYPE'],
      ['page.jpg', Buffer.from('<!doctype html><script>alert(1)</script>'), 'UNSUPPORTED_MEDIA_TYPE'],
      ['photo.jpg', await image('png', 20, 20), 'UNSUPPORTED_MEDIA_TYPE'],
      ['clip.mp4', Buffer.concat([Buffer.from('000000186674797069736f6d', 'hex'), Buffer.alloc(5000)]), 'UNSUPPORTED_MEDIA_TYPE'],
      ['huge.png', await image('png', 1001, 1000), 'PAYLOAD_TOO_LARGE'],
      ['photo.heic', await image('png', 20, 20), 'UNSUPPORTED_MEDIA_TYPE'],
      ['bad\u0001name.png', await image('png', 20, 20), 'BAD_USER_INPUT'],
      ['empty.png', Buffer.alloc(0), 'UNSUPPORTED_MEDIA_TYPE'],
    ];
    for (const [name, bytes, code] of cases) {
      const r = await setAvatar(u, name, bytes);
      expect({ name, code: codeOf(r), status: r.status === 500 ? 500 : 'not 500' }).toEqual({ name, code, status: 'not 500' });
      expect(r.data?.setAvatar ?? null).toBeNull();
    }
    expect(storedFiles()).toBe(files);
    expect(await me(u)).toMatchObject({ avatarUrl: null, avatarThumbnailUrl: null });
  });

  test('an avatar: a 150x150 thumbnail, signed URLs any viewer may read (tampered: 404), in every dialect; replacing and removing delete the old files', async () => {
    const { alice, bob, carol, dave, direct, group } = await world('av');
    const files = storedFiles();
    const bobSub = rt.sub(rt.client(bob), UPDATED);
    await bobSub.ready();

    const set = await setAvatar(alice, 'me.jpg', await image('jpeg', 900, 600));
    expect(set.errors).toBeUndefined();
    const first = set.data.setAvatar;
    expect(first.avatarUrl).toMatch(new RegExp(`^/media/avatars/${alice.id}/1\\?exp=\\d+&sig=[\\w-]+$`));
    expect(first.avatarThumbnailUrl).toMatch(new RegExp(`^/media/avatars/${alice.id}/1/thumbnail\\?exp=\\d+&sig=[\\w-]+$`));
    expect(storedFiles()).toBe(files + 2);
    expect((await bobSub.next()).userUpdated).toMatchObject({ id: alice.id, avatarUrl: first.avatarUrl, avatarThumbnailUrl: first.avatarThumbnailUrl });

    // Signed: no token needed. The thumbnail is a 150x150 WebP; the avatar fits 512x512 (never enlarged).
    const thumb = await fetchMedia(first.avatarThumbnailUrl);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get('content-type')).toBe('image/webp');
    expect(thumb.headers.get('x-content-type-options')).toBe('nosniff');
    const thumbMeta = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
    expect({ format: thumbMeta.format, width: thumbMeta.width, height: thumbMeta.height }).toEqual({ format: 'webp', width: 150, height: 150 });
    const full = await sharp(Buffer.from(await (await fetchMedia(first.avatarUrl)).arrayBuffer())).metadata();
    expect({ format: full.format, width: full.width, height: full.height }).toEqual({ format: 'webp', width: 512, height: 341 });

    // Tampered or missing signatures: 404, unless an authenticated caller asks (anyone may see any user).
    const url = new URL(first.avatarUrl, base);
    const sig = url.searchParams.get('sig')!;
    const tampered = (s: string) => `${url.pathname}?exp=${url.searchParams.get('exp')}&sig=${s}`;
    expect((await fetchMedia(tampered(`${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`))).status).toBe(404);
    expect((await fetchMedia(`${url.pathname}?exp=${Number(url.searchParams.get('exp')) + 1}&sig=${sig}`)).status).toBe(404);
    expect((await fetchMedia(`/media/avatars/${bob.id}/1?exp=${url.searchParams.get('exp')}&sig=${sig}`)).status).toBe(404);
    expect((await fetchMedia(`${url.pathname}/thumbnail?exp=${url.searchParams.get('exp')}&sig=${sig}`)).status).toBe(404);
    expect((await fetchMedia(url.pathname)).status).toBe(404);
    expect((await fetchMedia(url.pathname, 'not-a-token')).status).toBe(404);
    expect((await fetchMedia(url.pathname, dave.token)).status).toBe(200);

    // Every dialect's avatar fields: absolute signed URLs of the same files.
    const abs = (p: string) => new URL(p, base).pathname;
    const recent = (await rest(bob, '/chat/recent-conversations/')).find((c: any) => String(c.id) === direct).other_user;
    expect(abs(recent.avatar)).toBe(url.pathname);
    expect(recent.avatar.startsWith(base)).toBe(true);
    const summary = (await rest(carol, `/chats/${group}/`)).members_summary.find((m: any) => m.id === Number(alice.id));
    expect(abs(summary.avatar_thumbnail)).toBe(`${url.pathname}/thumbnail`);
    await gqlOk(server.url, 'mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: "look" }) { id } }', { c: group }, alice.token);
    const sender = (await rest(carol, `/chats/${group}/messages/`)).results.find((m: any) => m.sender?.id === Number(alice.id)).sender;
    expect({ avatar: abs(sender.avatar), thumbnail: abs(sender.avatar_thumbnail) }).toEqual({ avatar: url.pathname, thumbnail: `${url.pathname}/thumbnail` });
    const participant = (await rest(bob, `/conversations/${direct}/`)).participants.find((p: any) => p.id === Number(alice.id));
    expect(abs(participant.profile_picture)).toBe(url.pathname);
    expect((await fetch(participant.profile_picture)).status).toBe(200);

    // Replacing: new version, the old files are gone (their URLs 404), still two files.
    const second = (await setAvatar(alice, 'new.png', await image('png', 100, 300))).data.setAvatar;
    expect(second.avatarUrl).toMatch(new RegExp(`^/media/avatars/${alice.id}/2\\?`));
    expect(storedFiles()).toBe(files + 2);
    expect((await fetchMedia(first.avatarUrl)).status).toBe(404);
    expect((await fetchMedia(first.avatarThumbnailUrl)).status).toBe(404);
    const small = await sharp(Buffer.from(await (await fetchMedia(second.avatarThumbnailUrl)).arrayBuffer())).metadata();
    expect({ width: small.width, height: small.height }).toEqual({ width: 150, height: 150 });
    expect((await bobSub.next()).userUpdated.avatarUrl).toBe(second.avatarUrl);

    // A refused replacement keeps the current avatar.
    expect(codeOf(await setAvatar(alice, 'x.png', Buffer.from('nope')))).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect((await me(alice)).avatarUrl).toBe(second.avatarUrl);
    expect(storedFiles()).toBe(files + 2);

    // Removing: no files, null everywhere, old URLs 404; removing again changes nothing (no event).
    const removed = (await gqlOk(server.url, `mutation { removeAvatar { ${USER} } }`, {}, alice.token)).removeAvatar;
    expect(removed).toMatchObject({ avatarUrl: null, avatarThumbnailUrl: null });
    expect(storedFiles()).toBe(files);
    expect((await fetchMedia(second.avatarUrl)).status).toBe(404);
    expect((await fetchMedia(url.pathname.replace(/\/1$/, '/2'), dave.token)).status).toBe(404);
    expect((await bobSub.next()).userUpdated).toMatchObject({ id: alice.id, avatarUrl: null, avatarThumbnailUrl: null });
    expect((await gqlOk(server.url, `mutation { removeAvatar { avatarUrl } }`, {}, alice.token)).removeAvatar.avatarUrl).toBeNull();
    await update(alice, { firstName: 'Control' });
    expect((await bobSub.until(() => true)).map((e) => e.userUpdated.firstName)).toEqual(['Control']);
    expect((await rest(bob, `/conversations/${direct}/`)).participants.find((p: any) => p.id === Number(alice.id)).profile_picture).toBeNull();
  });

  test("concurrent setAvatar calls leave exactly the winner's two files", async () => {
    const u = await registerUser(server.url, 'avc');
    const files = storedFiles();
    const results = await Promise.all([0, 1, 2].map(async (i) => setAvatar(u, `p${i}.png`, await image('png', 40 + i, 40))));
    for (const r of results) expect(r.errors).toBeUndefined();
    expect(storedFiles()).toBe(files + 2);
    const now = await me(u);
    expect(now.avatarUrl).toMatch(new RegExp(`^/media/avatars/${u.id}/3\\?`));
    expect((await fetchMedia(now.avatarThumbnailUrl)).status).toBe(200);
  });
});

describe('legacy sockets', () => {
  test("seed 004 frames show the sender's current avatar as profile_picture (no seed documents a user-update frame)", async () => {
    const { alice, bob, direct } = await world('lg');
    const avatar = (await setAvatar(alice, 'a.webp', await image('webp', 64, 64))).data.setAvatar.avatarUrl;
    const frames: any[] = [];
    const before = server.realtime.legacy.readyCount({ userId: Number(bob.id) });
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws/chat/${direct}/?token=${encodeURIComponent(bob.token)}`);
    ws.on('message', (data) => frames.push(JSON.parse(String(data))));
    try {
      await waitFor(() => server.realtime.legacy.readyCount({ userId: Number(bob.id) }) > before, 'the seed 004 socket to be ready');
      await gqlOk(server.url, 'mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: "with a face" }) { id } }', { c: direct }, alice.token);
      await waitFor(() => frames.some((f) => f.type === 'new_message'), 'new_message on the seed 004 socket');
      const sender = frames.find((f) => f.type === 'new_message').message.sender;
      expect(sender).toEqual({
        id: Number(alice.id),
        username: alice.username,
        profile_picture: expect.stringMatching(new RegExp(`^/media/avatars/${alice.id}/1\\?exp=\\d+&sig=`)),
      });
      expect(new URL(sender.profile_picture, base).pathname).toBe(new URL(avatar, base).pathname);
      expect((await fetchMedia(sender.profile_picture)).status).toBe(200);
    } finally {
      ws.terminate();
    }
  });
});

describe('userUpdated delivery', () => {
  test('one execution and no SQL per event, whatever the number of subscribers', async () => {
    const alice = await registerUser(server.url, 'dla');
    const members = await Promise.all(Array.from({ length: 6 }, (_, i) => registerUser(server.url, `dl${i}`)));
    await gqlOk(server.url, 'mutation($m: [ID!]!) { createGroup(input: { name: "g", memberIds: $m }) { id } }', { m: members.map((m) => m.id) }, alice.token);
    const subs = members.map((m) => rt.sub(rt.client(m), UPDATED));
    await Promise.all(subs.map((s) => s.ready()));
    for (const round of ['One', 'Two']) {
      deliverySql = [];
      const executions = server.realtime.hub.executions;
      await update(alice, { firstName: round });
      for (const s of subs) expect((await s.next()).userUpdated).toMatchObject({ id: alice.id, firstName: round });
      expect(server.realtime.hub.executions - executions).toBe(1);
      expect(deliverySql).toEqual([]);
    }
  });

  test('over-long userIds are refused; it runs over WebSocket only', async () => {
    const u = await registerUser(server.url, 'dlr');
    const overHttp = await gql(server.url, 'subscription { userUpdated { id } }', {}, u.token);
    expect(codeOf(overHttp)).toBe('BAD_USER_INPUT');
    const many = rt.sub(rt.client(u), UPDATED, { u: Array.from({ length: 1001 }, (_, i) => String(i + 1)) });
    await many.done;
    expect(JSON.stringify(many.errors)).toContain('BAD_USER_INPUT');
  });
});

(process.env.DATABASE_URL && process.env.REDIS_URL ? describe : describe.skip)('two instances (PostgreSQL and Redis)', () => {
  test("an edit through A reaches userUpdated on B, B's user cache forgets the old name, B serves the avatar A stored", async () => {
    // One UPLOAD_DIR for the deployment, as for attachments.
    const dir = mkdtempSync(join(tmpdir(), 'accounts-profile-cluster-'));
    const cluster = await startTestCluster(2, { UPLOAD_DIR: dir });
    const [a, b] = cluster.instances;
    try {
      const alice = await registerUser(a.url, 'cla', { firstName: 'Old' });
      const bob = await registerUser(a.url, 'clb');
      await gqlOk(a.url, 'mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: bob.id }, alice.token);
      // B has alice in its user cache.
      expect((await gqlOk(b.url, '{ me { firstName } }', {}, alice.token)).me.firstName).toBe('Old');
      const bobOnB = wsClient(b.wsUrl, bob.token);
      const s = subscribe(bobOnB, UPDATED, {}, { server: b });
      try {
        await s.ready();
        await gqlOk(a.url, UPDATE, { i: { firstName: 'New' } }, alice.token);
        expect((await s.next(10_000)).userUpdated).toMatchObject({ id: alice.id, firstName: 'New' });
        expect((await gqlOk(b.url, '{ me { firstName } }', {}, alice.token)).me.firstName).toBe('New');
        const set = await setAvatar(alice, 'a.png', await image('png', 200, 200), a.url);
        expect(set.errors).toBeUndefined();
        const ev = (await s.next(10_000)).userUpdated;
        expect(ev.avatarThumbnailUrl).toBe(set.data.setAvatar.avatarThumbnailUrl);
        const thumb = await fetch(`${b.url.replace(/\/graphql$/, '')}${ev.avatarThumbnailUrl}`);
        expect(thumb.status).toBe(200);
        expect((await sharp(Buffer.from(await thumb.arrayBuffer())).metadata()).width).toBe(150);
      } finally {
        s.stop();
        await bobOnB.dispose();
      }
    } finally {
      await cluster.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
