/**
 * Seed 003 file messages (issue 16): `POST /api/chat/rooms/{id}/messages/` with `message_type`
 * image or file and `file_url`, `file_name`, `file_size`, `reply_to`, driven with the seed
 * document's own example ("2.2 发送消息"). An external http(s) link is kept (never fetched) and shown
 * by every dialect and GraphQL; a URL of this server's own /media/ links that file when the
 * sender may see it; hostile input (javascript:/data: URLs, credentials, huge sizes, bad names,
 * someone else's media, a reply into another room) is a 400 naming the field that leaves nothing
 * written; a burst of the same request makes whole messages only.
 */
import sharp from 'sharp';
import { trackRealtime } from '../../support/client';
import { startTestServer, type TestServer } from '../../support/test-server';
import { call, expectError, expectKeys, form, gqlData, restUser, type RestUser } from './rest-support';

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

const MSG_KEYS = [
  'id',
  'room',
  'sender',
  'message_type',
  'content',
  'file_url',
  'file_name',
  'file_size',
  'is_edited',
  'is_deleted',
  'reply_to',
  'created_at',
  'updated_at',
];
/** The seed's own request body of "2.2 发送消息", with `message_type` image (its example says text) and `reply_to` filled in. */
const SEED_EXAMPLE = { content: '消息内容', message_type: 'image', file_url: 'https://example.com/file.jpg', file_name: 'image.jpg', file_size: 1024 };
const ATTACHMENTS = `query($m: ID!) { message(id: $m) { kind content attachments { url fileName mimeType size width height thumbnailUrl isExternal } } }`;

const rows = async (sql: string, params: unknown[] = []) => server.orm.em.fork().execute(sql, params);
const count = async (table: string) => Number((await rows(`select count(*) as n from "${table}"`))[0].n);
/** What a refused send must leave unchanged. */
const footprint = async () => ({ messages: await count('messages'), attachments: await count('attachments') });
const png = () =>
  sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 40, b: 40 } } })
    .png()
    .toBuffer();
const origin = () => new URL(server.url).origin;

const send = (user: RestUser, room: number, json: Record<string, unknown>) =>
  call(server, 'POST', `/chat/rooms/${room}/messages/`, { token: user.token, json });
const roomOf = async (owner: RestUser, roomType: 'public' | 'private' | 'group', ...members: RestUser[]) => {
  const res = await call(server, 'POST', '/chat/rooms/', { token: owner.token, json: { name: `files ${roomType}`, room_type: roomType } });
  expect(res.status).toBe(201);
  for (const m of members) {
    if (roomType === 'public') expect((await call(server, 'POST', `/chat/rooms/${res.body.id}/join/`, { token: m.token })).status).toBe(200);
    else await gqlData(server, owner, 'mutation($c: ID!, $u: ID!) { addMember(conversationId: $c, userId: $u) { id } }', { c: String(res.body.id), u: m.id });
  }
  return res.body.id as number;
};
/** Uploads a PNG through seed 001's multipart send into `room`; returns the message and its seed-003 file_url (signed, absolute). */
const upload = async (user: RestUser, room: number) => {
  const bytes = await png();
  const sent = await call(server, 'POST', `/chats/${room}/send-message/`, {
    token: user.token,
    form: form({ content: 'photo' }, [['medias', { name: 'photo.png', bytes, type: 'image/png' }]]),
  });
  expect(sent.status).toBe(201);
  const [media] = sent.body.media;
  return { bytes, messageId: sent.body.id as number, attachmentId: media.id as number, url: media.url as string };
};

