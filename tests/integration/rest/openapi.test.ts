/**
 * GET /api/openapi.json: a valid OpenAPI 3.1 document (checked against the OpenAPI Initiative's
 * schema for 3.1 documents, openapi-3.1.schema.json = https://spec.openapis.org/oas/3.1/schema/2022-10-07,
 * Apache-2.0; every embedded schema against JSON Schema 2020-12), with an operation for every
 * registered route and for every path of rest-compat.md, each documenting its seed's status. The
 * other suites check every 2xx answer they get against this document (rest-support `call`).
 */
import { z } from 'zod';
import oasSchema from './openapi-3.1.schema.json';
import { restRoutes } from '../../../src/rest';
import type { AnyRoute } from '../../../src/rest/common/route.registry';
import { openApiPath } from '../../../src/rest/common/openapi.builder';
import { startTestServer, type TestServer } from '../../support/test-server';
import { call, checkAgainstOpenApi, newAjv } from './rest-support';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

/** Every path of rest-compat.md (and so of the seeds' documented /api paths): method, path, success status(es). */
const DOCUMENTED: [string, string, number[]][] = [
  // Tokens (seed 000's SimpleJWT endpoints, every dialect)
  ['post', '/api/token/', [200]],
  ['post', '/api/token/refresh/', [200]],
  ['post', '/api/accounts/logout/', [205]],
  ['post', '/api/accounts/register/', [201]],
  // Seed 000
  ['get', '/api/chat/history/{username}/', [200]],
  ['get', '/api/chat/unread/count/', [200]],
  ['post', '/api/chat/mark-read/{username}/', [200]],
  ['get', '/api/chat/conversations/', [200]],
  ['get', '/api/chat/recent-conversations/', [200]],
  ['get', '/api/accounts/connections/users/', [200]],
  ['post', '/api/accounts/connections/request/{user_id}/', [201]],
  ['post', '/api/accounts/connections/accept/{connection_id}/', [200]],
  ['post', '/api/accounts/connections/decline/{connection_id}/', [200]],
  ['post', '/api/accounts/connections/block/{user_id}/', [200]],
  ['post', '/api/accounts/connections/unblock/{user_id}/', [200]],
  // Seed 001
  ['get', '/api/chats/', [200]],
  ['post', '/api/chats/', [201]],
  ['get', '/api/chats/{id}/', [200]],
  ['post', '/api/chats/create_direct_chat/', [200]],
  ['post', '/api/chats/{id}/add_member/', [200]],
  ['post', '/api/chats/{id}/remove_member/', [200]],
  ['post', '/api/chats/{id}/leave_group/', [200]],
  ['get', '/api/chats/{id}/messages/', [200]],
  ['post', '/api/chats/{id}/send-message/', [201]],
  ['patch', '/api/messages/{id}/', [200]],
  ['delete', '/api/messages/{id}/', [204]],
  // Seed 002
  ['get', '/api/chat/conversations/my_conversation/', [200]],
  ['get', '/api/chat/conversations/{id}/', [200]],
  ['get', '/api/chat/conversations/{id}/messages/', [200]],
  ['post', '/api/chat/conversations/{id}/send_message/', [201]],
  ['get', '/api/chat/messages/', [200]], // issue 28 item 11: the seed's router
  ['get', '/api/chat/messages/{id}/', [200]],
  ['get', '/api/devices/', [200]], // issue 28 item 10: fcm-django's device API
  ['post', '/api/devices/', [201, 200]],
  ['delete', '/api/devices/{registration_id}/', [204]],
  // Seed 003
  ['get', '/api/chat/rooms/', [200]],
  ['post', '/api/chat/rooms/', [201]],
  ['get', '/api/chat/rooms/{id}/', [200]],
  ['patch', '/api/chat/rooms/{id}/', [200]], // issue 28 item 8: is_active
  ['post', '/api/chat/upload/', [201]], // issue 28 item 7: note 7, upload first
  ['post', '/api/chat/rooms/{id}/join/', [200]],
  ['post', '/api/chat/rooms/{id}/leave/', [200]],
  ['get', '/api/chat/rooms/{id}/members/', [200]],
  ['get', '/api/chat/rooms/{id}/messages/', [200]],
  ['post', '/api/chat/rooms/{id}/messages/', [201]],
  ['post', '/api/chat/messages/{id}/read/', [200]],
  ['delete', '/api/chat/messages/{id}/delete/', [200]],
  ['get', '/api/chat/notifications/', [200]],
  ['post', '/api/chat/notifications/{id}/read/', [200]],
  // Seed 004
  ['get', '/api/conversations/', [200]],
  ['get', '/api/conversations/{id}/', [200]],
  ['post', '/api/messages/', [201]],
  ['get', '/api/conversations/{id}/messages/', [200]],
  ['get', '/api/messages/{id}/', [200]],
  ['put', '/api/messages/{id}/', [200]],
  ['post', '/api/conversations/{cid}/messages/{mid}/attachments/', [201]],
];

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** How many operations carry a seed example (a response example or a request body example), at least. */
const MIN_OPERATIONS_WITH_EXAMPLES = 31;

