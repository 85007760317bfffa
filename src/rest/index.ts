import { Router } from 'express';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Services } from '../services';

/** What the REST compatibility layer needs from the server. */
export interface RestDeps {
  services: Services;
  /** The root EntityManager: fork it once per request. */
  rootEm: EntityManager;
  logger: Logger;
}

/**
 * The REST compatibility layer (rest-compat.md): every documented `/api/...` path of the five
 * legacy backends, mounted under `/api`, as thin adapters over the domain services.
 */
export function restRouter(_deps: RestDeps): Router {
  const router = Router();
  return router;
}
