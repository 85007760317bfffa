import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { Router } from 'express';
import helmet from 'helmet';
import type { Config } from '../config/config';
import { projectRoot } from '../graphiql/route';

/** A host header fit to appear in the Content-Security-Policy: a name or an IP literal, and a port. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/** Where `npm run demo` builds the web client (examples/web, Vite): <project root>/dist/web. */
export function demoAssetsDir(): string {
  return join(projectRoot(), 'dist', 'web');
}

/** Options for tests: another folder holding the built client (default {@link demoAssetsDir}). */
export interface DemoRouterOptions {
  assetsDir?: string;
}

/**
 * The demo web client (examples/web, issue 30) on `/demo`, for development only: with
 * `config.nodeEnv` = production the router is empty (404 from what follows), whatever is built.
 * It serves the Vite build in dist/web/ as static files: index.html `no-cache`, the
 * content-hashed files under assets/ for a year (`immutable`). Without a build, GET answers 503
 * with a text saying to run `npm run demo`. The build is looked up at each request, so building
 * while the server runs is enough.
 *
 * Content-Security-Policy: everything from this origin only ('self'), plus blob: images (the
 * previews of files chosen for sending), data: images, the origin of PUBLIC_URL for media
 * links, and ws:/wss: of the page's own host for graphql-ws.
 */
export function demoRouter(config: Pick<Config, 'nodeEnv' | 'publicUrl'>, options: DemoRouterOptions = {}): Router {
  const router = Router();
  if (config.nodeEnv === 'production') return router;
  const dir = options.assetsDir ?? demoAssetsDir();
  let mediaOrigin: string[] = [];
  try {
    if (config.publicUrl) mediaOrigin = [new URL(config.publicUrl).origin];
  } catch {
    /* not a URL: 'self' only */
  }

  router.use(
    (req, _res, next) => next(req.method === 'GET' || req.method === 'HEAD' ? undefined : 'router'),
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:', 'blob:', ...mediaOrigin],
          mediaSrc: ["'self'", 'blob:', ...mediaOrigin],
          connectSrc: [
            "'self'",
            (req) => {
              const host = req.headers.host;
              return host && HOST.test(host) ? `ws://${host} wss://${host}` : '';
            },
          ],
          objectSrc: ["'none'"],
          baseUri: ["'none'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
        },
      },
    }),
    (_req, res, next) => {
      if (existsSync(join(dir, 'index.html'))) {
        next();
        return;
      }
      res
        .status(503)
        .type('text/plain')
        .set('cache-control', 'no-store')
        .send(
          `The demo web client is not built: ${join(dir, 'index.html')} is missing.\n` +
            'Run `npm run demo` (builds examples/web and starts the server), then reload this page.\n',
        );
    },
  );
  router.use('/assets', express.static(join(dir, 'assets'), { immutable: true, maxAge: '365d', index: false, fallthrough: false }));
  router.use(express.static(dir, { index: 'index.html', setHeaders: (res) => res.setHeader('cache-control', 'no-cache') }));
  return router;
}
