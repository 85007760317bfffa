/**
 * GraphQL helpers shared by the integration suites: requests made as a test user, and the
 * assertion that a request was refused.
 */
import { codeOf, gql, gqlOk, type GqlResult, type TestUser } from './client';

/**
 * GraphQL over HTTP as a given user, against `url` (a thunk is read at every call, so the helpers
 * can be made at module level before `beforeAll` starts the server):
 * - `q(user, query, variables)`: fails the test on any error and returns `data` ({@link gqlOk});
 * - `raw(user, query, variables)`: the whole response, errors included ({@link gql}).
 */
export function gqlAs(url: string | (() => string)) {
  const urlNow = typeof url === 'string' ? () => url : url;
  return {
    q: <T = any>(user: TestUser, query: string, variables: Record<string, unknown> = {}) => gqlOk<T>(urlNow(), query, variables, user.token),
    raw: (user: TestUser, query: string, variables: Record<string, unknown> = {}) => gql(urlNow(), query, variables, user.token),
  };
}

/**
 * Asserts a GraphQL response is refused with error code `code` and carries no data for `field`
 * (the field is part of the compared value, so a failure names the operation).
 */
export function expectDenied(r: GqlResult, field: string, code: string) {
  expect({ field, code: codeOf(r) }).toEqual({ field, code });
  expect(r.data?.[field] ?? null).toBeNull();
}
