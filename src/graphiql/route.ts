import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import express, { Router } from 'express';
import helmet from 'helmet';
import type { Config } from '../config/config';
import { requestOrigin, type TrustFn } from '../security/forwarded';

/** The bundle's two files, as scripts/build-graphiql.js writes them into dist/graphiql/. */
const ASSETS = { js: 'graphiql.js', css: 'graphiql.css' } as const;

/** A host header fit to appear in the Content-Security-Policy: a name or an IP literal, and a port. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/**
 * The project's root: the nearest folder, from `from` upwards, that holds a package.json. The
 * same from src/graphiql (ts-jest) and dist/src/graphiql (the tsc build, the container image).
 * @throws Error when no folder above `from` holds one.
 */
export function projectRoot(from: string = __dirname): string {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json in ${from} or any folder above it`);
  }
}

/** Where the GraphiQL bundle lives: <project root>/dist/graphiql. */
export function graphiqlAssetsDir(): string {
  return join(projectRoot(), 'dist', 'graphiql');
}

/** The built bundle: its files and a version (hash of both) that makes their URLs cacheable for good. */
interface Bundle {
  js: string;
  css: string;
  version: string;
}

/** Options for tests: another folder of assets (default {@link graphiqlAssetsDir}). */
export interface GraphiQLRouterOptions {
  assetsDir?: string;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(base: string, version: string): string {
  const b = escapeHtml(base);
  const v = encodeURIComponent(version);
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>GraphiQL · chat server</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="${b}/assets/${ASSETS.css}?v=${v}">
  <script defer src="${b}/assets/${ASSETS.js}?v=${v}"></script>
</head>
<body>
  <div id="graphiql-root" data-endpoint="${b}">Loading GraphiQL…</div>
  <noscript>GraphiQL needs JavaScript. The API itself is at ${b} (POST, or GET with ?query=).</noscript>
</body>
</html>
`;
}

/**
 * The GraphiQL page on GET /graphql (mount it there, before Apollo): a browser whose Accept
 * header prefers text/html over JSON gets the page; everything else (API clients' GET queries,
 * POSTs, WebSocket upgrades) passes on to the next handler. The page's script and stylesheet
 * are served from `<mount>/assets/graphiql.{js,css}` out of dist/graphiql/ (built by
 * `npm run build`, scripts/build-graphiql.js), so the page loads nothing from another origin,
 * and its Content-Security-Policy allows nothing else: 'self' (plus data: fonts and images,
 * which GraphiQL's CSS inlines) and, for connect-src, ws: and wss: of the page's own host.
 *
 * Cache headers: the page `no-cache`; assets requested with the current `?v=` (a hash of the
 * bundle, which the page puts in their URLs) for a year, `immutable`; other asset requests
 * `no-cache` (with ETag). The bundle is looked up at each request: building it while the
 * server runs is enough.
 *
 * With `config.graphiql` false (production unless GRAPHIQL=true) the router is empty.
 * Without the bundle, the page and the assets answer 503 with a text saying to run `npm run build`.
 */
export function graphiqlRouter(config: Pick<Config, 'graphiql'>, options: GraphiQLRouterOptions = {}): Router {
  const router = Router();
  if (!config.graphiql) return router;
  // Only GET and HEAD are this router's: leave it at once otherwise, so that a CORS preflight
  // (OPTIONS) reaches the cors middleware behind it instead of Express's automatic OPTIONS answer.
  router.use((req, _res, next) => next(req.method === 'GET' || req.method === 'HEAD' ? undefined : 'router'));
  const dir = options.assetsDir ?? graphiqlAssetsDir();
  let cached: { key: string; bundle: Bundle } | undefined;

  /** The bundle as it is on disk now (re-hashed when a file changed), or null when a file is missing. */
  const bundle = (): Bundle | null => {
    const js = join(dir, ASSETS.js);
    const css = join(dir, ASSETS.css);
    let key: string;
    try {
      key = [js, css]
        .map((f) => {
          const s = statSync(f);
          return `${s.size}:${s.mtimeMs}`;
        })
        .join('|');
    } catch {
      return null;
    }
    if (cached?.key !== key) {
      const version = createHash('sha256').update(readFileSync(js)).update(readFileSync(css)).digest('hex').slice(0, 16);
      cached = { key, bundle: { js, css, version } };
    }
    return cached.bundle;
  };

  const missing = (res: express.Response) => {
    res
      .status(503)
      .type('text/plain')
      .set('cache-control', 'no-store')
      .send(
        `GraphiQL is not built: ${join(dir, ASSETS.js)} or ${ASSETS.css} is missing.\n` +
          'Run `npm run build` (or `node scripts/build-graphiql.js`) and reload this page.\n' +
          'The GraphQL API itself works: POST /graphql, or GET /graphql?query=... with Accept: application/json.\n',
      );
  };

  // The hardening headers helmet gives the rest of the server, with this page's own policy.
  const headers = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: [
          "'self'",
          (req) => {
            // The host the browser addressed: behind a trusted proxy (TRUST_PROXY) its X-Forwarded-Host/-Port.
            const trust = ((req as express.Request).app?.get('trust proxy fn') as TrustFn | undefined) ?? (() => false);
            const host = requestOrigin(req, trust).host;
            return host && HOST.test(host) ? `ws://${host} wss://${host}` : '';
          },
        ],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
  });

  /** True when the client prefers an HTML page to a GraphQL response (a browser's address bar). */
  const wantsPage = (req: express.Request) => req.accepts(['application/json', 'application/graphql-response+json', 'text/html']) === 'text/html';

  router.get('/', (req, res, next) => {
    if (!wantsPage(req)) {
      next();
      return;
    }
    headers(req, res, (err?: unknown) => {
      if (err) {
        next(err);
        return;
      }
      res.vary('accept');
      const b = bundle();
      if (!b) {
        missing(res);
        return;
      }
      res.status(200).type('html').set('cache-control', 'no-cache').send(page(req.baseUrl, b.version));
    });
  });

  router.get(`/assets/:file`, headers, (req, res, next) => {
    const name = req.params.file;
    if (name !== ASSETS.js && name !== ASSETS.css) {
      res.status(404).type('text/plain').send('Not found\n');
      return;
    }
    const b = bundle();
    if (!b) {
      missing(res);
      return;
    }
    const current = req.query.v === b.version;
    res.set('cache-control', current ? 'public, max-age=31536000, immutable' : 'no-cache');
    res.sendFile(name === ASSETS.js ? b.js : b.css, { cacheControl: false, dotfiles: 'deny' }, (err) => {
      if (err && !res.headersSent) next(err);
    });
  });

  return router;
}
