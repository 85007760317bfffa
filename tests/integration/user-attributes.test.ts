/**
 * Issue 28 item 9: staff set seed 004's user attributes (`role`, `score`, `rank`, `in_game_ids`)
 * through GraphQL `setUserAttributes` and `npm run create-user`; seeds 000, 001 and 004 show them.
 * Values: seed 001's roles ("renter", "owner"), seed 004's users (user1, user2) and its User model
 * (score an integer, rank and role nullable strings, in_game_ids a list).
 */
import fc from 'fast-check';
import { createUserFromArgs, parseCreateUserArgs } from '../../src/create-user';
import { DomainError } from '../../src/domain/shared/errors';
import { codeOf, gql, gqlOk } from '../support/client';
import { startTestServer, type TestServer } from '../support/test-server';
import { call, restUser, type RestUser } from './rest/rest-support';

let server: TestServer;
let staffToken: string;
let user1: RestUser;
let user2: RestUser;

const SET = 'mutation($u: ID!, $i: UserAttributesInput!) { setUserAttributes(userId: $u, input: $i) { id role score rank inGameIds } }';
const LOGIN = 'mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }';
const ATTRS = '{ role score rank inGameIds }';

beforeAll(async () => {
  server = await startTestServer();
  await createUserFromArgs(server.services.auth, server.orm.em.fork(), ['--username', 'attr_staff', '--password', 'long-enough-pass', '--staff']);
  staffToken = (await gqlOk(server.url, LOGIN, { u: 'attr_staff', p: 'long-enough-pass' })).login.accessToken;
  user1 = await restUser(server, 'user1_');
  user2 = await restUser(server, 'user2_');
});
afterAll(async () => {
  await server.close();
});

const attrsOf = async (id: string) => (await gqlOk(server.url, `query($id: ID!) { user(id: $id) ${ATTRS} }`, { id }, staffToken)).user;

test('staff set role, score, rank and inGameIds; seeds 000, 001 and 004 show them', async () => {
  const before = await attrsOf(user1.id);
  expect(before).toEqual({ role: null, score: 0, rank: null, inGameIds: [] });
  const set = (
    await gqlOk(
      server.url,
      SET,
      {
        u: user1.id,
        i: { role: 'owner', score: 1250, rank: 'Diamond II', inGameIds: ['steam:76561198000000001', 'riot:user1#EUW', 'steam:76561198000000001'] },
      },
      staffToken,
    )
  ).setUserAttributes;
  expect(set).toEqual({ id: user1.id, role: 'owner', score: 1250, rank: 'Diamond II', inGameIds: ['steam:76561198000000001', 'riot:user1#EUW'] });

  // Seed 004: user2 writes to user1 (POST /api/messages/ {content, recipient_id}, the seed's example body); participants show user1's attributes.
  const sent = await call(server, 'POST', '/messages/', {
    token: user2.token,
    json: { content: 'سلام، این یک پیام آزمایشی است.', recipient_id: Number(user1.id) },
  });
  expect(sent.status).toBe(201);
  const conv = await call(server, 'GET', `/conversations/${sent.body.conversation}/`, { token: user2.token });
  const shown = conv.body.participants.find((p: any) => p.id === Number(user1.id));
  expect(shown).toMatchObject({ role: 'owner', score: 1250, rank: 'Diamond II', in_game_ids: ['steam:76561198000000001', 'riot:user1#EUW'] });
  // Seed 000: the same DIRECT chat's other_user.
  const recent = await call(server, 'GET', '/chat/recent-conversations/?limit=10', { token: user2.token });
  expect(recent.body.find((c: any) => c.other_user?.id === Number(user1.id)).other_user).toMatchObject({
    role: 'owner',
    score: 1250,
    rank: 'Diamond II',
    in_game_ids: ['steam:76561198000000001', 'riot:user1#EUW'],
  });
  // Seed 001: the chat's members_summary carries `role`.
  const chats = await call(server, 'GET', '/chats/', { token: user2.token });
  const summary = chats.body.results.flatMap((c: any) => c.members_summary).find((m: any) => m.id === Number(user1.id));
  expect(summary.role).toBe('owner');

  // Absent fields are unchanged; null clears (score null is 0).
  expect((await gqlOk(server.url, SET, { u: user1.id, i: { rank: 'Master' } }, staffToken)).setUserAttributes).toMatchObject({
    role: 'owner',
    score: 1250,
    rank: 'Master',
    inGameIds: ['steam:76561198000000001', 'riot:user1#EUW'],
  });
  expect(
    (await gqlOk(server.url, SET, { u: user1.id, i: { role: null, score: null, rank: '', inGameIds: null } }, staffToken)).setUserAttributes,
  ).toMatchObject({ role: null, score: 0, rank: null, inGameIds: [] });
});

