/**
 * `npm run create-user` (issue 3, staff accounts of seed 004): the command's function against the
 * real server's database, then the account used through GraphQL.
 */
import { createUserFromArgs, parseCreateUserArgs } from '../../src/create-user';
import { DomainError } from '../../src/domain/shared/errors';
import { codeOf, gql, gqlOk } from '../support/client';
import { startTestServer, type TestServer } from '../support/test-server';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

const LOGIN = `mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken user { username isStaff firstName } } }`;

test('creates a staff account that can log in and read every conversation', async () => {
  const user = await createUserFromArgs(server.services.auth, server.orm.em.fork(), [
    '--username',
    'desk_staff',
    '--password',
    'long-enough-pass',
    '--staff',
    '--first-name',
    'Desk',
  ]);
  expect(user.isStaff).toBe(true);
  const login = (await gqlOk(server.url, LOGIN, { u: 'desk_staff', p: 'long-enough-pass' })).login;
  expect(login.user).toEqual({ username: 'desk_staff', isStaff: true, firstName: 'Desk' });
  // staff may grant staff rights
  const other = await createUserFromArgs(server.services.auth, server.orm.em.fork(), ['--username', 'plain_user', '--password', 'long-enough-pass']);
  expect(other.isStaff).toBe(false);
  const granted = await gqlOk(
    server.url,
    `mutation($u: ID!) { setUserStaff(userId: $u, isStaff: true) { isStaff } }`,
    { u: String(other.id) },
    login.accessToken,
  );
  expect(granted.setUserStaff.isStaff).toBe(true);
});

test('refuses a taken username and invalid fields with the domain codes', async () => {
  await createUserFromArgs(server.services.auth, server.orm.em.fork(), ['--username', 'taken_name', '--password', 'long-enough-pass']);
  const codeFor = (argv: string[]) =>
    createUserFromArgs(server.services.auth, server.orm.em.fork(), argv).then(
      () => 'created',
      (err) => (err instanceof DomainError ? err.code : String(err)),
    );
  expect(await codeFor(['--username', 'TAKEN_NAME', '--password', 'long-enough-pass'])).toBe('CONFLICT');
  expect(await codeFor(['--username', 'bad name!', '--password', 'long-enough-pass'])).toBe('BAD_USER_INPUT');
  expect(await codeFor(['--username', 'shortpw', '--password', 'x'])).toBe('BAD_USER_INPUT');
  expect(codeOf(await gql(server.url, LOGIN, { u: 'bad name!', p: 'long-enough-pass' }))).toBe('UNAUTHENTICATED');
});

test('argument errors name the usage', () => {
  expect(() => parseCreateUserArgs(['--username', 'x'])).toThrow(/--password are required[\s\S]*usage: npm run create-user/);
  expect(() => parseCreateUserArgs(['--username', 'x', '--password', 'y', '--bogus'])).toThrow(/usage/);
  expect(parseCreateUserArgs(['--username', 'x', '--password', 'y'])).toMatchObject({ username: 'x', password: 'y', staff: false });
});
