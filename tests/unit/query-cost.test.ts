/**
 * Query cost (issue 27): every list of the schema declares its bound, and the cost counts each list
 * at its real maximum (its page-size argument, literal or variable, clamped to its cap; else its
 * default; else its cap), so `members` of a group of any size counts at most 100.
 */
import { parse } from 'graphql';
import { buildGraphQLSchema } from '../../src/graphql/schema';
import { QueryCost, unboundedLists } from '../../src/security/query-cost';

const schema = buildGraphQLSchema();
const cost = new QueryCost(schema, { uploadMaxFiles: 10 });
const of = (query: string, variables?: Record<string, unknown>) => cost.of(parse(query), undefined, variables);

test('every list and connection of the schema declares a bound', () => {
  expect(unboundedLists(schema)).toEqual([]);
});

test('a field counts 1; a list counts its items times (1 + what each item selects)', () => {
  expect(of('{ me { id } }')).toBe(2);
  expect(of('{ me { id __typename } }')).toBe(2);
  // members: 100 by default (its cap), each 1 + user (1 + 3)
  expect(of('query($c: ID!) { conversation(id: $c) { members { user { id username fullName } } } }', { c: '1' })).toBe(1 + 100 * (1 + 4));
  expect(of('query($c: ID!) { conversation(id: $c) { members(first: 10) { id } } }', { c: '1' })).toBe(1 + 10 * 2);
});

test('a variable page size counts at its value, clamped to the cap; absent, at the default', () => {
  const q = 'query($n: Int) { users(first: $n) { edges { node { id } } } }';
  expect(of(q, { n: 5 })).toBe(1 + 5 * (1 + 2));
  expect(of(q, { n: 5000 })).toBe(1 + 100 * (1 + 2));
  expect(of(q)).toBe(1 + 20 * (1 + 2));
  // The connection's page size multiplies its edges, not its totalCount or pageInfo.
  expect(of('{ users(first: 50) { totalCount pageInfo { hasNextPage } edges { cursor } } }')).toBe(1 + 1 + 2 + 50 * 2);
  // messages: no default argument, 50 by default (defaultItems)
  expect(of('query($c: ID!) { messages(conversationId: $c) { edges { node { id } } } }', { c: '1' })).toBe(1 + 50 * 3);
  expect(of('query($c: ID!) { messages(conversationId: $c, last: 100) { edges { node { id } } } }', { c: '1' })).toBe(1 + 100 * 3);
});

test("lists nest: 15 aliases of a conversation's members count 15 x 100 members", () => {
  const aliases = Array.from({ length: 15 }, (_, i) => `a${i}: conversation(id: 1) { members { user { id username fullName } } }`).join(' ');
  expect(of(`{ ${aliases} }`)).toBe(15 * (1 + 100 * 5));
  // 20 conversations with 100 members each
  expect(of('{ conversations(first: 20) { edges { node { members { id } } } } }')).toBe(1 + 20 * (1 + 1 + 100 * 2));
});

test('fragments count where they are spread, once per spread, without re-walking them (no blow-up)', () => {
  expect(of('{ me { ...F } } fragment F on User { id username }')).toBe(3);
  // 30 levels of fragments each spread twice: 2^30 values, computed without walking 2^30 times.
  const defs = Array.from({ length: 30 }, (_, i) => `fragment F${i} on User { ...F${i + 1} a${i}: id }`)
    .join(' ')
    .replace('...F30', 'id');
  const started = Date.now();
  expect(of(`{ me { ...F0 ...F0 } } ${defs}`)).toBeGreaterThan(0);
  expect(Date.now() - started).toBeLessThan(5000);
  expect(of('{ unreadSummary { total byConversation(first: 3) { count } bySender { count } } }')).toBe(1 + 1 + 3 * 2 + 100 * 2);
  expect(of('{ contacts { id } }')).toBe(100 * 2);
  expect(of('query($c: ID!) { message(id: $c) { attachments { id } mentions { id } } }', { c: '1' })).toBe(1 + 10 * 2 + 50 * 2);
});

test('invalid variables give no cost (execution refuses them itself)', () => {
  expect(of('query($n: Int) { users(first: $n) { totalCount } }', { n: 'many' })).toBeNull();
});
