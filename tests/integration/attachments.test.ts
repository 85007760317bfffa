/**
 * Attachments through the real server (issue 4): GraphQL multipart requests (the multipart
 * request spec, with Apollo's CSRF header) carrying real PNG, JPEG, GIF, WebP and MP4/MOV files;
 * stored, sniffed, thumbnailed, served on /media with access control and Range; and every
 * refusal leaving nothing behind on disk (uploads and transport temp files) or in the database.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { codeOf, gqlOk, registerUser, trackRealtime, waitFor, type GqlResult, type TestUser } from '../support/client';
import { filesUnder } from '../support/files';
import { startTestServer, type TestServer } from '../support/test-server';

// Every temporary file of this worker (graphql-upload's capacitors too) lands in a folder we watch.
const TMP = mkdtempSync(join(tmpdir(), 'attachments-test-tmp-'));
process.env.TMPDIR = TMP;
const UPLOADS = mkdtempSync(join(TMP, 'uploads-'));
const MB10 = 10 * 1024 * 1024;

let server: TestServer;
let base: string;
beforeAll(async () => {
  server = await startTestServer({ UPLOAD_DIR: UPLOADS });
  base = server.url.replace(/\/graphql$/, '');
});
afterAll(async () => {
  await server.close();
  rmSync(TMP, { recursive: true, force: true });
});

const { client, sub } = trackRealtime(
  () => server.wsUrl,
  () => server,
);

const ATTACHMENT = 'id url thumbnailUrl fileName mimeType size width height createdAt';
const SEND = `mutation($i: SendMessageInput!) { sendMessage(input: $i) { id seq kind content attachments { ${ATTACHMENT} } } }`;

interface Upload {
  name: string;
  bytes: Buffer;
  type?: string;
}

/** POSTs a GraphQL multipart request: `files` go to variables at `paths` (e.g. "input.attachments.0"). */
async function multipart(user: TestUser, query: string, variables: Record<string, unknown>, files: [string, Upload][], preflight = true): Promise<GqlResult> {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query, variables }));
  form.append('map', JSON.stringify(Object.fromEntries(files.map(([path], i) => [String(i), [`variables.${path}`]]))));
  files.forEach(([, f], i) => form.append(String(i), new Blob([f.bytes], { type: f.type ?? 'application/octet-stream' }), f.name));
  const res = await fetch(server.url, {
    method: 'POST',
    // Without the preflight header the request carries no Authorization either: a bearer token makes a request
    // non-simple (browsers preflight it), so CSRF prevention lets it through (src/app.ts csrfPrevention).
    headers: preflight ? { authorization: `Bearer ${user.token}`, 'apollo-require-preflight': 'true' } : {},
    body: form,
  });
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text);
  } catch {
    body = { errors: [{ message: text }] };
  }
  return { status: res.status, ...body } as GqlResult;
}

/** Sends a message with files to a conversation. */
function sendWithFiles(user: TestUser, conversationId: string, uploads: Upload[], content = '') {
  return multipart(
    user,
    SEND,
    { i: { conversationId, content, attachments: uploads.map(() => null) } },
    uploads.map((u, i) => [`i.attachments.${i}`, u] as [string, Upload]),
  );
}

const image = (format: 'png' | 'jpeg' | 'gif' | 'webp', width = 600, height = 400) =>
  sharp({ create: { width, height, channels: 3, background: { r: 200, g: 30, b: 90 } } })
    [format]()
    .toBuffer();
const attachmentRows = async () => Number((await server.orm.em.fork().execute('select count(*) as n from "attachments"'))[0].n);
const messageRows = async () => Number((await server.orm.em.fork().execute('select count(*) as n from "messages"'))[0].n);
/** Temporary files of the transport outside UPLOAD_DIR (they go once their request has ended; the wait is bounded). */
const tempFiles = () => filesUnder(TMP).filter((p) => !p.startsWith(UPLOADS));
const tempFilesGone = async () => {
  await waitFor(() => tempFiles().length === 0, "the transport's temp files to go", { timeoutMs: 5000 }).catch(() => undefined);
  expect(tempFiles()).toEqual([]);
};

