import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { DATABASE_UNAVAILABLE_MESSAGE, DomainError, isDatabaseUnavailable, type ErrorCode } from '../../domain/shared/errors';
import type { AnyRoute } from './route.registry';
import { RestError } from './rest-error';
import { messageInDialect } from './field-names';

/**
 * The status each domain error code answers with in every dialect (rest-compat.md "Common").
 * CONFLICT (a username taken, a room full, a banned user added) is a 400 as the legacy DRF
 * backends answer such validation errors; no seed documents a 409.
 */
export const STATUS_OF: Record<ErrorCode, number> = {
  BAD_USER_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL_SERVER_ERROR: 500,
};

/** The error body of every dialect: `{"error": message, "detail": message}` (rest-compat.md). */
export function errorBody(error: string, detail: string = error): { error: string; detail: string } {
  return { error, detail };
}

/** What a body parser (express.json, busboy) throws: `status` and `type` as body-parser sets them. */
interface ParserError {
  status?: number;
  statusCode?: number;
  type?: string;
  message?: string;
  expose?: boolean;
}

/**
 * The error handler of the REST router, so an `/api` error never reaches the GraphQL-shaped
 * handler of app.ts. DomainError → its code's status (or the route's documented override, e.g.
 * seed 003 join: full or banned is 400), RestError → its status, malformed or oversized bodies →
 * 400/413/415, an unreachable database → 503 with `Retry-After`, anything else → 500 (logged; no internals in the body). 401 carries
 * `WWW-Authenticate: Bearer`, 429 `Retry-After`.
 */
export function restErrorHandler(logger: Logger) {
  return (err: unknown, _req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const route = res.locals.route as AnyRoute | undefined;
    let status: number;
    let message: string;
    let detail: string | undefined;
    if (err instanceof DomainError) {
      const candidate = route?.errors?.[err.code];
      const override = candidate && (!candidate.field || candidate.field === err.field) ? candidate : undefined;
      // The domain names its input fields; this dialect's name goes first in the message.
      const own = messageInDialect(err, route?.fieldNames);
      status = override?.status ?? STATUS_OF[err.code] ?? 500;
      message = override?.message ?? own;
      detail = own;
      if (err.code === 'UNAUTHENTICATED') res.setHeader('WWW-Authenticate', 'Bearer');
      if (err.code === 'RATE_LIMITED') res.setHeader('Retry-After', String((err as { retryAfterSec?: number }).retryAfterSec ?? 60));
    } else if (err instanceof RestError) {
      status = err.status;
      message = err.message;
      for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
    } else {
      const e = (err ?? {}) as ParserError;
      const s = e.status ?? e.statusCode;
      if (e.type === 'entity.parse.failed') {
        status = 400;
        message = `Malformed JSON: ${e.message ?? 'cannot parse the body'}`;
      } else if (e.type === 'entity.too.large') {
        status = 413;
        message = 'Request body too large';
      } else if (e.type === 'charset.unsupported' || e.type === 'encoding.unsupported') {
        status = 415;
        message = e.message ?? 'Unsupported body encoding';
      } else if (s && s >= 400 && s < 500) {
        status = s;
        message = e.message ?? 'Bad request';
      } else if (isDatabaseUnavailable(err)) {
        status = 503;
        message = DATABASE_UNAVAILABLE_MESSAGE;
        res.setHeader('Retry-After', '5');
        logger.warn({ err }, 'database unavailable'); // the err serializer cuts the SQL (src/logger.ts)
      } else {
        status = 500;
        message = 'Internal server error';
        logger.error({ err }, 'unhandled REST error');
      }
    }
    if (status >= 500 && err instanceof DomainError) logger.error({ err }, 'REST domain error');
    res.status(status).json(errorBody(message, detail ?? message));
  };
}
