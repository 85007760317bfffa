import type { Request } from 'express';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor } from '../../domain/shared/actor';
import { unauthenticated } from '../../domain/shared/errors';
import { bearer } from '../../security/bearer';
import type { Services } from '../../services';

/**
 * Authenticates a REST request from `Authorization: Bearer <access JWT>` (the same tokens as
 * GraphQL, checked by AuthService.authenticate). Every dialect requires it except the token
 * endpoints.
 * @throws UNAUTHENTICATED (401 `{"error","detail"}`) when the header is missing, malformed or the token is bad.
 */
export async function authenticateRequest(services: Services, em: EntityManager, req: Request): Promise<Actor> {
  const header = req.headers.authorization;
  if (!header) throw unauthenticated('Authentication credentials were not provided.');
  const token = bearer(header);
  if (!token) throw unauthenticated('Authorization header must be "Bearer <access token>"');
  const actor = await services.auth.authenticate(em, token);
  // The request log names the user (src/app.ts, pino-http customProps).
  if (req.res) req.res.locals.userId = actor.id;
  return actor;
}