let alice: TestUser;
let bob: TestUser;
let mallory: TestUser;
let direct: string;
beforeAll(async () => {
  alice = await registerUser(server.url, 'att_alice');
  bob = await registerUser(server.url, 'att_bob');
  mallory = await registerUser(server.url, 'att_mallory');
  direct = (await gqlOk(server.url, `mutation($u: ID) { openDirectChat(userId: $u) { id } }`, { u: bob.id }, alice.token)).openDirectChat.id;
});

describe('stored and served', () => {
  test('images: sniffed type, dimensions, thumbnail 256 px on the long side, served inline to a member', async () => {
    const uploads: Upload[] = [
      { name: 'photo.png', bytes: await image('png', 600, 400) },
      { name: 'photo.JPG', bytes: await image('jpeg', 300, 900) },
      { name: 'anim.gif', bytes: await image('gif', 120, 80) },
      { name: 'pic.webp', bytes: await image('webp', 1000, 1000) },
    ];
    const r = await sendWithFiles(alice, direct, uploads, 'holiday pictures');
    expect(r.errors).toBeUndefined();
    const m = r.data.sendMessage;
    expect(m).toMatchObject({ kind: 'IMAGE', content: 'holiday pictures' });
    expect(m.attachments.map((a: any) => [a.fileName, a.mimeType, a.size, a.width, a.height])).toEqual([
      ['photo.png', 'image/png', uploads[0].bytes.length, 600, 400],
      ['photo.JPG', 'image/jpeg', uploads[1].bytes.length, 300, 900],
      ['anim.gif', 'image/gif', uploads[2].bytes.length, 120, 80],
      ['pic.webp', 'image/webp', uploads[3].bytes.length, 1000, 1000],
    ]);
    const expectedThumbs = [
      [256, 171],
      [85, 256],
      [120, 80],
      [256, 256],
    ];
    for (const [i, a] of m.attachments.entries()) {
      // the signed URL works without a token (<img src>)
      const res = await fetch(base + a.url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(a.mimeType);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-disposition')).toMatch(/^inline; filename=/);
      expect(Buffer.from(await res.arrayBuffer()).equals(uploads[i].bytes)).toBe(true);
      const thumb = await fetch(base + a.thumbnailUrl);
      expect(thumb.status).toBe(200);
      expect(thumb.headers.get('content-type')).toBe('image/webp');
      const meta = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
      expect([meta.width, meta.height]).toEqual(expectedThumbs[i]);
    }
    // stored under generated names, not the client's
    const stored = filesUnder(UPLOADS).map((p) => p.split('/').pop());
    expect(stored.some((n) => /photo|anim|pic/.test(n!))).toBe(false);
  });

  test('video: no thumbnail, served as attachment, Range requests', async () => {
    const mp4 = readFileSync(join(__dirname, '../fixtures/tiny.mp4'));
    const mov = readFileSync(join(__dirname, '../fixtures/tiny.mov'));
    const r = await sendWithFiles(alice, direct, [
      { name: 'clip.mp4', bytes: mp4 },
      { name: 'clip.mov', bytes: mov },
    ]);
    expect(r.errors).toBeUndefined();
    const [a, b] = r.data.sendMessage.attachments;
    expect(r.data.sendMessage.kind).toBe('FILE');
    expect([a.mimeType, a.size, a.thumbnailUrl, b.mimeType]).toEqual(['video/mp4', mp4.length, null, 'video/quicktime']);

    const auth = { authorization: `Bearer ${bob.token}` };
    const path = `/media/${a.id}`;
    const full = await fetch(base + path, { headers: auth });
    expect(full.status).toBe(200);
    expect(full.headers.get('content-disposition')).toMatch(/^attachment; filename="?clip.mp4"?$/);
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await full.arrayBuffer()).equals(mp4)).toBe(true);

    const part = await fetch(base + path, { headers: { ...auth, range: 'bytes=100-1099' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-1099/${mp4.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(mp4.subarray(100, 1100))).toBe(true);
    const tail = await fetch(base + path, { headers: { ...auth, range: 'bytes=-10' } });
    expect(Buffer.from(await tail.arrayBuffer()).equals(mp4.subarray(mp4.length - 10))).toBe(true);
    const beyond = await fetch(base + path, { headers: { ...auth, range: `bytes=${mp4.length + 10}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${mp4.length}`);
  });

  test('404 for non-members, strangers, bad or expired signatures, and deleted messages', async () => {
    const r = await sendWithFiles(alice, direct, [{ name: 'secret.png', bytes: await image('png', 20, 20) }]);
    const a = r.data.sendMessage.attachments[0];
    const path = `/media/${a.id}`;
    const status = async (url: string, token?: string) => (await fetch(base + url, { headers: token ? { authorization: `Bearer ${token}` } : {} })).status;
    expect(await status(path, bob.token)).toBe(200);
    expect(await status(`${path}/thumbnail`, alice.token)).toBe(200);
    expect(await status(path, mallory.token)).toBe(404);
    expect(await status(path)).toBe(404);
    expect(await status(path, 'not-a-token')).toBe(404);
    const url = new URL(base + a.url);
    const sig = url.searchParams.get('sig')!;
    expect(await status(`${path}?exp=${url.searchParams.get('exp')}&sig=${sig.slice(0, -2)}xx`)).toBe(404);
    expect(await status(`${path}?exp=${Math.floor(Date.now() / 1000) - 5}&sig=${sig}`)).toBe(404);
    expect(await status(`${path}/thumbnail?exp=${url.searchParams.get('exp')}&sig=${sig}`)).toBe(404); // signed for the file, not the thumbnail
    expect(await status('/media/999999999', alice.token)).toBe(404);
    expect(await status('/media/abc', alice.token)).toBe(404);
    // mallory cannot see it through GraphQL either
    expect(codeOf(await raw(mallory, `query($id: ID!) { message(id: $id) { id } }`, { id: r.data.sendMessage.id }))).toBe('NOT_FOUND');

    await gqlOk(server.url, `mutation($id: ID!) { deleteMessage(id: $id) { id } }`, { id: r.data.sendMessage.id }, alice.token);
    expect(await status(path, alice.token)).toBe(404);
    expect(await status(a.url)).toBe(404);
    const gone = await gqlOk(server.url, `query($id: ID!) { message(id: $id) { attachments { id } } }`, { id: r.data.sendMessage.id }, alice.token);
    expect(gone.message.attachments).toEqual([]);
  });

  test('messageAdded subscribers get the attachments; addAttachment by the sender only, published as an edit', async () => {
    const live = sub(client(bob), `subscription($c: ID) { messageAdded(conversationId: $c) { id attachments { fileName mimeType url } } }`, { c: direct });
    const edits = sub(client(bob), `subscription($c: ID) { messageEdited(conversationId: $c) { id attachments { fileName } } }`, { c: direct });
    await Promise.all([live.ready(), edits.ready()]);
    const sent = (await sendWithFiles(alice, direct, [{ name: 'live.png', bytes: await image('png', 50, 50) }], 'see this')).data.sendMessage;
    const got = (await live.next()).messageAdded;
    expect(got).toMatchObject({ id: sent.id, attachments: [{ fileName: 'live.png', mimeType: 'image/png' }] });
    expect(got.attachments[0].url).toMatch(/^\/media\/\d+\?exp=\d+&sig=/);

    const ADD = `mutation($m: ID!, $f: Upload!) { addAttachment(messageId: $m, file: $f) { fileName mimeType } }`;
    const more = { name: 'more.webp', bytes: await image('webp', 40, 40) };
    expect(codeOf(await multipart(bob, ADD, { m: sent.id, f: null }, [['f', more]]))).toBe('FORBIDDEN');
    expect(codeOf(await multipart(mallory, ADD, { m: sent.id, f: null }, [['f', more]]))).toBe('NOT_FOUND');
    const added = await multipart(alice, ADD, { m: sent.id, f: null }, [['f', more]]);
    expect(added.data?.addAttachment).toEqual({ fileName: 'more.webp', mimeType: 'image/webp' });
    expect((await edits.next()).messageEdited).toEqual({ id: sent.id, attachments: [{ fileName: 'live.png' }, { fileName: 'more.webp' }] });
  });
});

describe('AVIF and HEIC', () => {
  test('AVIF: sniffed, measured and thumbnailed like the other images', async () => {
    const avif = await sharp({ create: { width: 640, height: 320, channels: 3, background: { r: 10, g: 120, b: 200 } } })
      .avif()
      .toBuffer();
    const r = await sendWithFiles(alice, direct, [{ name: 'pic.avif', bytes: avif }]);
    expect(r.errors).toBeUndefined();
    const [a] = r.data.sendMessage.attachments;
    expect([r.data.sendMessage.kind, a.mimeType, a.size, a.width, a.height]).toEqual(['IMAGE', 'image/avif', avif.length, 640, 320]);
    const thumb = await fetch(base + a.thumbnailUrl);
    expect(thumb.headers.get('content-type')).toBe('image/webp');
    const meta = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([256, 128]);
  });

  test('HEIC: accepted by its sniffed type, stored and served, without dimensions or thumbnail (sharp cannot decode it)', async () => {
    // An ISO-BMFF header with the "heic" brand: what file-type sniffs; sharp's prebuilt libvips has no HEVC decoder either way.
    const ftyp = Buffer.alloc(24);
    ftyp.writeUInt32BE(24, 0);
    ftyp.write('ftypheic', 4);
    ftyp.write('mif1heic', 16);
    const heic = Buffer.concat([ftyp, Buffer.alloc(5000)]);
    const r = await sendWithFiles(alice, direct, [{ name: 'IMG_0001.HEIC', bytes: heic }]);
    expect(r.errors).toBeUndefined();
    const [a] = r.data.sendMessage.attachments;
    expect([r.data.sendMessage.kind, a.mimeType, a.size, a.width, a.height, a.thumbnailUrl]).toEqual(['IMAGE', 'image/heic', heic.length, null, null, null]);
    const res = await fetch(base + a.url);
    expect([res.status, res.headers.get('content-type')]).toEqual([200, 'image/heic']);
    expect(Buffer.from(await res.arrayBuffer()).equals(heic)).toBe(true);
  });
});

describe('refused, leaving nothing behind', () => {
  const png = () => image('png', 10, 10);
  const cases: [string, () => Promise<Upload[]>, string][] = [
    [
      '10 MB + 1 byte',
      async () => [{ name: 'big.png', bytes: Buffer.concat([await png(), Buffer.alloc(MB10 + 1 - (await png()).length)]) }],
      'PAYLOAD_TOO_LARGE',
    ],
    ['11 files', async () => Promise.all(Array.from({ length: 11 }, async (_, i) => ({ name: `f${i}.png`, bytes: await png() }))), 'PAYLOAD_TOO_LARGE'],
    [
      'HTML named .png',
      async () => [{ name: 'page.png', bytes: Buffer.from('<!doctype html><html><script>alert(1)</script></html>') }],
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'SVG',
      async () => [{ name: 'logo.svg', bytes: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>') }],
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    ['SVG named .png', async () => [{ name: 'logo.png', bytes: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"></svg>') }], 'UNSUPPORTED_MEDIA_TYPE'],
    ['a PNG named .jpg', async () => [{ name: 'photo.jpg', bytes: await png() }], 'UNSUPPORTED_MEDIA_TYPE'],
    [
      'an executable named .mp4',
      async () => [{ name: 'run.mp4', bytes: Buffer.concat([Buffer.from('7f454c46020101', 'hex'), Buffer.alloc(5000)]) }],
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    ['a filename like ../../a.php\\0.jpg', async () => [{ name: '../../a.php\u0000.jpg', bytes: await image('jpeg', 10, 10) }], 'BAD_USER_INPUT'],
    ['a control character in the file name', async () => [{ name: 'bad\u0001name.png', bytes: await png() }], 'BAD_USER_INPUT'],
    ['a file name of 300 characters', async () => [{ name: `${'a'.repeat(296)}.png`, bytes: await png() }], 'BAD_USER_INPUT'],
    ['an empty file', async () => [{ name: 'empty.png', bytes: Buffer.alloc(0) }], 'UNSUPPORTED_MEDIA_TYPE'],
    [
      'one bad file among good ones',
      async () => [
        { name: 'ok1.png', bytes: await png() },
        { name: 'ok2.gif', bytes: await image('gif', 10, 10) },
        { name: 'bad.png', bytes: Buffer.from('not an image at all') },
      ],
      'UNSUPPORTED_MEDIA_TYPE',
    ],
  ];

  test.each(cases)(
    '%s',
    async (_name, make, code) => {
      const before = { files: filesUnder(UPLOADS).length, rows: await attachmentRows(), messages: await messageRows() };
      const r = await sendWithFiles(alice, direct, await make(), 'with files');
      expect(codeOf(r)).toBe(code);
      expect(r.data?.sendMessage ?? null).toBeNull();
      expect(r.status).not.toBe(500);
      expect({ files: filesUnder(UPLOADS).length, rows: await attachmentRows(), messages: await messageRows() }).toEqual(before);
      // the transport's temp files go when the request ends
      await tempFilesGone();
    },
    30000,
  );

  test('addAttachment: the 11th file of a message, a refused type and a deleted message', async () => {
    const ADD = `mutation($m: ID!, $f: Upload!) { addAttachment(messageId: $m, file: $f) { id } }`;
    const ten = await Promise.all(Array.from({ length: 10 }, async (_, i) => ({ name: `t${i}.png`, bytes: await png() })));
    const full = (await sendWithFiles(alice, direct, ten)).data.sendMessage;
    expect(full.attachments).toHaveLength(10);
    const one = (await sendWithFiles(alice, direct, [{ name: 'one.png', bytes: await png() }])).data.sendMessage;
    const gone = (await sendWithFiles(alice, direct, [{ name: 'gone.png', bytes: await png() }])).data.sendMessage;
    await gqlOk(server.url, `mutation($id: ID!) { deleteMessage(id: $id) { id } }`, { id: gone.id }, alice.token);

    const before = { files: filesUnder(UPLOADS).length, rows: await attachmentRows() };
    const add = (m: string, f: Upload) => multipart(alice, ADD, { m, f: null }, [['f', f]]);
    expect(codeOf(await add(full.id, { name: 'eleventh.png', bytes: await png() }))).toBe('PAYLOAD_TOO_LARGE');
    expect(codeOf(await add(one.id, { name: 'page.png', bytes: Buffer.from('<!doctype html><p>hi</p>') }))).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(codeOf(await add(one.id, { name: `${'a'.repeat(296)}.png`, bytes: await png() }))).toBe('BAD_USER_INPUT');
    // a control character breaks the multipart part header itself: refused by the transport, still BAD_USER_INPUT
    expect(codeOf(await add(one.id, { name: 'evil\u0007.png', bytes: await png() }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await add(gone.id, { name: 'late.png', bytes: await png() }))).toBe('BAD_USER_INPUT');
    expect({ files: filesUnder(UPLOADS).length, rows: await attachmentRows() }).toEqual(before);
    await tempFilesGone();
    const count = async (m: string) =>
      (await gqlOk(server.url, `query($id: ID!) { message(id: $id) { attachments { id } } }`, { id: m }, alice.token)).message.attachments.length;
    expect([await count(full.id), await count(one.id)]).toEqual([10, 1]);
  }, 30000);

  test('a file of exactly 10 MB is accepted', async () => {
    const head = await png();
    const r = await sendWithFiles(alice, direct, [{ name: 'exact.png', bytes: Buffer.concat([head, Buffer.alloc(MB10 - head.length)]) }]);
    expect(r.errors).toBeUndefined();
    expect(r.data.sendMessage.attachments[0].size).toBe(MB10);
  }, 30000);

  test('UPLOAD_MAX_BYTES, UPLOAD_MAX_FILES and PUBLIC_URL are honoured', async () => {
    const dir = mkdtempSync(join(TMP, 'small-'));
    const small = await startTestServer({ UPLOAD_DIR: dir, UPLOAD_MAX_BYTES: '2000', UPLOAD_MAX_FILES: '2', PUBLIC_URL: 'https://chat.example.com' });
    try {
      const [u, v] = [await registerUser(small.url, 'lim_u'), await registerUser(small.url, 'lim_v')];
      const c = (await gqlOk(small.url, `mutation($u: ID) { openDirectChat(userId: $u) { id } }`, { u: v.id }, u.token)).openDirectChat.id;
      const send = async (files: Upload[]) => {
        const form = new FormData();
        form.append('operations', JSON.stringify({ query: SEND, variables: { i: { conversationId: c, content: '', attachments: files.map(() => null) } } }));
        form.append('map', JSON.stringify(Object.fromEntries(files.map((_, i) => [String(i), [`variables.i.attachments.${i}`]]))));
        files.forEach((f, i) => form.append(String(i), new Blob([f.bytes]), f.name));
        const res = await fetch(small.url, { method: 'POST', headers: { authorization: `Bearer ${u.token}`, 'apollo-require-preflight': 'true' }, body: form });
        return (await res.json()) as GqlResult;
      };
      const head = await png();
      const exact = await send([{ name: 'a.png', bytes: Buffer.concat([head, Buffer.alloc(2000 - head.length)]) }]);
      expect(exact.errors).toBeUndefined();
      expect(exact.data.sendMessage.attachments[0].url).toMatch(/^https:\/\/chat\.example\.com\/media\/\d+\?exp=\d+&sig=/);
      expect(codeOf(await send([{ name: 'b.png', bytes: Buffer.concat([head, Buffer.alloc(2001 - head.length)]) }]))).toBe('PAYLOAD_TOO_LARGE');
      expect(codeOf(await send([1, 2, 3].map((i) => ({ name: `${i}.png`, bytes: head }))))).toBe('PAYLOAD_TOO_LARGE');
      expect((await send([1, 2].map((i) => ({ name: `${i}.png`, bytes: head })))).data.sendMessage.attachments).toHaveLength(2);
    } finally {
      await small.close();
      rmSync(dir, { recursive: true, force: true }); // the other tests watch TMP for leftovers
    }
  }, 30000);

  test('multipart without the CSRF preflight header is refused', async () => {
    const r = await multipart(
      alice,
      SEND,
      { i: { conversationId: direct, content: '', attachments: [null] } },
      [['i.attachments.0', { name: 'x.png', bytes: await png() }]],
      false,
    );
    expect(r.status).toBe(400);
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
  });

  test('content may be empty only with files; a non-member cannot upload, and the refused upload leaves nothing behind', async () => {
    // A stored file of this test's own, so that the checks below are never about an empty folder.
    const kept = (await sendWithFiles(alice, direct, [{ name: 'kept.png', bytes: await png() }])).data.sendMessage;
    expect(kept.attachments).toHaveLength(1);
    const before = { files: filesUnder(UPLOADS).sort(), rows: await attachmentRows(), messages: await messageRows() };
    expect(before.files.length).toBeGreaterThan(0);
    expect(codeOf(await raw(alice, SEND, { i: { conversationId: direct, content: '  ' } }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await sendWithFiles(mallory, direct, [{ name: 'x.png', bytes: await png() }]))).toBe('NOT_FOUND');
    // no stored file, attachment row or message from the refused requests, and their temp files are gone
    expect({ files: filesUnder(UPLOADS).sort(), rows: await attachmentRows(), messages: await messageRows() }).toEqual(before);
    await tempFilesGone();
    // and every stored file has content
    const sizes = before.files.map((p) => statSync(p).size);
    expect(sizes.filter((n) => n === 0)).toEqual([]);
  });
});

const raw = (user: TestUser, query: string, variables: Record<string, unknown> = {}) =>
  fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
    body: JSON.stringify({ query, variables }),
  }).then(async (res) => ({ status: res.status, ...((await res.json()) as object) }) as GqlResult);