/**
 * Every way a route's examples fail its schemas: each response example must pass that response's
 * zod `schema` (and, as the document lists every key, its JSON Schema: no key too many); each
 * `bodyExample`, with file fields aside, the route's `body` (no key the body does not take).
 */
function exampleProblems(routes: AnyRoute[]): string[] {
  const ajv = newAjv();
  const problems: string[] = [];
  const issues = (e: z.ZodError) => JSON.stringify(e.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
  for (const r of routes) {
    const op = `${r.method.toUpperCase()} ${openApiPath(r.path)}`;
    for (const [status, res] of Object.entries(r.responses)) {
      if (res.example === undefined) continue;
      if (!res.schema) {
        problems.push(`${op} ${status}: an example but no schema`);
        continue;
      }
      const parsed = res.schema.safeParse(res.example);
      if (!parsed.success) problems.push(`${op} ${status}: ${issues(parsed.error)}`);
      const validate = ajv.compile(z.toJSONSchema(res.schema, { io: 'output', unrepresentable: 'any', target: 'draft-2020-12' }));
      if (!validate(res.example)) problems.push(`${op} ${status}: ${ajv.errorsText(validate.errors, { separator: '; ' })}`);
    }
    if (r.bodyExample === undefined) continue;
    if (!(r.body instanceof z.ZodObject)) {
      problems.push(`${op} body: an example but no object body schema`);
      continue;
    }
    const files = Object.keys(r.files ?? {});
    const body = z.object(Object.fromEntries(Object.entries(r.body.shape as z.ZodRawShape).filter(([k]) => !files.includes(k))));
    const example = Object.fromEntries(Object.entries(r.bodyExample).filter(([k]) => !files.includes(k)));
    const parsed = body.safeParse(example);
    if (!parsed.success) problems.push(`${op} body: ${issues(parsed.error)}`);
    const unknown = Object.keys(example).filter((k) => !(k in body.shape));
    if (unknown.length) problems.push(`${op} body: keys the body does not take: ${unknown.join(', ')}`);
  }
  return problems;
}

describe('GET /api/openapi.json', () => {
  let doc: any;
  beforeAll(async () => {
    const res = await call(server, 'GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    doc = res.body;
  });

  it('is a valid OpenAPI 3.1 document', () => {
    const ajv = newAjv();
    ajv.addFormat('media-range', true);
    // Ajv supports $dynamicRef only in a limited form; in this schema "#meta" (Schema Objects) is
    // its own $defs/schema (no dialect overrides it), so a plain $ref says the same.
    const schema = JSON.parse(JSON.stringify(oasSchema).replaceAll('"$dynamicRef":"#meta"', '"$ref":"#/$defs/schema"'));
    const validate = ajv.compile(schema);
    expect({ valid: validate(doc), errors: validate.errors ?? null }).toEqual({ valid: true, errors: null });
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    // The default dialect (the OAS base dialect, JSON Schema 2020-12 with OAS keywords): any
    // other value makes Swagger UI on /api/docs show a warning banner (issue 30, item 8).
    expect(doc.jsonSchemaDialect).toBeUndefined();

    // Every schema in it is a JSON Schema 2020-12 schema; every $ref resolves.
    const schemas: [string, unknown][] = [];
    const refs: string[] = [];
    const ids = new Set<string>();
    for (const [path, item] of Object.entries<any>(doc.paths)) {
      const templateParams = (path.match(/\{(\w+)\}/g) ?? []).map((p) => p.slice(1, -1)).sort();
      for (const method of Object.keys(item).filter((k) => METHODS.includes(k))) {
        const op = item[method];
        expect({ op: `${method} ${path}`, unique: !ids.has(op.operationId) }).toEqual({ op: `${method} ${path}`, unique: true });
        ids.add(op.operationId);
        // Path parameters: exactly the template's.
        expect({
          op: `${method} ${path}`,
          params: op.parameters
            .filter((p: any) => p.in === 'path')
            .map((p: any) => p.name)
            .sort(),
        }).toEqual({ op: `${method} ${path}`, params: templateParams });
        for (const p of op.parameters) schemas.push([`${method} ${path} parameter ${p.name}`, p.schema]);
        for (const [type, c] of Object.entries<any>(op.requestBody?.content ?? {})) schemas.push([`${method} ${path} body ${type}`, c.schema]);
        for (const [status, r] of Object.entries<any>(op.responses)) {
          for (const c of Object.values<any>(r.content ?? {})) {
            if (c.schema.$ref) refs.push(c.schema.$ref);
            else schemas.push([`${method} ${path} ${status}`, c.schema]);
          }
        }
      }
    }
    for (const [, s] of Object.entries<any>(doc.components.schemas)) schemas.push(['component', s]);
    const invalid = schemas.filter(([, s]) => !ajv.validateSchema(s as object)).map(([where]) => where);
    expect(invalid).toEqual([]);
    for (const ref of new Set(refs))
      expect(
        ref
          .split('/')
          .slice(1)
          .reduce((o: any, k) => o?.[k], doc),
      ).toBeDefined();
  });

  it('has an operation for every registered route', () => {
    const missing = restRoutes()
      .filter((r) => !doc.paths[openApiPath(r.path)]?.[r.method])
      .map((r) => `${r.method} ${r.path}`);
    expect(missing).toEqual([]);
    const operations = Object.values<any>(doc.paths).reduce((n, item) => n + Object.keys(item).filter((k) => METHODS.includes(k)).length, 0);
    expect(operations).toBe(restRoutes().length);
  });

  it("documents every path of rest-compat.md with its seed's status, errors as {error, detail}", () => {
    const problems: string[] = [];
    for (const [method, path, statuses] of DOCUMENTED) {
      const op = doc.paths[path]?.[method];
      if (!op) {
        problems.push(`${method} ${path}: missing`);
        continue;
      }
      for (const s of statuses) if (!op.responses[String(s)]) problems.push(`${method} ${path}: no ${s}`);
      if (op.security.length && !op.responses['401']) problems.push(`${method} ${path}: no 401`);
      for (const [status, r] of Object.entries<any>(op.responses)) {
        if (Number(status) >= 400 && r.content['application/json'].schema.$ref !== '#/components/schemas/Error')
          problems.push(`${method} ${path}: ${status} is not {error, detail}`);
      }
    }
    expect(problems).toEqual([]);
    expect(doc.components.schemas.Error).toEqual({
      type: 'object',
      required: ['error', 'detail'],
      properties: { error: { type: 'string' }, detail: { type: 'string' } },
    });
  });

  it('describes uploads as multipart binary parts, and lists as repeated keys', () => {
    const send = doc.paths['/api/chats/{id}/send-message/'].post.requestBody.content;
    expect(send['multipart/form-data'].schema.properties.medias).toEqual({
      type: 'array',
      items: { type: 'string', contentMediaType: 'application/octet-stream' },
    });
    expect(send['application/json'].schema.properties).not.toHaveProperty('medias');
    const attach = doc.paths['/api/conversations/{cid}/messages/{mid}/attachments/'].post;
    expect(Object.keys(attach.requestBody.content)).toEqual(['multipart/form-data']);
    expect(attach.requestBody.content['multipart/form-data'].schema).toMatchObject({
      required: ['file'],
      properties: { file: { type: 'string', contentMediaType: 'application/octet-stream' } },
    });
    expect(Object.keys(attach.responses)).toEqual(expect.arrayContaining(['201', '401', '403', '404', '413', '415']));
    expect(doc.paths['/api/chats/'].post.requestBody.content['multipart/form-data'].schema.properties.members.type).toBe('array');
  });

  it('is what the suites check answers against: a key too many or missing fails', () => {
    const url = `${server.url.replace(/\/graphql$/, '')}/api/chat/unread/count/`;
    expect(() => checkAgainstOpenApi('GET', url, 200, { total_unread: 0, by_sender: [] })).not.toThrow();
    expect(() => checkAgainstOpenApi('GET', url, 200, { total_unread: 0, by_sender: [], extra: 1 })).toThrow(/does not match/);
    expect(() => checkAgainstOpenApi('GET', url, 200, { total_unread: 0, by_sender: [{ user_id: 1, username: 'x' }] })).toThrow(/count/);
    expect(() => checkAgainstOpenApi('GET', url.replace('unread/count', 'nothing/here'), 200, {})).toThrow(/no such operation/);
  });

  it("carries the seeds' examples, each matching its schema (responses and request bodies)", () => {
    const routes = restRoutes();
    expect(exampleProblems(routes)).toEqual([]);

    // The document serves them as they are declared.
    let withExample = 0;
    for (const r of routes) {
      const op = doc.paths[openApiPath(r.path)][r.method];
      const served = [
        ...Object.values<any>(op.responses).map((res) => res.content?.['application/json']?.example),
        ...Object.values<any>(op.requestBody?.content ?? {}).map((c) => c.example),
      ].filter((e) => e !== undefined);
      if (served.length) withExample++;
      for (const [status, res] of Object.entries(r.responses)) {
        if (res.example !== undefined)
          expect({ op: `${r.method} ${r.path} ${status}`, example: op.responses[status].content['application/json'].example }).toEqual({
            op: `${r.method} ${r.path} ${status}`,
            example: res.example,
          });
      }
      if (r.bodyExample) {
        const bodyExamples = Object.values<any>(op.requestBody.content)
          .map((c) => c.example)
          .filter((e) => e !== undefined);
        expect({ op: `${r.method} ${r.path}`, served: bodyExamples.length > 0 }).toEqual({ op: `${r.method} ${r.path}`, served: true });
        for (const e of bodyExamples) expect({ op: `${r.method} ${r.path}`, example: e }).toEqual({ op: `${r.method} ${r.path}`, example: r.bodyExample });
      }
    }
    expect(withExample).toBeGreaterThanOrEqual(MIN_OPERATIONS_WITH_EXAMPLES);
    expect(withExample).toBe(routes.filter((r) => r.bodyExample !== undefined || Object.values(r.responses).some((res) => res.example !== undefined)).length);

    // An example that stops matching is caught: a missing key, a wrong type, a key too many.
    const rooms = routes.find((r) => r.method === 'get' && r.path === '/chat/rooms/:id')!;
    const good = rooms.responses[200].example as Record<string, unknown>;
    const broken = (example: unknown, bodyExample?: Record<string, unknown>): AnyRoute => ({
      ...rooms,
      ...(bodyExample ? { body: z.object({ content: z.string() }), bodyExample } : {}),
      responses: { 200: { ...rooms.responses[200], example } },
    });
    const { name: _name, ...noName } = good;
    expect(exampleProblems([broken(noName)])).toHaveLength(2);
    expect(exampleProblems([broken({ ...good, member_count: '1' })])).toHaveLength(2);
    expect(exampleProblems([broken({ ...good, extra: 1 })])).toHaveLength(1);
    expect(exampleProblems([broken(good, { content: 1 })])).toHaveLength(1);
    expect(exampleProblems([broken(good, { content: 'x', extra: 1 })])).toHaveLength(1);
  });
});
