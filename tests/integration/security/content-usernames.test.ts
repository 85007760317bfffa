import { codeOf, gql, gqlOk, registerUser, restUrl, type GqlResult } from '../../support/client';
import { startTestServer, type TestServer } from '../../support/test-server';
import { User } from '../../../src/domain/user/user.entity';
import { hashPassword } from '../../../src/domain/auth/password';

/**
 * Usernames through the real server: register (GraphQL and the REST path, which uses the same
 * domain service) takes 3..32 of [A-Za-z0-9_.-], starting with a letter or digit and ending with
 * a letter, digit or "_"; spaces, Unicode, markup and control characters are refused. Accounts
 * made before the start/end rule keep logging in and being found.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const REGISTER = 'mutation($i: RegisterInput!) { register(input: $i) { user { id username } } }';
const PASSWORD = 'correct-horse-battery';
const apiUrl = (path: string) => restUrl(server.url, path);
const restRegister = (username: string) =>
  fetch(apiUrl('/accounts/register/'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD }),
  });

function expectBadUsername(r: GqlResult) {
  expect(codeOf(r)).toBe('BAD_USER_INPUT');
  expect(r.errors![0].extensions!.field).toBe('username');
  expect(r.data?.register ?? null).toBeNull();
}

const REFUSED: [string, string][] = [
  ['a space', 'bad name'],
  ['a tab', 'bad\tname'],
  ['NUL', 'nul\u0000name'],
  ['an escape character', 'esc\u001bname'],
  ['<script>', '<script>'],
  ['markup', '<b>bob</b>'],
  ['quotes', '"bob"'],
  ['non-ASCII letters', 'jürgen'],
  ['a Cyrillic look-alike of "alice"', '\u0430lice'],
  ['an emoji', 'bob😀'],
  ['a zero-width space', 'bo\u200bb'],
  ['a right-to-left override', 'bob\u202egnp'],
  ['full-width letters', 'ｂｏｂ'],
  ['"@"', '@bob'],
  ['a path', '../etc'],
  ['a leading dot', '.bob'],
  ['a trailing dot', 'bob.'],
  ['a trailing dash', 'bob-'],
  ['two characters', 'ab'],
  ['33 characters', 'b'.repeat(33)],
];

describe('register refuses usernames with', () => {
  test.each(REFUSED)('%s (GraphQL: BAD_USER_INPUT naming username)', async (_label, username) => {
    expectBadUsername(await gql(server.url, REGISTER, { i: { username, password: PASSWORD } }));
  });

  test.each(REFUSED)('%s (REST: 400 naming username)', async (_label, username) => {
    const res = await restRegister(username);
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toContain('username');
  });

  test('nothing was created by those attempts', async () => {
    const viewer = await registerUser(server.url, 'viewer');
    const r = await gqlOk(server.url, '{ users(first: 100) { totalCount edges { node { username } } } }', {}, viewer.token);
    expect(r.users.edges.map((e: any) => e.node.username)).toEqual([viewer.username]);
  });
});

describe('register accepts', () => {
  test.each(['abc', 'Bob_Smith', 'a.b-c_d', '0day', 'trailing_', 'z'.repeat(32), 'user1_12345'])('%j', async (username) => {
    const r = await gql(server.url, REGISTER, { i: { username, password: PASSWORD } });
    expect(r.errors).toBeUndefined();
    expect(r.data.register.user.username).toBe(username);
  });

  test('the test suite\'s generated names (prefix + counter + "_" + pid)', async () => {
    for (const prefix of ['user', 'race-family', 'ws-ok', 'qcA']) expect((await registerUser(server.url, prefix)).id).toEqual(expect.any(String));
  });
});

describe('an account made before the start/end rule (e.g. "legacy.")', () => {
  test('still logs in, is found by username, and can be opened a direct chat with', async () => {
    const em = server.orm.em.fork();
    em.create(User, { username: 'legacy.', usernameKey: 'legacy.', passwordHash: await hashPassword(PASSWORD), isStaff: false });
    await em.flush();
    const login = await gqlOk(server.url, 'mutation { login(username: "Legacy.", password: "correct-horse-battery") { accessToken user { username } } }');
    expect(login.login.user.username).toBe('legacy.');
    const other = await registerUser(server.url, 'peer');
    expect((await gqlOk(server.url, '{ user(username: "legacy.") { username } }', {}, other.token)).user.username).toBe('legacy.');
    expect((await gqlOk(server.url, 'mutation { openDirectChat(username: "legacy.") { kind } }', {}, other.token)).openDirectChat.kind).toBe('DIRECT');
  });
});