describe('seed 003: file messages by URL', () => {
  let dev: RestUser;
  let mate: RestUser;
  let stranger: RestUser;
  let room: number;
  beforeAll(async () => {
    dev = await restUser(server, 'fdev', { first_name: 'Developer', last_name: 'User' });
    mate = await restUser(server, 'fmate');
    stranger = await restUser(server, 'fstr');
    room = await roomOf(dev, 'public', mate);
  });

  it("keeps the seed example's image: 201 with its file_* back, in history, every dialect, GraphQL and live", async () => {
    const first = await send(dev, room, { content: '大家好！', message_type: 'text' });
    const live = sub(client(mate), `subscription($c: ID) { messageAdded(conversationId: $c) { id kind attachments { url fileName size isExternal } } }`, {
      c: String(room),
    });
    await live.ready();
    const res = await send(dev, room, { ...SEED_EXAMPLE, reply_to: first.body.id });
    expect(res.status).toBe(201);
    expectKeys(res.body, MSG_KEYS);
    expect(res.body).toMatchObject({
      room: { id: room },
      sender: { id: Number(dev.id), username: dev.username, first_name: 'Developer', last_name: 'User' },
      message_type: 'image',
      content: '消息内容',
      file_url: 'https://example.com/file.jpg',
      file_name: 'image.jpg',
      file_size: 1024,
      is_edited: false,
      is_deleted: false,
      reply_to: first.body.id,
    });
    const id = res.body.id;
    expect(await live.next()).toEqual({
      messageAdded: {
        id: String(id),
        kind: 'IMAGE',
        attachments: [{ url: 'https://example.com/file.jpg', fileName: 'image.jpg', size: 1024, isExternal: true }],
      },
    });

    const history = await call(server, 'GET', `/chat/rooms/${room}/messages/`, { token: mate.token });
    expect(history.body.messages.find((m: any) => m.id === id)).toEqual(res.body);
    // GraphQL: the link as url, no thumbnail or dimensions, the MIME type guessed from the name.
    expect((await gqlData(server, mate, ATTACHMENTS, { m: String(id) })).message).toEqual({
      kind: 'IMAGE',
      content: '消息内容',
      attachments: [
        {
          url: 'https://example.com/file.jpg',
          fileName: 'image.jpg',
          mimeType: 'image/jpeg',
          size: 1024,
          width: null,
          height: null,
          thumbnailUrl: null,
          isExternal: true,
        },
      ],
    });
    // Seeds 001 and 004 and the shared message resource show the link.
    const s001 = (await call(server, 'GET', `/chats/${room}/messages/?page_size=100`, { token: mate.token })).body.results.find((m: any) => m.id === id);
    expect(s001.media).toEqual([{ id: expect.any(Number), url: 'https://example.com/file.jpg', thumbnail: null, media_type: 'image' }]);
    const s004 = (await call(server, 'GET', `/conversations/${room}/messages/?page_size=100`, { token: mate.token })).body.results.find(
      (m: any) => m.id === id,
    );
    expect(s004.attachments).toEqual([{ id: s001.media[0].id, message: id, file: 'https://example.com/file.jpg', uploaded_at: expect.any(String) }]);
    const one = await call(server, 'GET', `/messages/${id}/`, { token: mate.token });
    expect([one.body.media[0].url, one.body.attachments[0].file]).toEqual(['https://example.com/file.jpg', 'https://example.com/file.jpg']);
    // The server never fetches or proxies a link: its /media/ path has nothing to serve.
    const media = await fetch(`${origin()}/media/${s001.media[0].id}`, { headers: { authorization: `Bearer ${mate.token}` } });
    expect(media.status).toBe(404);
    const [row] = await rows('select "external_url", "storage_key", "size" from "attachments" where "id" = ?', [s001.media[0].id]);
    expect(row).toEqual({ external_url: 'https://example.com/file.jpg', storage_key: null, size: 1024 });
  });

  it('a file without name or size: named after the URL, size unknown (null; GraphQL 0), content may be empty', async () => {
    const res = await send(mate, room, { content: '', message_type: 'file', file_url: 'https://cdn.example.com/docs/%E6%8A%A5%E5%91%8A.pdf?v=2' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      message_type: 'file',
      content: '',
      file_url: 'https://cdn.example.com/docs/%E6%8A%A5%E5%91%8A.pdf?v=2',
      file_name: '报告.pdf',
      file_size: null,
    });
    expect((await gqlData(server, dev, ATTACHMENTS, { m: String(res.body.id) })).message.attachments).toEqual([
      {
        url: 'https://cdn.example.com/docs/%E6%8A%A5%E5%91%8A.pdf?v=2',
        fileName: '报告.pdf',
        mimeType: 'application/pdf',
        size: 0,
        width: null,
        height: null,
        thumbnailUrl: null,
        isExternal: true,
      },
    ]);
    const s001 = (await call(server, 'GET', `/chats/${room}/messages/?page_size=100`, { token: dev.token })).body.results.find(
      (m: any) => m.id === res.body.id,
    );
    expect(s001.media[0].media_type).toBe('file');
    // file_size as a numeric string (multipart-minded clients), and a URL normalised as WHATWG serialises it.
    const sized = await send(mate, room, {
      content: '说明书',
      message_type: 'file',
      file_url: 'HTTPS://Example.COM/a%20b',
      file_name: ' 说明书.txt ',
      file_size: '0',
    });
    expect(sized.body).toMatchObject({ file_url: 'https://example.com/a%20b', file_name: '说明书.txt', file_size: 0 });
  });

  it("text ignores the file fields, as the seed's own example answers them null", async () => {
    const res = await send(dev, room, { ...SEED_EXAMPLE, message_type: 'text' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ message_type: 'text', content: '消息内容', file_url: null, file_name: null, file_size: null });
    expect((await gqlData(server, dev, ATTACHMENTS, { m: String(res.body.id) })).message).toEqual({ kind: 'TEXT', content: '消息内容', attachments: [] });
  });

  it('refuses hostile input with a 400 naming the field, writing nothing', async () => {
    const other = await roomOf(stranger, 'public');
    const foreign = await send(stranger, other, { content: 'elsewhere' });
    const before = await footprint();
    const refusals: [Record<string, unknown>, RegExp][] = [
      [{ file_url: 'javascript:alert(document.cookie)' }, /^file_url must be an http:\/\/ or https:\/\/ URL; javascript: URLs are refused/],
      [{ file_url: 'JaVaScRiPt:alert(1)' }, /javascript: URLs are refused/],
      [{ file_url: '  javascript:alert(1)' }, /javascript: URLs are refused/],
      [{ file_url: 'java\tscript:alert(1)' }, /^file_url must not contain spaces or control characters/],
      [{ file_url: 'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==' }, /data: URLs are refused/],
      [{ file_url: 'vbscript:msgbox(1)' }, /vbscript: URLs are refused/],
      [{ file_url: 'file:///etc/passwd' }, /file: URLs are refused/],
      [{ file_url: 'ftp://example.com/x.jpg' }, /ftp: URLs are refused/],
      [{ file_url: '//evil.example/x.jpg' }, /^file_url must be an absolute http/],
      [{ file_url: 'x.jpg' }, /^file_url must be an absolute http/],
      [{ file_url: 'https://example.com@evil.example/x.jpg' }, /^file_url must not carry a user name or password/],
      [{ file_url: 'https://' }, /^file_url is not a valid URL/],
      [{ file_url: `https://example.com/${'a'.repeat(2030)}` }, /^file_url must be at most 2048 characters/],
      [{ file_url: null }, /^file_url is required/],
      [{ file_url: undefined }, /^file_url is required/],
      [{ file_size: -1 }, /^file_size must be a whole number of bytes from 0 to 2147483647/],
      [{ file_size: 2147483648 }, /^file_size/],
      [{ file_size: 1e20 }, /^file_size/],
      [{ file_size: 1.5 }, /^file_size/],
      [{ file_size: '12abc' }, /^file_size/],
      [{ file_name: 'a/b.jpg' }, /^file_name: File name must not contain path separators or control characters/],
      [{ file_name: '..' }, /^file_name/],
      [{ file_name: 'x\u0000.jpg' }, /^file_name/],
      [{ file_name: `${'名'.repeat(256)}.jpg` }, /^file_name: File name must be 1 to 255 characters/],
      [{ reply_to: foreign.body.id }, /^reply_to must be a message of the same conversation/],
      // message_type "system" is a notice now, an OWNER's or ADMIN's (issue 28 item 6; d003-rooms tests it).
      [{ content: 'x'.repeat(4001) }, /^content/],
    ];
    const got: string[] = [];
    for (const [change, want] of refusals) {
      const body = expectError(await send(dev, room, { ...SEED_EXAMPLE, ...change }), 400);
      if (!want.test(body.error)) got.push(`${JSON.stringify(change).slice(0, 80)} -> ${body.error}`);
    }
    expect(got).toEqual([]);
    // Not a member: 404, as for any send; a muted member: 403.
    expectError(await send(stranger, room, SEED_EXAMPLE), 404);
    await gqlData(server, dev, 'mutation($c: ID!, $u: ID!) { muteMember(conversationId: $c, userId: $u, muted: true) { id } }', {
      c: String(room),
      u: mate.id,
    });
    expectError(await send(mate, room, SEED_EXAMPLE), 403);
    await gqlData(server, dev, 'mutation($c: ID!, $u: ID!) { muteMember(conversationId: $c, userId: $u, muted: false) { id } }', {
      c: String(room),
      u: mate.id,
    });
    expect(await footprint()).toEqual(before);
  });

  it("links this server's own media when the sender may see it (signed URL, bare path, own host), else refuses", async () => {
    const photo = await upload(mate, room);
    const group = await roomOf(dev, 'group');
    // dev reads the public room (a member): the signed URL seed 003 showed links that file into the group.
    const viaSigned = await send(dev, group, { content: '转发', message_type: 'image', file_url: photo.url, file_name: '转发.png', file_size: 1 });
    expect(viaSigned.status).toBe(201);
    expect(viaSigned.body).toMatchObject({
      message_type: 'image',
      file_name: '转发.png',
      file_size: photo.bytes.length,
      file_url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/media\/\d+\?exp=\d+&sig=/),
    });
    const linkedId = Number(/\/media\/(\d+)/.exec(viaSigned.body.file_url)![1]);
    expect(linkedId).not.toBe(photo.attachmentId);
    const download = await fetch(viaSigned.body.file_url);
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).equals(photo.bytes)).toBe(true);
    const gql = (await gqlData(server, dev, ATTACHMENTS, { m: String(viaSigned.body.id) })).message.attachments[0];
    expect(gql).toMatchObject({
      fileName: '转发.png',
      mimeType: 'image/png',
      size: photo.bytes.length,
      width: 64,
      height: 48,
      isExternal: false,
      thumbnailUrl: expect.stringMatching(/^\/media\/\d+\/thumbnail\?/),
    });
    // A bare path (GraphQL's Attachment.url without PUBLIC_URL) and this host without a signature link it too, with the file's own name.
    const viaPath = await send(dev, group, { content: '', message_type: 'file', file_url: `/media/${photo.attachmentId}` });
    expect(viaPath.body).toMatchObject({ file_name: 'photo.png', file_size: photo.bytes.length, file_url: expect.stringMatching(/\/media\/\d+\?exp=/) });
    // The file's sniffed type decides the kind of a message linking it (sent as "file", it is a PNG).
    expect(viaPath.body.message_type).toBe('image');
    const viaHost = await send(dev, group, { content: '', message_type: 'image', file_url: `${origin()}/media/${photo.attachmentId}/thumbnail` });
    expect(viaHost.status).toBe(201);
    // A signature of this server proves the URL is ours whatever host it names; another site's /media/ path is just a link.
    const signedElsewhere = photo.url.replace(/^http:\/\/[^/]+/, 'https://chat.example.org');
    expect((await send(dev, group, { content: '', message_type: 'image', file_url: signedElsewhere })).body.file_url).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+\/media\//,
    );
    const elsewhere = `https://cdn.example.org/media/${photo.attachmentId}?exp=1&sig=forged`;
    expect((await send(dev, group, { content: '', message_type: 'image', file_url: elsewhere })).body.file_url).toBe(elsewhere);

    // The stranger reads neither room: the same URL, and a file that does not exist, are refused alike.
    const theirs = await roomOf(stranger, 'private');
    const before = await footprint();
    const refused = expectError(await send(stranger, theirs, { content: '', message_type: 'image', file_url: photo.url }), 400);
    expect(refused.error).toBe('file_url names a file of this server that you may not see');
    expect(expectError(await send(stranger, theirs, { content: '', message_type: 'image', file_url: `${origin()}/media/999999` }), 400).error).toBe(
      refused.error,
    );
    expect(expectError(await send(stranger, theirs, { content: '', message_type: 'image', file_url: `/media/${linkedId}` }), 400).error).toBe(refused.error);
    expect(expectError(await send(stranger, theirs, { content: '', message_type: 'image', file_url: `${origin()}/media/x` }), 400).error).toBe(
      'file_url names no file of this server',
    );
    // An external attachment's /media/ id has no file here to link.
    const external = (await rows('select "id" from "attachments" where "external_url" is not null limit 1'))[0].id;
    expectError(await send(dev, group, { content: '', message_type: 'file', file_url: `/media/${external}` }), 400);
    // Once its message is deleted, a file can no longer be linked (nor downloaded), even by a reader.
    expect((await call(server, 'DELETE', `/chat/messages/${photo.messageId}/delete/`, { token: mate.token })).status).toBe(200);
    expectError(await send(dev, group, { content: '', message_type: 'file', file_url: `/media/${photo.attachmentId}` }), 400);
    expect(await footprint()).toEqual(before);
  });

  it("another user's file in any spelling the router could serve is this server's media, never an external link (issue 27 §4)", async () => {
    const secretRoom = await roomOf(mate, 'group');
    const photo = await upload(mate, secretRoom);
    const id = photo.attachmentId;
    const query = photo.url.slice(photo.url.indexOf('?'));
    const digits = [...String(id)].map((d) => `%3${d}`).join('');
    const spellings = [
      `${origin()}/MEDIA/${id}${query}`,
      `${origin()}/Media/${id}/Thumbnail${query}`,
      `${origin()}/mEdIa/${id}/${query}`,
      `${origin()}/media/${digits}${query}`,
      `${origin()}/%6Dedia/${id}${query}`,
      `${origin()}/%6d%65%64%69%61/${id}${query}`,
      `${origin()}//media/${id}${query}`,
      `${origin()}/x/../MEDIA/${id}${query}`,
      `${origin()}/media/0${id}${query}`,
      `/MEDIA/${id}${query}`,
      `/Media/${id}`,
      `/%6Dedia/${digits}${query}`,
      `/media/./${id}`,
      // Another host with this server's signature: ours whatever the case.
      `https://chat.example.org/MEDIA/${id}${query}`,
    ];
    const theirs = await roomOf(stranger, 'private');
    const before = await footprint();
    const got: string[] = [];
    for (const fileUrl of spellings) {
      const res = await send(stranger, theirs, { content: '', message_type: 'image', file_url: fileUrl });
      if (res.status !== 400 || res.body.error !== 'file_url names a file of this server that you may not see')
        got.push(`${fileUrl} -> ${res.status} ${JSON.stringify(res.body).slice(0, 120)}`);
    }
    expect(got).toEqual([]);
    expect(await footprint()).toEqual(before);
    // The router serves only the one spelling it makes; /MEDIA/ and /media/<id>/THUMBNAIL are no routes.
    expect((await fetch(photo.url)).status).toBe(200);
    expect((await fetch(`${origin()}/MEDIA/${id}${query}`)).status).toBe(404);
    expect((await fetch(`${origin()}/Media/${id}${query}`)).status).toBe(404);
    expect((await fetch(`${origin()}/media/${id}/THUMBNAIL`, { headers: { authorization: `Bearer ${mate.token}` } })).status).toBe(404);
    expect((await fetch(`${origin()}/media/${id}/thumbnail`, { headers: { authorization: `Bearer ${mate.token}` } })).status).toBe(200);
    // A reader may link it in those spellings: the file itself, not a link.
    const readersRoom = await roomOf(mate, 'group');
    for (const fileUrl of [`/MEDIA/${id}`, `${origin()}/Media/${digits}${query}`]) {
      const res = await send(mate, readersRoom, { content: '', message_type: 'image', file_url: fileUrl });
      expect(res.status).toBe(201);
      expect((await gqlData(server, mate, ATTACHMENTS, { m: String(res.body.id) })).message.attachments[0]).toMatchObject({
        isExternal: false,
        size: photo.bytes.length,
      });
    }
  });

  it('a burst of the same request makes that many whole messages, each with its one attachment, seq gap-free', async () => {
    const burstRoom = await roomOf(dev, 'public');
    const N = 12;
    const answers = await Promise.all(Array.from({ length: N }, () => send(dev, burstRoom, SEED_EXAMPLE)));
    expect(answers.map((a) => a.status)).toEqual(Array(N).fill(201));
    const ids = answers.map((a) => a.body.id);
    expect(new Set(ids).size).toBe(N);
    for (const a of answers) expect(a.body).toMatchObject({ message_type: 'image', file_url: SEED_EXAMPLE.file_url, file_name: 'image.jpg', file_size: 1024 });
    const perMessage = await rows(
      `select m."id", m."seq", count(a."id")::int as n from "messages" m left join "attachments" a on a."message_id" = m."id"
        where m."conversation_id" = ? and m."kind" = 'IMAGE' group by m."id", m."seq" order by m."seq"`,
      [burstRoom],
    );
    expect(perMessage.map((r: any) => Number(r.n))).toEqual(Array(N).fill(1));
    expect(perMessage.map((r: any) => Number(r.id)).sort()).toEqual([...ids].sort());
    const page = await call(server, 'GET', `/chat/rooms/${burstRoom}/messages/?page_size=100`, { token: dev.token });
    expect(page.body.total).toBe(page.body.messages.length);
  });

  it('the OpenAPI summary no longer says the file fields are not kept', async () => {
    const doc = await call(server, 'GET', '/openapi.json');
    const op = doc.body.paths['/api/chat/rooms/{id}/messages/'].post;
    expect(op.summary).not.toMatch(/not kept/);
    expect(op.summary).toMatch(/file_url/);
  });
});

