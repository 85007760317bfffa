import { codeOf, gql, gqlOk, registerUser, restUrl, type GqlResult, type TestUser } from '../../support/client';
import { startTestServer, type TestServer } from '../../support/test-server';
import { User } from '../../../src/domain/user/user.entity';

/**
 * Free text through the real server: stored as given (no HTML escaping: clients escape), except
 * control characters other than newline and tab (C0, DEL, C1), noncharacters and lone surrogates,
 * which are removed before the length limits apply; text of nothing else is refused. Covers
 * messages (send, edit, GraphQL and REST), group/room names and descriptions, nicknames,
 * first/last names and staff notices; and that none of it (NUL above all, which PostgreSQL
 * cannot store) reaches the database as a 500.
 */

let server: TestServer;
let alice: TestUser;
let bob: TestUser;
let conversationId: string;

beforeAll(async () => {
  server = await startTestServer();
  alice = await registerUser(server.url, 'txa');
  bob = await registerUser(server.url, 'txb');
  conversationId = (await gqlOk(server.url, 'mutation($u: String!) { openDirectChat(username: $u) { id } }', { u: bob.username }, alice.token)).openDirectChat
    .id;
});
afterAll(async () => {
  await server?.close();
});

const SEND = 'mutation($c: ID!, $t: String!, $k: String) { sendMessage(input: { conversationId: $c, content: $t, clientMessageId: $k }) { id content } }';
const EDIT = 'mutation($id: ID!, $t: String!) { editMessage(id: $id, content: $t) { id content } }';
const HISTORY = 'query($c: ID!) { messages(conversationId: $c, last: 100) { totalCount edges { node { id content } } } }';

const send = (t: string, k?: string) => gql(server.url, SEND, { c: conversationId, t, k }, alice.token);
const stored = async (id: string) =>
  (await gqlOk(server.url, HISTORY, { c: conversationId }, bob.token)).messages.edges.find((e: any) => e.node.id === id)?.node.content;
const messageCount = async () => (await gqlOk(server.url, HISTORY, { c: conversationId }, bob.token)).messages.totalCount as number;
const apiUrl = (path: string) => restUrl(server.url, path);

function expectBadInput(r: GqlResult, field: string) {
  expect(codeOf(r)).toBe('BAD_USER_INPUT');
  expect(r.errors![0].extensions!.field).toBe(field);
}

/** Every kind of character that is removed, one of each. */
const CONTROLS = '\u0000\u0001\u0007\u0008\u000b\u000c\u001b\u001f\u007f\u0080\u0085\u009f\udfff\ud800\ufdd0\ufffe\uffff\u{1fffe}\u{10ffff}';

