/**
 * Files through REST, with the limits and sniffing of GraphQL uploads: seed 001's multipart
 * send with repeated `medias` (the message's `media`, also seen as seed 003's file_* and seed
 * 004's `attachments`, and on GraphQL's messageAdded), seed 004's
 * POST /api/conversations/{cid}/messages/{mid}/attachments/ with `file` (201, sender only,
 * messageEdited), and every refusal (413 too large or too many, 415 other types, 400 bad file
 * name or a file where none is taken, 403/404 callers) leaving nothing behind: no message, no
 * row, no stored file, no temporary file.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { trackRealtime, waitFor } from '../../support/client';
import { startTestServer, type TestServer } from '../../support/test-server';
import { filesUnder } from '../../support/files';
import { call, expectError, expectKeys, form, restUser, type FilePart, type RestUser } from './rest-support';

// Every temporary file of this worker (the multipart capacitors too) lands in a folder we watch.
const TMP = mkdtempSync(join(tmpdir(), 'rest-uploads-tmp-'));
const previousTmp = process.env.TMPDIR;
process.env.TMPDIR = TMP;
const UPLOADS = mkdtempSync(join(TMP, 'uploads-'));
const MB10 = 10 * 1024 * 1024;
/** Files per message on this server (UPLOAD_MAX_FILES; 10 by default): small, to reach it cheaply. */
const MAX_FILES = 3;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ UPLOAD_DIR: UPLOADS, UPLOAD_MAX_FILES: String(MAX_FILES) });
});
afterAll(async () => {
  try {
    await server?.close();
  } finally {
    if (previousTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previousTmp;
    rmSync(TMP, { recursive: true, force: true });
  }
});
const { client, sub } = trackRealtime(
  () => server.wsUrl,
  () => server,
);

const image = (format: 'png' | 'jpeg' | 'gif' | 'webp', width = 60, height = 40) =>
  sharp({ create: { width, height, channels: 3, background: { r: 20, g: 130, b: 90 } } })
    [format]()
    .toBuffer();
const mp4 = () => readFileSync(join(__dirname, '../../fixtures/tiny.mp4'));
const rows = async (table: string) => Number((await server.orm.em.fork().execute(`select count(*) as n from "${table}"`))[0].n);
/** What a refused upload must leave unchanged. */
const footprint = async () => ({ stored: filesUnder(UPLOADS).length, attachments: await rows('attachments'), messages: await rows('messages') });
/** Temporary files still there (the request's capacitors go when its response ends: waited for, bounded). */
const strayTemps = async () => {
  const stray = () => filesUnder(TMP).filter((p) => !p.startsWith(UPLOADS));
  await waitFor(() => stray().length === 0, "the request's temp files to go", { timeoutMs: 5000 }).catch(() => undefined);
  return stray();
};

const MEDIA_KEYS = ['id', 'url', 'thumbnail', 'media_type'];
const ATTACHMENT_KEYS = ['id', 'message', 'file', 'uploaded_at'];

let owner: RestUser;
let member: RestUser;
let outsider: RestUser;
let chatId: number;
beforeAll(async () => {
  owner = await restUser(server, 'upo');
  member = await restUser(server, 'upm');
  outsider = await restUser(server, 'upx');
  const created = await call(server, 'POST', '/chats/', { token: owner.token, form: form({ name: 'ảnh', members: [member.id] }) });
  chatId = created.body.id;
});

const sendMedias = (user: RestUser, files: FilePart[], fields: Record<string, string> = { content: 'xem ảnh' }, id = chatId) =>
  call(server, 'POST', `/chats/${id}/send-message/`, {
    token: user.token,
    form: form(
      fields,
      files.map((f) => ['medias', f]),
    ),
  });

describe('seed 001: send-message with repeated `medias`', () => {
  it('stores every file; the message carries them as `media`, in every dialect and on messageAdded', async () => {
    const live = sub(client(member), `subscription($c: ID) { messageAdded(conversationId: $c) { id kind attachments { fileName mimeType } } }`, {
      c: String(chatId),
    });
    await live.ready();
    const png = await image('png', 600, 400);
    const video = mp4();
    const res = await sendMedias(owner, [
      { name: 'phong.png', bytes: png, type: 'image/png' },
      { name: 'clip.mp4', bytes: video, type: 'video/mp4' },
    ]);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ content: 'xem ảnh', chat_group: chatId, is_system_message: false });
    expect(res.body.media).toHaveLength(2);
    for (const m of res.body.media) expectKeys(m, MEDIA_KEYS);
    const [photo, clip] = res.body.media;
    expect(photo).toMatchObject({
      media_type: 'image',
      url: expect.stringMatching(/^http:\/\/[^/]+\/media\/\d+\?exp=\d+&sig=/),
      thumbnail: expect.stringMatching(/^http:\/\/[^/]+\/media\/\d+\/thumbnail\?/),
    });
    expect(clip).toMatchObject({ media_type: 'video', thumbnail: null });
    // The URLs work as <img src> (signed, no token).
    const got = await fetch(photo.url);
    expect([got.status, got.headers.get('content-type')]).toEqual([200, 'image/png']);
    expect(Buffer.from(await got.arrayBuffer()).equals(png)).toBe(true);
    expect((await fetch(photo.thumbnail)).headers.get('content-type')).toBe('image/webp');
    expect(await live.next()).toEqual({
      messageAdded: {
        id: String(res.body.id),
        kind: 'FILE',
        attachments: [
          { fileName: 'phong.png', mimeType: 'image/png' },
          { fileName: 'clip.mp4', mimeType: 'video/mp4' },
        ],
      },
    });

    // Seed 001 history, seed 003's file_* (the first file) and message_type, seed 004's attachments.
    const history = await call(server, 'GET', `/chats/${chatId}/messages/?page_size=100`, { token: member.token });
    expect(history.body.results.find((m: any) => m.id === res.body.id).media.map((m: any) => m.id)).toEqual([photo.id, clip.id]);
    const room = await call(server, 'GET', `/chat/rooms/${chatId}/messages/?page_size=100`, { token: member.token });
    expect(room.body.messages.find((m: any) => m.id === res.body.id)).toMatchObject({
      message_type: 'file',
      file_url: expect.stringContaining(`/media/${photo.id}?`),
      file_name: 'phong.png',
      file_size: png.length,
    });
    const one = await call(server, 'GET', `/messages/${res.body.id}/`, { token: member.token });
    expect(one.body.attachments).toHaveLength(2);
    for (const a of one.body.attachments) expectKeys(a, ATTACHMENT_KEYS);
    expect(one.body.attachments[1]).toMatchObject({ id: clip.id, message: res.body.id, file: expect.stringContaining(`/media/${clip.id}?`) });
  });

  it('files alone (no content) make an image message; deleting it hides the files', async () => {
    const res = await sendMedias(
      owner,
      [
        { name: 'a.jpg', bytes: await image('jpeg') },
        { name: 'b.webp', bytes: await image('webp') },
      ],
      {},
    );
    expect(res.status).toBe(201);
    expect(res.body.content).toBe('');
    expect(res.body.media.map((m: any) => m.media_type)).toEqual(['image', 'image']);
    const room = await call(server, 'GET', `/chat/rooms/${chatId}/messages/?page_size=100`, { token: owner.token });
    expect(room.body.messages.find((m: any) => m.id === res.body.id)).toMatchObject({ message_type: 'image', file_name: 'a.jpg' });

    expect((await call(server, 'DELETE', `/messages/${res.body.id}/`, { token: owner.token })).status).toBe(204);
    const after = await call(server, 'GET', `/messages/${res.body.id}/`, { token: owner.token });
    expect(after.body).toMatchObject({ media: [], attachments: [], is_removed: true });
    expect((await fetch(res.body.media[0].url)).status).toBe(404);
  });

  const png = () => image('png', 10, 10);
  const refusals: [string, () => Promise<FilePart[]>, number, RegExp][] = [
    [
      'a file of 10 MB + 1 byte',
      async () => [{ name: 'big.png', bytes: Buffer.concat([await png(), Buffer.alloc(MB10 + 1 - (await png()).length)]) }],
      413,
      /10485760 byte/,
    ],
    [
      `${MAX_FILES + 1} files`,
      async () => Promise.all(Array.from({ length: MAX_FILES + 1 }, async (_, i) => ({ name: `f${i}.png`, bytes: await png() }))),
      413,
      new RegExp(`At most ${MAX_FILES} files`),
    ],
    [
      `${MAX_FILES + 3} files`,
      async () => Promise.all(Array.from({ length: MAX_FILES + 3 }, async (_, i) => ({ name: `f${i}.png`, bytes: await png() }))),
      413,
      new RegExp(`At most ${MAX_FILES} files`),
    ],
    ['HTML named .png', async () => [{ name: 'page.png', bytes: Buffer.from('<!doctype html><html><script>alert(1)</script></html>') }], 415, /not an allowed/],
    ['SVG', async () => [{ name: 'logo.svg', bytes: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>') }], 415, /\.svg is not allowed/],
    ['a PNG named .jpg', async () => [{ name: 'photo.jpg', bytes: await png() }], 415, /does not match/],
    [
      'one bad file among good ones',
      async () => [
        { name: 'ok.png', bytes: await png() },
        { name: 'bad.gif', bytes: Buffer.from('not an image at all') },
      ],
      415,
      /not an allowed/,
    ],
    [
      'a file name of 300 characters',
      async () => [{ name: `${'a'.repeat(296)}.png`, bytes: await png() }],
      400,
      /^medias: File name must be 1 to 255 characters/,
    ],
    ['a control character in the file name', async () => [{ name: 'bad\u0001name.png', bytes: await png() }], 400, /^Malformed multipart body/],
  ];

  test.each(refusals)(
    'refuses %s and leaves nothing behind',
    async (_name, make, status, message) => {
      const before = await footprint();
      const res = await sendMedias(owner, await make());
      expect(expectError(res, status).detail).toMatch(message);
      expect(await footprint()).toEqual(before);
      expect(await strayTemps()).toEqual([]);
    },
    60000,
  );

  it('refuses a non-member (403, whether or not the files are fine), and files where none are taken (400 naming the field)', async () => {
    const before = await footprint();
    expect(expectError(await sendMedias(outsider, [{ name: 'x.png', bytes: await png() }]), 403).error).toBe('Bạn không phải là thành viên của nhóm chat này');
    expect(expectError(await sendMedias(outsider, [{ name: 'x.png', bytes: await png() }], {}, 999999), 403).error).toBe(
      'Bạn không phải là thành viên của nhóm chat này',
    );
    const wrongField = await call(server, 'POST', `/chats/${chatId}/send-message/`, {
      token: owner.token,
      form: form({ content: 'x' }, [['file', { name: 'x.png', bytes: await png() }]]),
    });
    expect(expectError(wrongField, 400).error).toMatch(/^file: file uploads are not accepted here \(only medias\)/);
    const onCreate = await call(server, 'POST', '/chats/', {
      token: owner.token,
      form: form({ name: 'g' }, [['members', { name: 'x.png', bytes: await png() }]]),
    });
    expect(expectError(onCreate, 400).error).toMatch(/^members/);
    // JSON cannot carry files: a string in `medias` is a 400 naming it.
    expect(
      expectError(await call(server, 'POST', `/chats/${chatId}/send-message/`, { token: owner.token, json: { content: 'x', medias: ['a.png'] } }), 400).error,
    ).toMatch(/^medias/);
    // No content and no file: the domain's rule, 400 naming content.
    expect(expectError(await sendMedias(owner, [], { content: ' ' }), 400).error).toMatch(/^content/);
    expect(await footprint()).toEqual(before);
    expect(await strayTemps()).toEqual([]);
  });
});

describe('seed 004: POST /api/conversations/{cid}/messages/{mid}/attachments/', () => {
  let sender: RestUser;
  let peer: RestUser;
  let conversationId: number;
  let messageId: number;
  beforeAll(async () => {
    sender = await restUser(server, 'ups');
    peer = await restUser(server, 'upp');
    const sent = await call(server, 'POST', '/messages/', { token: sender.token, json: { content: 'screenshot incoming', recipient_id: Number(peer.id) } });
    conversationId = sent.body.conversation;
    messageId = sent.body.id;
  });
  const attachTo = (user: RestUser, file: FilePart, cid: number, mid: number) =>
    call(server, 'POST', `/conversations/${cid}/messages/${mid}/attachments/`, { token: user.token, form: form({}, [['file', file]]) });
  /** Attaches to the message made in beforeAll. */
  const attach = (user: RestUser, file: FilePart, cid = conversationId, mid = messageId) => attachTo(user, file, cid, mid);

  it("attaches a file to the sender's message (201 Attachment model), seen in the message and on messageEdited", async () => {
    const edits = sub(client(peer), `subscription($c: ID) { messageEdited(conversationId: $c) { id attachments { fileName } } }`, {
      c: String(conversationId),
    });
    await edits.ready();
    const bytes = await image('png', 300, 200);
    const res = await attach(sender, { name: 'rank.png', bytes, type: 'image/png' });
    expect(res.status).toBe(201);
    expectKeys(res.body, ATTACHMENT_KEYS);
    expect(res.body).toEqual({
      id: expect.any(Number),
      message: messageId,
      file: expect.stringMatching(/^http:\/\/[^/]+\/media\/\d+\?exp=\d+&sig=/),
      uploaded_at: expect.any(String),
    });
    expect(Buffer.from(await (await fetch(res.body.file)).arrayBuffer()).equals(bytes)).toBe(true);
    expect(await edits.next()).toEqual({ messageEdited: { id: String(messageId), attachments: [{ fileName: 'rank.png' }] } });

    const video = await attach(sender, { name: 'clip.mov', bytes: readFileSync(join(__dirname, '../../fixtures/tiny.mov')) });
    expect(video.status).toBe(201);
    const page = await call(server, 'GET', `/conversations/${conversationId}/messages/`, { token: peer.token });
    expect(page.body.results.find((m: any) => m.id === messageId).attachments.map((a: any) => a.id)).toEqual([res.body.id, video.body.id]);
    expect((await call(server, 'GET', `/conversations/${conversationId}/`, { token: peer.token })).body.last_message.attachments).toHaveLength(2);

    // Up to the files-per-message limit (UPLOAD_MAX_FILES), then 413.
    expect((await attach(sender, { name: 'third.gif', bytes: await image('gif') })).status).toBe(201);
    expect(expectError(await attach(sender, { name: 'fourth.gif', bytes: await image('gif') }), 413).detail).toMatch(new RegExp(`At most ${MAX_FILES} files`));
  });

  it('refuses others, wrong paths, bad files and a body without a file, leaving nothing behind', async () => {
    // A message of its own, with room for files (whatever the other test attached to the first one).
    const messageId: number = (await call(server, 'POST', '/messages/', { token: sender.token, json: { content: 'another', recipient_id: Number(peer.id) } }))
      .body.id;
    const attach = (user: RestUser, file: FilePart, cid = conversationId, mid = messageId) => attachTo(user, file, cid, mid);
    const before = await footprint();
    const png = await image('png', 10, 10);
    expectError(await attach(peer, { name: 'x.png', bytes: png }), 403);
    expectError(await attach(outsider, { name: 'x.png', bytes: png }), 404);
    expectError(await attach(sender, { name: 'x.png', bytes: png }, conversationId + 1000), 404);
    expectError(await attach(sender, { name: 'x.png', bytes: png }, conversationId, 999999), 404);
    expectError(
      await call(server, 'POST', `/conversations/${conversationId}/messages/${messageId}/attachments/`, {
        form: form({}, [['file', { name: 'x.png', bytes: png }]]),
      }),
      401,
    );
    expect(expectError(await attach(sender, { name: 'big.mp4', bytes: Buffer.concat([mp4(), Buffer.alloc(MB10)]) }), 413).detail).toMatch(/10485760 byte/);
    expect(expectError(await attach(sender, { name: 'notes.txt', bytes: Buffer.from('hello') }), 415).detail).toMatch(/\.txt is not allowed/);
    expect(expectError(await attach(sender, { name: 'fake.webp', bytes: Buffer.from('RIFF....not webp at all') }), 415).detail).toMatch(/not an allowed/);
    expect(expectError(await attach(sender, { name: `${'b'.repeat(300)}.png`, bytes: png }), 400).error).toMatch(/^file: File name/);
    const noFile = await call(server, 'POST', `/conversations/${conversationId}/messages/${messageId}/attachments/`, {
      token: sender.token,
      json: { file: 'https://example.com/x.png' },
    });
    expect(expectError(noFile, 400).error).toMatch(/^file/);
    const twoFiles = await call(server, 'POST', `/conversations/${conversationId}/messages/${messageId}/attachments/`, {
      token: sender.token,
      form: form({}, [
        ['file', { name: 'a.png', bytes: png }],
        ['file', { name: 'b.png', bytes: png }],
      ]),
    });
    expect(expectError(twoFiles, 400).error).toMatch(/^file/);
    expect(await footprint()).toEqual(before);
    expect(await strayTemps()).toEqual([]);
  }, 60000);
});