describe('seed 003: a PUBLIC_URL with a path', () => {
  let behind: TestServer;
  beforeAll(async () => {
    behind = await startTestServer({ PUBLIC_URL: 'https://chat.example.org/team' });
  });
  afterAll(async () => {
    await behind.close();
  });

  it("recognises this server's own media under <path>/media/ and links the file (not an external link that expires)", async () => {
    const owner = await restUser(behind, 'fpub');
    const res = await call(behind, 'POST', '/chat/rooms/', { token: owner.token, json: { name: 'behind a path', room_type: 'group' } });
    const roomId = res.body.id as number;
    const bytes = await png();
    const sent = await call(behind, 'POST', `/chats/${roomId}/send-message/`, {
      token: owner.token,
      form: form({ content: 'photo' }, [['medias', { name: 'photo.png', bytes, type: 'image/png' }]]),
    });
    expect(sent.status).toBe(201);
    const url = sent.body.media[0].url as string;
    expect(url).toMatch(/^https:\/\/chat\.example\.org\/team\/media\/\d+\?exp=/);
    const linked = await call(behind, 'POST', `/chat/rooms/${roomId}/messages/`, {
      token: owner.token,
      json: { content: '', message_type: 'image', file_url: url },
    });
    expect(linked.status).toBe(201);
    const gql = (await gqlData(behind, owner, ATTACHMENTS, { m: String(linked.body.id) })).message.attachments[0];
    expect(gql).toMatchObject({ isExternal: false, mimeType: 'image/png', size: bytes.length });
    // Issue 27 §4: the base path and /media in any case or escape are still this server's file.
    const outsider = await restUser(behind, 'fpubout');
    const mine = await call(behind, 'POST', '/chat/rooms/', { token: outsider.token, json: { name: 'mine', room_type: 'group' } });
    const id = sent.body.media[0].id as number;
    const query = url.slice(url.indexOf('?'));
    const got: string[] = [];
    for (const fileUrl of [
      `https://chat.example.org/TEAM/MEDIA/${id}${query}`,
      `https://CHAT.example.org/team/Media/${id}`,
      `https://chat.example.org/%74eam/%6Dedia/${id}`,
      `https://chat.example.org/team//media/${id}`,
      `https://chat.example.org/Team/media/${id}/THUMBNAIL`,
    ]) {
      const res = await call(behind, 'POST', `/chat/rooms/${mine.body.id}/messages/`, {
        token: outsider.token,
        json: { content: '', message_type: 'image', file_url: fileUrl },
      });
      if (res.status !== 400 || res.body.error !== 'file_url names a file of this server that you may not see') got.push(`${fileUrl} -> ${res.status}`);
    }
    expect(got).toEqual([]);
  });
});
