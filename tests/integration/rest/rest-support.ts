/**
 * Plain-fetch helpers for the REST dialect suites: calls under /api of a real test server (every
 * 2xx JSON answer is checked against the route's response schema in the OpenAPI document, which
 * lists every key: a key too many or missing anywhere fails the call), accounts made the way
 * legacy apps make them (POST /api/accounts/register/, then POST /api/token/), staff promotion,
 * error-body checks, multipart forms.
 */
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { restRoutes } from '../../../src/rest';
import { buildOpenApi } from '../../../src/rest/common/openapi.builder';
import { restUrl, type TestUser } from '../../support/client';
import type { TestServer } from '../../support/test-server';

/** A REST answer: status, headers, parsed JSON body (undefined when empty). */
export interface RestResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** Options of one call: bearer token, JSON body, multipart form, raw body, extra headers. */
export interface CallOptions {
  token?: string;
  json?: unknown;
  form?: FormData;
  raw?: string;
  headers?: Record<string, string>;
}

/** The REST base URL of a test server: http://127.0.0.1:PORT/api */
export const apiBase = (server: TestServer) => restUrl(server.url);

/** JSON Schema 2020-12 validation (Ajv), as OpenAPI 3.1 uses it. */
export function newAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv;
}

/** The OpenAPI document the server serves, built from the same registry. */
export const openApi = buildOpenApi(restRoutes()) as { paths: Record<string, Record<string, any>> };
const ajv = newAjv();
const validators = new Map<string, ValidateFunction>();
/** Path templates, literal segments first (`/api/chats/create_direct_chat/` before `/api/chats/{id}/`). */
const templates = Object.keys(openApi.paths)
  .map((t) => ({ t, re: new RegExp(`^${t.replace(/\{\w+\}/g, '[^/]+').replace(/\/$/, '')}/?$`), params: (t.match(/\{/g) ?? []).length }))
  .sort((a, b) => a.params - b.params);

/**
 * Checks a 2xx JSON answer against the response schema the OpenAPI document gives for that
 * method, path and status. @throws with the path, status and schema errors when it does not match.
 */
export function checkAgainstOpenApi(method: string, url: string, status: number, body: unknown): void {
  if (status < 200 || status >= 300) return;
  const path = new URL(url).pathname;
  const m = method.toLowerCase();
  const found = templates.find((x) => x.re.test(path) && openApi.paths[x.t][m]);
  if (!found) throw new Error(`${method} ${path} answered ${status} but the OpenAPI document has no such operation`);
  const response = openApi.paths[found.t][m].responses[String(status)];
  if (!response) throw new Error(`${method} ${path} answered ${status}, not documented in the OpenAPI document`);
  const schema = response.content?.['application/json']?.schema;
  if (!schema) {
    if (body !== undefined && found.t !== '/api/openapi.json/')
      throw new Error(`${method} ${path} answered ${status} with a body the OpenAPI document does not describe`);
    return;
  }
  const key = `${m} ${found.t} ${status}`;
  let validate = validators.get(key);
  if (!validate) validators.set(key, (validate = ajv.compile(schema)));
  if (!validate(body)) {
    throw new Error(
      `${method} ${path} ${status}: the body does not match the OpenAPI schema: ${ajv.errorsText(validate.errors, { separator: '; ' })}\n${JSON.stringify(body).slice(0, 2000)}`,
    );
  }
}

/** One HTTP call with fetch; a 2xx JSON answer must match the route's OpenAPI response schema. */
export async function call<T = any>(server: TestServer, method: string, path: string, opts: CallOptions = {}): Promise<RestResponse<T>> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: RequestInit['body'];
  if (opts.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.form) body = opts.form;
  else if (opts.raw !== undefined) body = opts.raw;
  const res = await fetch(`${apiBase(server)}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  checkAgainstOpenApi(method, res.url, res.status, parsed);
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

let counter = 0;
/** A REST user: id, username, access token (`token`, as GraphQL helpers expect) and refresh token. */
export interface RestUser extends TestUser {
  password: string;
}

/** Registers through POST /api/accounts/register/ and logs in through POST /api/token/. */
export async function restUser(server: TestServer, prefix = 'u', extra: Record<string, unknown> = {}): Promise<RestUser> {
  const username = `${prefix}${++counter}_${process.pid}`.slice(0, 32);
  const password = 'correct-horse-battery';
  const reg = await call(server, 'POST', '/accounts/register/', { json: { username, password, ...extra } });
  if (reg.status !== 201) throw new Error(`register: ${reg.status} ${reg.text}`);
  const tok = await call(server, 'POST', '/token/', { json: { username, password } });
  if (tok.status !== 200) throw new Error(`token: ${tok.status} ${tok.text}`);
  return { id: String(reg.body.id), username, password, token: tok.body.access, refreshToken: tok.body.refresh };
}

/** Makes a user staff (there is no API for it short of another staff user). */
export async function makeStaff(server: TestServer, user: { id: string }): Promise<void> {
  await server.orm.em.fork().execute('update "users" set "is_staff" = true where "id" = ?', [Number(user.id)]);
}

/** Asserts the status and the common error body `{"error", "detail"}` (both strings); returns the body. */
export function expectError(res: RestResponse, status: number): { error: string; detail: string } {
  expect({ status: res.status, keys: res.body && typeof res.body === 'object' ? Object.keys(res.body).sort() : res.body }).toEqual({
    status,
    keys: ['detail', 'error'],
  });
  expect(typeof res.body.error).toBe('string');
  expect(typeof res.body.detail).toBe('string');
  return res.body;
}

/** Asserts an object has exactly these keys. */
export function expectKeys(obj: unknown, keys: string[]): void {
  expect(obj && typeof obj === 'object' ? Object.keys(obj as object).sort() : obj).toEqual([...keys].sort());
}

/** GraphQL over fetch, failing on errors. */
export async function gqlData<T = any>(server: TestServer, user: { token: string }, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: unknown[] };
  if (body.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data as T;
}

/** A file part for {@link form}: name, bytes, optional content type. */
export interface FilePart {
  name: string;
  bytes: Buffer;
  type?: string;
}

/**
 * A multipart body as a browser's FormData builds it: text fields (a list repeats its key:
 * `members: 1`, `members: 2`) and file parts (repeated keys too: `medias`).
 */
export function form(fields: Record<string, string | number | (string | number)[]>, files: [string, FilePart][] = []): FormData {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) for (const one of Array.isArray(v) ? v : [v]) f.append(k, String(one));
  for (const [k, p] of files) f.append(k, new Blob([new Uint8Array(p.bytes)], { type: p.type ?? 'application/octet-stream' }), p.name);
  return f;
}
