import busboy from 'busboy';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { badInput } from '../../domain/shared/errors';
import { RestError } from './errors.middleware';

/** Limits of the text-only multipart parser. */
const MULTIPART_LIMITS = { fields: 200, fieldSize: 1024 * 1024, parts: 200, fieldNameSize: 200 };

/** Adds a field to a body object; a repeated key (`members: 1`, `members: 2`) becomes a list. */
function put(body: Record<string, unknown>, key: string, value: string): void {
  if (!(key in body)) body[key] = value;
  else if (Array.isArray(body[key])) (body[key] as unknown[]).push(value);
  else body[key] = [body[key], value];
}

/**
 * Parses `multipart/form-data` text fields into `req.body` (repeated keys are lists: seed 001
 * `members`). File parts are refused with 400 naming their field for now: uploads (seed 001
 * `medias`, seed 004 `file`) come with the attachment endpoints.
 */
export function multipartText(): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    if (!req.is('multipart/form-data')) { next(); return; }
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: MULTIPART_LIMITS });
    } catch (err) {
      next(badInput(`Malformed multipart body: ${(err as Error).message}`));
      return;
    }
    const body: Record<string, unknown> = {};
    let failed: Error | null = null;
    let finished = false;
    const fail = (err: Error) => { if (!failed) failed = err; };
    const finish = () => {
      if (finished) return;
      finished = true;
      if (failed) { next(failed); return; }
      req.body = body;
      next();
    };
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) fail(new RestError(413, `${name}: field too large`));
      else put(body, name, value);
    });
    parser.on('file', (name, stream) => {
      stream.resume();
      fail(badInput(`${name}: file uploads are not accepted on this endpoint yet`, name));
    });
    parser.on('fieldsLimit', () => fail(new RestError(413, 'Too many fields')));
    parser.on('partsLimit', () => fail(new RestError(413, 'Too many parts')));
    parser.on('error', (err: Error) => {
      fail(badInput(`Malformed multipart body: ${err.message}`));
      req.unpipe(parser);
      req.resume();
      finish();
    });
    parser.on('close', finish);
    req.pipe(parser);
  };
}

/** True when the request carries a body (Content-Length > 0 or chunked). */
function hasBody(req: Request): boolean {
  return Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
}

/**
 * The body parsers of the REST layer: JSON (1 MB; malformed → 400), urlencoded and multipart text
 * fields (as Django REST framework accepts all three); any other media type with a body → 415.
 */
export function bodyParsers(): RequestHandler[] {
  return [
    express.json({ limit: '1mb', strict: false }),
    express.urlencoded({ extended: false, limit: '1mb' }),
    multipartText(),
    (req, _res, next) => {
      if (req.body === undefined && hasBody(req) && req.headers['content-type']) {
        next(new RestError(415, `Unsupported media type "${req.headers['content-type']}"; send application/json or multipart/form-data`));
        return;
      }
      next();
    },
  ];
}
