import express, { Router } from 'express';
// Only the asset folder's path: the package's index would also load its 1.5 MB browser bundle
// into the server (a quarter of a second of every cold start).
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS module without types: its one export, typed
import absolutePath = require('swagger-ui-dist/absolute-path.js');

/** The page: Swagger UI's assets from this server, the document from /api/openapi.json. */
const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Chat server REST API</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="stylesheet" href="/api/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="docs"></div>
  <script src="/api/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/api/docs/init.js"></script>
</body>
</html>
`;

/** Starts Swagger UI (a file of its own: the page's Content-Security-Policy allows no inline script). */
const INIT = `window.ui = SwaggerUIBundle({
  url: '/api/openapi.json',
  dom_id: '#docs',
  deepLinking: true,
  tryItOutEnabled: false,
  persistAuthorization: true,
  // Nothing from other origins: no badge that validates the document online.
  validatorUrl: null,
});
`;

/**
 * GET /api/docs: a browsable page of the REST layer's OpenAPI document (Swagger UI, every asset
 * served from the `swagger-ui-dist` package here: works on closed networks). "Authorize" takes
 * an access token (`Bearer <token>`), as every dialect does.
 */
export function restDocsRouter(): Router {
  const router = Router();
  const page = (_req: express.Request, res: express.Response) => {
    res.type('html').set('cache-control', 'no-cache').send(PAGE);
  };
  router.get('/', page);
  router.get('/init.js', (_req, res) => {
    res.type('application/javascript').set('cache-control', 'no-cache').send(INIT);
  });
  router.use('/assets', express.static(absolutePath(), { index: false, maxAge: '1d', fallthrough: false }));
  return router;
}
