import express, { type Request, type RequestHandler } from 'express';
import { RestError } from './rest-error';

/** True when the request carries a body (Content-Length > 0 or chunked). */
function hasBody(req: Request): boolean {
  return Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
}

/**
 * The body parsers of the REST layer: JSON (1 MB; malformed → 400) and urlencoded, as Django REST
 * framework accepts them; multipart is read per route (route.registry: files only where the route
 * takes them); any other media type with a body → 415.
 */
export function bodyParsers(): RequestHandler[] {
  return [
    express.json({ limit: '1mb', strict: false }),
    express.urlencoded({ extended: false, limit: '1mb' }),
    (req, _res, next) => {
      if (req.body === undefined && hasBody(req) && req.headers['content-type'] && !req.is('multipart/form-data')) {
        next(new RestError(415, `Unsupported media type "${req.headers['content-type']}"; send application/json or multipart/form-data`));
        return;
      }
      next();
    },
  ];
}
