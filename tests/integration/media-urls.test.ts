/**
 * Signed media URLs (issue 30, item 10): their lifetime is MEDIA_URL_TTL_S, 12 hours by default
 * (a page left open through a working day keeps its images; it was one hour). A URL signed with a
 * short TTL stops working once it has passed, and the refresh path (docs/graphql-api.md, "Media
 * URLs") gives a working one: query `Attachment.url` / `thumbnailUrl` / `User.avatarUrl` again,
 * or the REST list the client read it from. Uploads here carry only `Authorization: Bearer`, no
 * `apollo-require-preflight`: Apollo's CSRF prevention accepts the bearer header (src/app.ts).
 */
import sharp from 'sharp';
import { DEFAULT_MEDIA_URL_TTL_S } from '../../src/config/config';
import { gqlOk, registerUser, restUrl, type TestUser } from '../support/client';
import { startTestServer, type TestServer } from '../support/test-server';

jest.setTimeout(60000);

const png = () =>
  sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 20, g: 90, b: 200 } } })
    .png()
    .toBuffer();

/** A GraphQL multipart request with the user's token and no CSRF header; the parsed answer. */
async function upload(server: TestServer, user: TestUser, query: string, variables: Record<string, unknown>, path: string, name: string, bytes: Buffer) {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query, variables }));
  form.append('map', JSON.stringify({ 0: [`variables.${path}`] }));
  form.append('0', new Blob([bytes]), name);
  const res = await fetch(server.url, { method: 'POST', headers: { authorization: `Bearer ${user.token}` }, body: form });
  const body = (await res.json()) as { data?: any; errors?: unknown[] };
  expect({ status: res.status, errors: body.errors }).toEqual({ status: 200, errors: undefined });
  return body.data;
}

const SEND = 'mutation($i: SendMessageInput!) { sendMessage(input: $i) { id attachments { url thumbnailUrl } } }';
const AVATAR = 'mutation($f: Upload!) { setAvatar(file: $f) { avatarUrl avatarThumbnailUrl } }';

/** A started server with two users, a direct chat between them and one image sent into it. */
async function fixture(env: Record<string, string> = {}) {
  const server = await startTestServer(env);
  const origin = server.url.replace(/\/graphql$/, '');
  const [alice, bob] = [await registerUser(server.url, 'ttl_a'), await registerUser(server.url, 'ttl_b')];
  const conversationId = (await gqlOk(server.url, 'mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: bob.id }, alice.token)).openDirectChat.id;
  const sent = (await upload(server, alice, SEND, { i: { conversationId, content: 'look', attachments: [null] } }, 'i.attachments.0', 'look.png', await png()))
    .sendMessage;
  /** Status of a signed URL fetched with no token (as an <img src> does). */
  const status = async (url: string) => (await fetch(`${origin}${url}`)).status;
  return { server, alice, bob, conversationId, sent, status };
}

const expOf = (url: string) => Number(new URL(url, 'http://x').searchParams.get('exp'));

test('by default a signed URL lives 12 hours (MEDIA_URL_TTL_S = 43200)', async () => {
  const { server, sent, status } = await fixture();
  try {
    expect(DEFAULT_MEDIA_URL_TTL_S).toBe(43200);
    const before = Math.floor(Date.now() / 1000);
    const { url, thumbnailUrl } = sent.attachments[0];
    const after = Math.ceil(Date.now() / 1000);
    // exp = the signing second + the TTL; the message was signed within this test's time.
    for (const u of [url, thumbnailUrl]) {
      expect(expOf(u)).toBeGreaterThanOrEqual(before - 60 + 43200);
      expect(expOf(u)).toBeLessThanOrEqual(after + 43200);
      expect(await status(u)).toBe(200);
    }
  } finally {
    await server.close();
  }
});

test('with MEDIA_URL_TTL_S=3 URLs expire (404), and querying them again gives working ones: GraphQL, REST, avatars', async () => {
  const { server, alice, bob, conversationId, sent, status } = await fixture({ MEDIA_URL_TTL_S: '3' });
  try {
    const avatar = (await upload(server, alice, AVATAR, { f: null }, 'f', 'me.png', await png())).setAvatar;
    const old = [sent.attachments[0].url, sent.attachments[0].thumbnailUrl, avatar.avatarUrl, avatar.avatarThumbnailUrl] as string[];
    // Attachments: exp is the signing second + 3; avatars round exp up to whole TTLs (3 to 6 s here).
    for (const u of old.slice(0, 2)) expect(expOf(u) - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(3);
    // Wait until every exp has passed (the server refuses once now > exp; seconds granularity).
    const latest = Math.max(...old.map(expOf));
    while (Date.now() <= (latest + 1) * 1000) await new Promise((r) => setTimeout(r, 200));
    for (const u of old) expect({ u, status: await status(u) }).toEqual({ u, status: 404 });

    // The refresh path: query the URL again (each answer is signed when it is read), then use it
    // (within its 3 s).
    const again = await gqlOk(server.url, 'query($id: ID!) { message(id: $id) { attachments { url thumbnailUrl } } }', { id: sent.id }, bob.token);
    const fresh = again.message.attachments[0];
    expect(fresh.url).not.toBe(old[0]);
    expect([await status(fresh.url), await status(fresh.thumbnailUrl)]).toEqual([200, 200]);
    const me = (await gqlOk(server.url, '{ me { avatarUrl avatarThumbnailUrl } }', {}, alice.token)).me;
    expect([await status(me.avatarUrl), await status(me.avatarThumbnailUrl)]).toEqual([200, 200]);
    // REST lists sign again too (seed 004's messages of a conversation: attachments[].file, absolute).
    const res = await fetch(restUrl(server.url, `/conversations/${conversationId}/messages/`), { headers: { authorization: `Bearer ${bob.token}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { results?: { attachments: { file: string }[] }[] } | { attachments: { file: string }[] }[];
    const rows = Array.isArray(body) ? body : body.results!;
    const file = rows.flatMap((m) => m.attachments)[0].file;
    expect((await fetch(file)).status).toBe(200);
  } finally {
    await server.close();
  }
});