test('only staff: FORBIDDEN for the user themself and others, before any validation; bad input names the field and changes nothing', async () => {
  await gqlOk(server.url, SET, { u: user2.id, i: { role: 'renter', score: 10 } }, staffToken);
  for (const token of [user2.token, user1.token]) {
    const r = await gql(server.url, SET, { u: user2.id, i: { role: 'admin', score: 999999 } }, token);
    expect(codeOf(r)).toBe('FORBIDDEN');
    expect(r.errors?.[0]?.message).toMatch(/staff/i);
    expect(codeOf(await gql(server.url, SET, { u: user2.id, i: { rank: 'x'.repeat(65) } }, token))).toBe('FORBIDDEN');
  }
  const cases: [Record<string, unknown>, string][] = [
    [{ role: 'x'.repeat(65) }, 'role'],
    [{ rank: 'y'.repeat(65), role: 'ok' }, 'rank'],
    [{ inGameIds: Array.from({ length: 21 }, (_, i) => `id${i}`) }, 'inGameIds'],
    [{ inGameIds: ['ok', '   '] }, 'inGameIds'],
    [{ inGameIds: ['z'.repeat(101)] }, 'inGameIds'],
  ];
  for (const [i, field] of cases) {
    const r = await gql(server.url, SET, { u: user2.id, i }, staffToken);
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(JSON.stringify(r.errors?.[0]?.extensions)).toContain(field);
  }
  expect(await attrsOf(user2.id)).toEqual({ role: 'renter', score: 10, rank: null, inGameIds: [] });
  expect(codeOf(await gql(server.url, SET, { u: '999999999', i: { role: 'x' } }, staffToken))).toBe('NOT_FOUND');
  expect(codeOf(await gql(server.url, SET, { u: 'abc', i: { role: 'x' } }, staffToken))).toBe('BAD_USER_INPUT');
});

test('a burst of setUserAttributes on one user, each setting one field: every field ends set (each write keeps the others)', async () => {
  const target = await restUser(server, 'burst_');
  const writes = [{ role: 'renter' }, { score: 77 }, { rank: 'Gold' }, { inGameIds: ['psn:burst'] }];
  const results = await Promise.all(writes.map((i) => gql(server.url, SET, { u: target.id, i }, staffToken)));
  for (const r of results) expect(r.errors).toBeUndefined();
  expect(await attrsOf(target.id)).toEqual({ role: 'renter', score: 77, rank: 'Gold', inGameIds: ['psn:burst'] });
});

test('staff input, fuzzed: a success or BAD_USER_INPUT, never another error; a refusal changes nothing', async () => {
  const target = await restUser(server, 'fuzzattr_');
  const text = fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom('', ' ', '\u0000', '\n\t', '<b>x</b>', '𝔘'.repeat(70)));
  const arb = fc.record(
    {
      role: fc.oneof(text, fc.constant(null), fc.integer() as fc.Arbitrary<unknown>),
      score: fc.oneof(fc.integer(), fc.constant(null), fc.double() as fc.Arbitrary<unknown>, fc.constant(2 ** 31)),
      rank: fc.oneof(text, fc.constant(null)),
      inGameIds: fc.oneof(fc.array(text, { maxLength: 25 }), fc.constant(null), text as fc.Arbitrary<unknown>),
    },
    { requiredKeys: [] },
  );
  await fc.assert(
    fc.asyncProperty(arb, async (i) => {
      const before = await attrsOf(target.id);
      const r = await gql(server.url, SET, { u: target.id, i }, staffToken);
      if (r.errors?.length) {
        expect(codeOf(r)).toBe('BAD_USER_INPUT');
        expect(await attrsOf(target.id)).toEqual(before);
      } else {
        expect(r.data.setUserAttributes.id).toBe(target.id);
      }
    }),
    { numRuns: 25 },
  );
}, 180_000);

test('create-user sets them too (--role, --score, --rank, --in-game-id repeated), under the same rules', async () => {
  const created = await createUserFromArgs(server.services.auth, server.orm.em.fork(), [
    '--username',
    'user_gamer',
    '--password',
    'long-enough-pass',
    '--role',
    'owner',
    '--score',
    '42',
    '--rank',
    'Silver',
    '--in-game-id',
    'steam:1',
    '--in-game-id',
    'riot:2',
  ]);
  expect(await attrsOf(String(created.id))).toEqual({ role: 'owner', score: 42, rank: 'Silver', inGameIds: ['steam:1', 'riot:2'] });
  expect(() => parseCreateUserArgs(['--username', 'x', '--password', 'y', '--score', 'high'])).toThrow(/--score must be an integer[\s\S]*usage/);
  const refused = await createUserFromArgs(server.services.auth, server.orm.em.fork(), [
    '--username',
    'user_badrank',
    '--password',
    'long-enough-pass',
    '--rank',
    'r'.repeat(65),
  ]).then(
    () => 'created',
    (err) => (err instanceof DomainError ? err.code : String(err)),
  );
  expect(refused).toBe('BAD_USER_INPUT');
  expect((await gqlOk(server.url, 'query { user(username: "user_badrank") { id } }', {}, staffToken)).user).toBeNull();
});
