import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { stdSerializers, type Logger } from 'pino';

/** What {@link requestLog} needs from the server. */
export interface RequestLogOptions {
  logger: Logger;
  /** This request's id (also sent back as X-Request-Id by the caller's function). */
  genReqId(req: IncomingMessage, res: ServerResponse): string;
  /** Requests that get no line (health checks, scrapes): given the URL as it arrived. */
  ignore(url: string): boolean;
  /** The URL as logged (no secrets, no path parameters), from the URL as it arrived. */
  url(url: string): string;
  /** Fields added to the line when the request ends (client address, user, operation, route); undefined ones are left out. */
  fields(req: Request, res: Response): Record<string, unknown>;
}

/**
 * Express middleware: one log line per request when its response has finished (or its connection
 * closed first), at info, the same line pino-http wrote here before (issue 35: pino-http built a
 * child logger per request, serializing the whole request and its headers, and the response's
 * headers at the end, whether or not the line was written):
 * `{"req":{"id","method","url"},"res":{"statusCode"},"responseTime":<ms>,...fields,"msg":"request completed"}` (statusCode null when nothing was sent);
 * "request aborted" when the client left before the response ended; "request errored" with `err`
 * (pino's standard error serializer) for a status of 500 or more or a response stream error.
 * Every request gets `req.id` from `genReqId`; ignored ones are logged only on a stream error.
 */
export function requestLog(opts: RequestLogOptions) {
  const { logger } = opts;
  return (req: Request, res: Response, next: NextFunction): void => {
    const id = opts.genReqId(req, res);
    (req as { id?: unknown }).id = id;
    const url = req.url;
    const method = req.method;
    const started = Date.now();
    // Node reads a socket's peer address once and keeps it: read now, so that a request whose
    // client has gone when it ends still logs its address (`ip`).
    void req.socket?.remoteAddress;
    const logged = !opts.ignore(url);
    let done = false;
    const finished = (err?: Error): void => {
      if (done) return;
      done = true;
      res.removeListener('close', finished);
      res.removeListener('finish', finished);
      res.removeListener('error', finished);
      if (!logger.isLevelEnabled('info')) return;
      const responseTime = Date.now() - started;
      const line = { id, method, url: opts.url(url) };
      // No status was sent yet when the client left first.
      const status = { statusCode: res.headersSent ? res.statusCode : null };
      if (err || res.statusCode >= 500) {
        const error = err ?? new Error(`failed with status code ${res.statusCode}`);
        logger.info({ req: line, res: status, err: stdSerializers.err(error), responseTime, ...opts.fields(req, res) }, 'request errored');
        return;
      }
      logger.info(
        { req: line, res: status, responseTime, ...opts.fields(req, res) },
        !req.readableAborted && res.writableEnded ? 'request completed' : 'request aborted',
      );
    };
    if (logged) {
      res.on('close', finished);
      res.on('finish', finished);
    }
    res.on('error', finished);
    next();
  };
}
