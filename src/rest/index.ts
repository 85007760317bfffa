import { Router, type NextFunction, type Request, type Response } from 'express';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Services } from '../services';
import { bodyParsers } from './common/body.middleware';
import { restErrorHandler } from './common/errors.middleware';
import { RestError } from './common/rest-error';
import { buildOpenApi } from './common/openapi.builder';
import { defineRoute, mountRoutes, type AnyRoute } from './common/route.registry';
import { sharedRoutes } from './conflicts/routes';
import { directRoutes } from './d000-direct/routes';
import { groupRoutes } from './d001-groups/routes';
import { deviceRoutes, supportRoutes } from './d002-support/routes';
import { roomRoutes } from './d003-rooms/routes';
import { conversationRoutes } from './d004-conversations/routes';
import { tokenRoutes } from './tokens/routes';

/** What the REST compatibility layer needs from the server. */
export interface RestDeps {
  services: Services;
  /** The root EntityManager: fork it once per request. */
  rootEm: EntityManager;
  logger: Logger;
}

/**
 * Every REST route, in one registry: the router mounts these and the OpenAPI document is built
 * from them, so a route cannot be served without being documented.
 */
export function restRoutes(): AnyRoute[] {
  const routes: AnyRoute[] = [
    ...tokenRoutes,
    ...directRoutes,
    ...groupRoutes,
    ...supportRoutes,
    ...deviceRoutes,
    ...roomRoutes,
    ...conversationRoutes,
    ...sharedRoutes,
  ];
  let document: unknown;
  routes.push(
    defineRoute({
      method: 'get',
      path: '/openapi.json',
      tag: 'meta',
      auth: false,
      summary: 'This document: OpenAPI 3.1 of the whole REST layer',
      responses: { 200: { description: 'The OpenAPI document' } },
      async handler() {
        document ??= buildOpenApi(routes);
        return { status: 200, body: document };
      },
    }),
  );
  return routes;
}

/**
 * The REST compatibility layer (rest-compat.md): every documented `/api/...` path of the five
 * legacy backends, mounted under `/api`, as thin adapters over the domain services. Trailing
 * slashes are optional; unknown paths answer 404 and every error `{"error","detail"}` from this
 * router's own error handler (never app.ts's GraphQL-shaped one).
 */
export function restRouter(deps: RestDeps): Router {
  const router = Router();
  router.use(bodyParsers());
  mountRoutes(router, restRoutes(), deps.services, deps.rootEm);
  router.use((req: Request, _res: Response, next: NextFunction) =>
    next(new RestError(404, `No such endpoint: ${req.method} ${req.originalUrl.split('?')[0]}`)),
  );
  router.use(restErrorHandler(deps.logger));
  return router;
}
