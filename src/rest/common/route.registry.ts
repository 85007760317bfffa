import type { NextFunction, Request, Response, Router } from 'express';
import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import type { Actor, Scope } from '../../domain/shared/actor';
import { unauthenticated, type ErrorCode } from '../../domain/shared/errors';
import { validate } from '../../domain/shared/validate';
import type { Services } from '../../services';
import { authenticateRequest } from './auth.middleware';
import { RestError } from './rest-error';
import { parseMultipart, type FileFields } from './multipart.parser';
import { restLoaders, type RestLoaders } from './rest.loaders';
import { requestOrigin, type TrustFn } from '../../security/forwarded';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** What a route handler gets: services, this request's EntityManager fork, the actor, loaders. */
export interface RestContext {
  services: Services;
  em: EntityManager;
  /** Null only on routes with `auth: false`. */
  actor: Actor | null;
  /** The domain call scope. @throws UNAUTHENTICATED on a route without auth. */
  scope(): Scope;
  /** Read-only batch loaders for presenters (after the service call checked access). */
  loaders: RestLoaders;
  /** Absolute URL of this request (pagination links, absolute media URLs). */
  url: URL;
  /** The client's address (keys the failed-login limit, as GraphQL's context does). */
  ip: string;
}

/** A handler's answer: status and JSON body (none for 204/205). */
export interface RestResult {
  status: number;
  body?: unknown;
}

/**
 * A documented per-route answer for a domain error code: status and/or the seed's message; with
 * `field`, only for errors naming that domain input field.
 */
export interface ErrorOverride {
  status?: number;
  message?: string;
  field?: string;
}

/**
 * One REST route: where it lives, what it takes (zod schemas for path, query and body: they
 * validate the request and generate the OpenAPI document), what it answers, and the handler
 * (parse → one domain service call → presenter). Paths are express paths relative to `/api`,
 * without the trailing slash (both forms are served).
 */
export interface RouteDef<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  method: HttpMethod;
  path: string;
  /** The dialect (OpenAPI tag): "tokens", "seed 000", ... */
  tag: string;
  summary: string;
  description?: string;
  /** Default true: `Authorization: Bearer` required. */
  auth?: boolean;
  params?: P;
  query?: Q;
  body?: B;
  /**
   * File fields of a multipart body (`medias: 'many'`, `file: 'one'`); their schemas in `body`
   * use `uploadField`. A file in any other field is a 400 naming it.
   */
  files?: FileFields;
  /** Status → description and, when there is a body, its schema and an example (the seed document's own, where it shows one). */
  responses: Record<number, { description: string; schema?: z.ZodType; example?: unknown }>;
  /** An example request body (the seed document's own, where it shows one): OpenAPI and /api/docs. */
  bodyExample?: Record<string, unknown>;
  /** Per-route answers for domain error codes, where the seed documents its own. */
  errors?: Partial<Record<ErrorCode, ErrorOverride>>;
  /**
   * Domain refusals this route may answer besides invalid input and not found (OpenAPI):
   * FORBIDDEN, RATE_LIMITED, PAYLOAD_TOO_LARGE, ... (bodies also get 413 and 415 as such).
   */
  refusals?: ErrorCode[];
  /** Domain input field → this dialect's name, for the messages of 400s (`content` → `noi_dung`). */
  fieldNames?: Record<string, string>;
  handler(ctx: RestContext, input: { params: z.output<P>; query: z.output<Q>; body: z.output<B> }): Promise<RestResult>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRoute = RouteDef<any, any, any>;

type Empty = z.ZodObject<Record<never, never>>;

/** Declares a route (typed input from its schemas). Dialects export lists of these. */
export function defineRoute<P extends z.ZodType = Empty, Q extends z.ZodType = Empty, B extends z.ZodType = Empty>(def: RouteDef<P, Q, B>): AnyRoute {
  return def as AnyRoute;
}

/**
 * Absolute URL of a request as the client addressed it: behind a trusted proxy (TRUST_PROXY) its
 * X-Forwarded-Proto/-Host/-Port (src/security/forwarded.ts), so links survive the proxy.
 */
function absoluteUrl(req: Request): URL {
  const trust = (req.app.get('trust proxy fn') as TrustFn | undefined) ?? (() => false);
  const { proto, host } = requestOrigin(req, trust);
  return new URL(req.originalUrl, `${proto}://${host}`);
}

/**
 * Mounts routes on `router`: each checks auth, reads a multipart body (files only in the
 * route's `files`, under the domain's upload limits), validates path/query/body with its schemas
 * (400 naming the field), forks the EntityManager once, runs its handler and sends the result.
 * Every path also answers other methods with 405 and an `Allow` header.
 * @throws at start when two routes share a method and path.
 */
export function mountRoutes(router: Router, routes: AnyRoute[], services: Services, rootEm: EntityManager): void {
  const allowed = new Map<string, HttpMethod[]>();
  for (const route of routes) {
    const methods = allowed.get(route.path) ?? [];
    if (methods.includes(route.method)) throw new Error(`duplicate REST route ${route.method.toUpperCase()} ${route.path}`);
    allowed.set(route.path, [...methods, route.method]);
    router[route.method](route.path, async (req: Request, res: Response) => {
      res.locals.route = route;
      const em = rootEm.fork();
      const actor = route.auth === false ? null : await authenticateRequest(services, em, req);
      if (req.is('multipart/form-data')) req.body = await parseMultipart(req, res, route.files ?? {}, services.attachments.limits);
      const input = {
        params: route.params ? validate(route.params, req.params) : {},
        query: route.query ? validate(route.query, { ...(req.query as object) }) : {},
        body: route.body ? validate(route.body, req.body ?? {}) : {},
      };
      const ctx: RestContext = {
        services,
        em,
        actor,
        scope: () => {
          if (!actor) throw unauthenticated();
          return { actor, em };
        },
        loaders: restLoaders(em, actor?.id ?? null, services.userCache),
        url: absoluteUrl(req),
        ip: req.ip ?? 'unknown',
      };
      const result = await route.handler(ctx, input);
      if (result.body === undefined || result.status === 204 || result.status === 205) res.status(result.status).end();
      else res.status(result.status).json(result.body);
    });
  }
  for (const [path, methods] of allowed) {
    const allow = [...methods.map((m) => m.toUpperCase()), 'OPTIONS'].join(', ');
    router.options(path, (_req: Request, res: Response) => {
      res.setHeader('Allow', allow);
      res.status(204).end();
    });
    router.all(path, (req: Request, _res: Response, next: NextFunction) => {
      next(new RestError(405, `Method "${req.method}" not allowed.`, { Allow: allow }));
    });
  }
}
