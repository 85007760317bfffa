import { z } from 'zod';
import type { ErrorCode } from '../../domain/shared/errors';
import { STATUS_OF } from './errors.middleware';
import type { AnyRoute } from './route.registry';

type JsonSchema = Record<string, unknown>;

/** A zod schema as JSON Schema 2020-12 (OpenAPI 3.1 uses it as is), without `$schema`. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  return rest;
}

/** Express path (`/chats/:id`) → OpenAPI path under /api with the legacy trailing slash (`/api/chats/{id}/`). */
export function openApiPath(path: string): string {
  return `/api${path.replace(/:(\w+)/g, '{$1}')}/`;
}

const ERROR_STATUSES: Record<number, string> = {
  400: 'Invalid input (the message names the field or parameter)',
  401: 'No token or a bad one',
  403: 'Forbidden',
  404: "Not found, or not the caller's to see",
  405: 'Method not allowed',
  413: 'Too large',
  415: 'Wrong media type',
  429: 'Rate limited (see Retry-After)',
  503: 'Database unavailable (see Retry-After)',
};

/** Parameters of an object schema (path or query). */
function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (!schema) return [];
  const js = jsonSchema(schema, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(js.properties ?? {}).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || (js.required ?? []).includes(name),
    ...(typeof s.description === 'string' ? { description: s.description } : {}),
    schema: s,
  }));
}

/**
 * A request body: JSON, urlencoded and multipart (as the legacy DRF backends parse all three);
 * file fields only in multipart (binary strings), and a route whose files are required takes
 * multipart only.
 */
function requestBody(schema: JsonSchema, fileFields: string[], example?: Record<string, unknown>): JsonSchema {
  const content: Record<string, unknown> = {};
  const withExample = (media: JsonSchema): JsonSchema => (example ? { ...media, example } : media);
  const required = (schema.required as string[] | undefined) ?? [];
  if (!fileFields.some((f) => required.includes(f))) {
    const props = { ...(schema.properties as Record<string, JsonSchema> | undefined) };
    for (const f of fileFields) delete props[f];
    const textOnly = { ...schema, properties: props };
    content['application/json'] = withExample({ schema: textOnly });
    content['application/x-www-form-urlencoded'] = { schema: textOnly };
  }
  // Lists are repeated parts of one name (`members: 1`, `members: 2`; `medias: <file>` twice).
  content['multipart/form-data'] = fileFields.length ? { schema } : withExample({ schema });
  return { required: true, content };
}

/**
 * The OpenAPI 3.1 document of the whole REST layer, built from the route registry (so a route
 * cannot be missing from it): paths, parameters, bodies and answers from the routes' zod schemas.
 */
export function buildOpenApi(routes: AnyRoute[]): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const p = openApiPath(r.path);
    const responses: Record<string, unknown> = {};
    for (const [status, res] of Object.entries(r.responses)) {
      responses[status] = {
        description: res.description,
        ...(res.schema
          ? { content: { 'application/json': { schema: jsonSchema(res.schema, 'output'), ...(res.example !== undefined ? { example: res.example } : {}) } } }
          : {}),
      };
    }
    // Invalid input, not found, wrong method, database unavailable; 401 with auth; 413/415 with a
    // body (too large, wrong media type); the route's refusals and overrides, with their status.
    const errorStatuses = new Set<number>([400, 404, 405, 503]);
    if (r.auth !== false) errorStatuses.add(401);
    if (r.body) {
      errorStatuses.add(413);
      errorStatuses.add(415);
    }
    const codes = new Set<ErrorCode>([...(r.refusals ?? []), ...(Object.keys(r.errors ?? {}) as ErrorCode[])]);
    for (const code of codes) errorStatuses.add(r.errors?.[code]?.status ?? STATUS_OF[code]);
    for (const s of [...errorStatuses].sort()) {
      responses[String(s)] ??= {
        description: ERROR_STATUSES[s] ?? 'Error',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      };
    }
    const body = r.body ? requestBody(jsonSchema(r.body, 'input'), Object.keys(r.files ?? {}), r.bodyExample) : undefined;
    (paths[p] ??= {})[r.method] = {
      tags: [r.tag],
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      operationId: `${r.method}${r.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ? ch.toUpperCase() : ''))}`,
      security: r.auth === false ? [] : [{ bearerAuth: [] }],
      parameters: [...parameters(r.params, 'path'), ...parameters(r.query, 'query')],
      ...(body ? { requestBody: body } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'chat-server REST compatibility layer',
      version: '1.0.0',
      description:
        'The documented /api paths of the five legacy chat backends (rest-compat.md), over the same domain as /graphql. Trailing slashes are optional.',
    },
    // No `jsonSchemaDialect`: its default (OAS 3.1 §4.8.1, the OAS base dialect: JSON Schema
    // 2020-12 plus `discriminator`, `xml`, `example`) covers every schema here, and Swagger UI
    // (/api/docs) shows a warning banner for any other value.
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error', 'detail'],
          properties: { error: { type: 'string' }, detail: { type: 'string' } },
        },
      },
    },
  };
}