describe('message text', () => {
  test('NUL, other C0 controls, DEL, C1, lone surrogates and noncharacters are removed; what remains is stored', async () => {
    const r = await send(`a\u0000b\u0007c\u001bd\u007fe\u0085f\ud800g\udc00h\ufffei\u{10ffff}j`);
    expect(r.errors).toBeUndefined();
    expect(r.data.sendMessage.content).toBe('abcdefghij');
    expect(await stored(r.data.sendMessage.id)).toBe('abcdefghij');
  });

  test('newlines and tabs are kept; CRLF and a lone CR become LF', async () => {
    const r = await send('line 1\r\nline 2\rline 3\n\tindented');
    expect(r.data.sendMessage.content).toBe('line 1\nline 2\nline 3\n\tindented');
  });

  test('HTML, quotes and ampersands are stored as given (no escaping: clients escape)', async () => {
    const text = `<script>alert("x")</script> & <b>bold</b> 'quoted' \\ "double"`;
    const r = await send(text);
    expect(r.errors).toBeUndefined();
    expect(r.data.sendMessage.content).toBe(text);
    expect(await stored(r.data.sendMessage.id)).toBe(text);
  });

  /**
   * Was a hole on PGlite: knex-pglite sent any SQL whose text contains ";" to PGlite's
   * multi-statement `exec` (MikroORM inlines values into the SQL), so such text was answered with
   * INTERNAL_SERVER_ERROR. src/db/pglite-statements.ts now runs one statement as a plain query.
   */
  test('text with ";" (HTML entities, SQL-looking text) is stored as given', async () => {
    for (const text of ['&lt;b&gt; &amp; &quot;', "it's; DROP TABLE users; --", 'a;b']) {
      const r = await send(text);
      expect(r.errors).toBeUndefined();
      expect(r.data.sendMessage.content).toBe(text);
    }
  });

  test('Unicode text is kept: emoji, ZWJ sequences, RTL text and its marks, combining accents', async () => {
    const text = 'héllo 👩‍👩‍👧 שלום\u200f e\u0301 \u{1F600}';
    expect((await send(text)).data.sendMessage.content).toBe(text);
  });

  test('a message of nothing but control characters (or those and spaces) is refused and nothing is stored', async () => {
    const before = await messageCount();
    expectBadInput(await send(CONTROLS), 'content');
    expectBadInput(await send(` \u0000 \u0001\r\n\t `), 'content');
    expectBadInput(await send(''), 'content');
    expect(await messageCount()).toBe(before);
  });

  test('the 4000-character limit counts what is left after removal (in code points)', async () => {
    expect((await send('x'.repeat(4000))).data.sendMessage.content).toHaveLength(4000);
    expectBadInput(await send('x'.repeat(4001)), 'content');
    // Padding made of control characters does not count, and is not stored.
    const padded = await send(`${'y'.repeat(4000)}${'\u0000'.repeat(500)}`);
    expect(padded.errors).toBeUndefined();
    expect(padded.data.sendMessage.content).toBe('y'.repeat(4000));
    // An emoji is one character, though two UTF-16 units.
    expect([...(await send('😀'.repeat(4000))).data.sendMessage.content]).toHaveLength(4000);
    expectBadInput(await send('😀'.repeat(4001)), 'content');
  });

  test('editMessage cleans the same way and refuses text of only control characters', async () => {
    const id = (await send('original')).data.sendMessage.id;
    const edited = await gql(server.url, EDIT, { id, t: 'new\u0000 text\u0085' }, alice.token);
    expect(edited.data.editMessage.content).toBe('new text');
    expectBadInput(await gql(server.url, EDIT, { id, t: '\u0000\u0001' }, alice.token), 'content');
    expect(await stored(id)).toBe('new text');
  });

  test('a clientMessageId with control characters is refused (a key is not cleaned: two keys could become one)', async () => {
    const before = await messageCount();
    expectBadInput(await send('hi', 'key\u0000one'), 'clientMessageId');
    expect(await messageCount()).toBe(before);
    expect((await send('hi', 'key-one')).errors).toBeUndefined();
  });

  test('REST (seed 001 send-message) cleans and refuses the same way: 201 with the clean text, 400 for control characters only', async () => {
    const group = (await gqlOk(server.url, 'mutation { createGroup(input: { name: "rest text", memberIds: [] }) { id } }', {}, alice.token)).createGroup.id;
    const post = (content: string) =>
      fetch(apiUrl(`/chats/${group}/send-message/`), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${alice.token}` },
        body: JSON.stringify({ content }),
      });
    const ok = await post('rest\u0000 text\u001b');
    expect(ok.status).toBe(201);
    expect(((await ok.json()) as { content: string }).content).toBe('rest text');
    const refused = await post('\u0000\u0007');
    expect(refused.status).toBe(400);
    expect(JSON.stringify(await refused.json())).toContain('content');
  });
});

describe('other free text', () => {
  test('group name and description: controls removed (description keeps newlines, the name turns them into spaces)', async () => {
    const r = await gqlOk(
      server.url,
      'mutation($n: String!, $d: String) { createGroup(input: { name: $n, description: $d, memberIds: [] }) { name description } }',
      { n: 'Week\u0000end\ntrip\u0085', d: 'line 1\u0000\nline 2\u007f' },
      alice.token,
    );
    expect(r.createGroup).toEqual({ name: 'Weekend trip', description: 'line 1\nline 2' });
  });

  test('a group or room name of only control characters is refused; limits count after removal', async () => {
    expectBadInput(
      await gql(server.url, 'mutation($n: String!) { createGroup(input: { name: $n, memberIds: [] }) { id } }', { n: '\u0000\u0001 ' }, alice.token),
      'name',
    );
    expectBadInput(await gql(server.url, 'mutation($n: String!) { createRoom(input: { name: $n }) { id } }', { n: '\u0007' }, alice.token), 'name');
    expectBadInput(await gql(server.url, 'mutation($n: String!) { createRoom(input: { name: $n }) { id } }', { n: 'r'.repeat(256) }, alice.token), 'name');
    const padded = await gqlOk(
      server.url,
      'mutation($n: String!) { createRoom(input: { name: $n }) { name } }',
      { n: `${'r'.repeat(255)}\u0000\u0000` },
      alice.token,
    );
    expect(padded.createRoom.name).toBe('r'.repeat(255));
  });

  test('room description and updateConversation are cleaned', async () => {
    const room = (
      await gqlOk(
        server.url,
        'mutation($d: String) { createRoom(input: { name: "Lobby", description: $d }) { id description } }',
        { d: 'hello\u0000 world' },
        alice.token,
      )
    ).createRoom;
    expect(room.description).toBe('hello world');
    const updated = await gqlOk(
      server.url,
      'mutation($id: ID!, $n: String, $d: String) { updateConversation(id: $id, input: { name: $n, description: $d }) { name description } }',
      { id: room.id, n: 'Lob\u0000by 2', d: '\u001bnew' },
      alice.token,
    );
    expect(updated.updateConversation).toEqual({ name: 'Lobby 2', description: 'new' });
  });

  test('a nickname is cleaned; one of only control characters clears it', async () => {
    const group = (await gqlOk(server.url, 'mutation { createGroup(input: { name: "nicks", memberIds: [] }) { id } }', {}, alice.token)).createGroup.id;
    const SET = 'mutation($c: ID!, $n: String) { setNickname(conversationId: $c, nickname: $n) { nickname } }';
    expect((await gqlOk(server.url, SET, { c: group, n: 'Al\u0000ice\n' }, alice.token)).setNickname.nickname).toBe('Alice');
    expect((await gqlOk(server.url, SET, { c: group, n: '\u0000' }, alice.token)).setNickname.nickname).toBeNull();
  });

  test('first and last names at register are cleaned, over GraphQL and REST', async () => {
    const r = await gqlOk(server.url, 'mutation($i: RegisterInput!) { register(input: $i) { user { firstName lastName } } }', {
      i: { username: `names_${process.pid}`, password: 'correct-horse-battery', firstName: 'Ann\u0000a', lastName: 'Smi\u0085th\tJr' },
    });
    expect(r.register.user).toEqual({ firstName: 'Anna', lastName: 'Smith Jr' });
    const res = await fetch(apiUrl('/accounts/register/'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: `rnames_${process.pid}`, password: 'correct-horse-battery', first_name: 'Bo\u0000b', last_name: '\u0007' }),
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ first_name: 'Bob' });
  });

  test("a staff notice's title and body are cleaned; a title of only control characters is refused", async () => {
    const staff = await registerUser(server.url, 'txstaff');
    await server.orm.em.fork().nativeUpdate(User, { id: Number(staff.id) }, { isStaff: true });
    const NOTICE = 'mutation($u: ID!, $t: String!, $b: String!) { sendNotice(userId: $u, title: $t, body: $b) { title body } }';
    expect((await gqlOk(server.url, NOTICE, { u: bob.id, t: 'Main\u0000tenance', b: 'Back\u0007 at\n10' }, staff.token)).sendNotice).toEqual({
      title: 'Maintenance',
      body: 'Back at\n10',
    });
    expectBadInput(await gql(server.url, NOTICE, { u: bob.id, t: '\u0000', b: 'x' }, staff.token), 'title');
  });
});

describe('names looked up, never stored: control characters are "no such user", not a server error', () => {
  test('user(username:) answers null', async () => {
    const r = await gql(server.url, 'query($n: String!) { user(username: $n) { id } }', { n: `${bob.username}\u0000` }, alice.token);
    expect(r.errors).toBeUndefined();
    expect(r.data.user).toBeNull();
  });

  test('users(search:) ignores control characters', async () => {
    const r = await gql(
      server.url,
      'query($n: String!) { users(search: $n) { totalCount edges { node { username } } } }',
      { n: `${bob.username}\u0000` },
      alice.token,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data.users.edges.map((e: any) => e.node.username)).toEqual([bob.username]);
  });

  test('a users(after:) cursor forged to carry a NUL is BAD_USER_INPUT', async () => {
    const after = Buffer.from('user:a\u0000b').toString('base64url');
    const r = await gql(server.url, 'query($a: String) { users(after: $a) { totalCount } }', { a: after }, alice.token);
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.errors![0].extensions!.field).toBe('after');
  });

  test('openDirectChat(username:) is NOT_FOUND', async () => {
    expect(codeOf(await gql(server.url, 'mutation($n: String!) { openDirectChat(username: $n) { id } }', { n: 'bob\u0000' }, alice.token))).toBe('NOT_FOUND');
  });

  test('login is UNAUTHENTICATED like any unknown user', async () => {
    const r = await gql(server.url, 'mutation($n: String!) { login(username: $n, password: "correct-horse-battery") { accessToken } }', {
      n: `${alice.username}\u0000`,
    });
    expect(codeOf(r)).toBe('UNAUTHENTICATED');
  });

  test('REST seed 000 history and mark-read by username answer 404', async () => {
    const headers = { authorization: `Bearer ${alice.token}` };
    const history = await fetch(apiUrl('/chat/history/bo%00b/'), { headers });
    expect(history.status).toBe(404);
    const markRead = await fetch(apiUrl('/chat/mark-read/bo%00b/'), { method: 'POST', headers });
    expect(markRead.status).toBe(404);
  });
});
