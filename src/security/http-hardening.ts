import type { Server } from 'node:http';
import type { ApolloServerPlugin } from '@apollo/server';
import type { CorsOptions } from 'cors';
import helmet from 'helmet';
import type { RequestHandler } from 'express';
import type { Config } from '../config/config';

/**
 * CORS for /graphql from CORS_ORIGINS: `*` allows any origin without credentials (the browser
 * sends no cookies; tokens travel in the Authorization header anyway); a list allows exactly
 * those origins, with credentials. An origin is never reflected blindly with credentials.
 * X-Request-Id is exposed to browser code. Production has no default (src/config/config.ts).
 */
export function corsOptions(origins: readonly string[]): CorsOptions {
  const any = origins.includes('*');
  return {
    origin: any ? '*' : [...origins],
    credentials: !any,
    // Browser code may read the request id (src/app.ts), to quote it in a bug report (issue 30).
    exposedHeaders: ['X-Request-Id'],
    // Preflights are cached by the browser for 10 minutes.
    maxAge: 600,
  };
}

/** helmet's defaults (CSP, HSTS, nosniff, frame-ancestors, referrer policy, COOP/CORP, ...) for the REST layer (JSON only). */
export function apiHeaders(): RequestHandler {
  return helmet();
}

/**
 * Headers for /media downloads: helmet's defaults, except that other origins may embed the files
 * (`<img src>` of a signed URL from a chat app on another origin needs
 * Cross-Origin-Resource-Policy: cross-origin). The route sets its own stricter CSP and nosniff.
 */
export function mediaHeaders(): RequestHandler {
  return helmet({ crossOriginResourcePolicy: { policy: 'cross-origin' } });
}

/**
 * Headers for /graphql's API answers: helmet's defaults. The GraphiQL page (src/graphiql/route.ts)
 * answers before them with its own strict policy; nothing loads from another origin.
 */
export function graphqlHeaders(): RequestHandler {
  return helmet();
}

/** A Cache-Control value Apollo's cache-control plugin understood (`max-age=<s>, public|private`, or `no-store`). */
const APOLLO_CACHE_CONTROL = /^(no-store|max-age=\d+, (public|private))$/;

/**
 * `Cache-Control: no-store` on every GraphQL response that goes through Apollo's request pipeline
 * (results and GraphQL errors; not refusals before it such as CSRF or a malformed body), exactly
 * what Apollo's default cache-control plugin set here: no type or field of this schema carries a
 * `@cacheControl` hint and no resolver sets one, so no response was ever cacheable. That plugin
 * also wrapped every resolver of the schema (HTTP and graphql-ws share it) to run a
 * `willResolveField` hook on every field of every result, computing hints nobody gives; it is
 * turned off (`ApolloServerPluginCacheControlDisabled`) and this sets the header alone. Like
 * Apollo, a Cache-Control another plugin set in a form it could not parse is left as it is.
 * Cache hints in the schema would need the plugin back.
 */
export function graphqlNoStore<T extends object>(): ApolloServerPlugin<T> {
  const listener = {
    async willSendResponse({ response }: { response: { http: { headers: Map<string, string> } } }) {
      const given = response.http.headers.get('cache-control');
      if (given === undefined || APOLLO_CACHE_CONTROL.test(given)) response.http.headers.set('cache-control', 'no-store');
    },
  };
  return {
    async requestDidStart() {
      return listener;
    },
  };
}

/** Options for `http.createServer`: Node checks its request timeouts this often (ms). */
export function serverOptions(http: Config['http']): { connectionsCheckingInterval: number } {
  const shortest = Math.min(http.headersTimeoutMs, http.requestTimeoutMs);
  return { connectionsCheckingInterval: Math.min(30000, Math.max(100, Math.floor(shortest / 4))) };
}

/**
 * Applies HTTP_HEADERS_TIMEOUT_MS (slowloris: the request line and headers must arrive within it),
 * HTTP_REQUEST_TIMEOUT_MS (the whole request, body included) and HTTP_KEEP_ALIVE_TIMEOUT_MS (an
 * idle kept-alive connection is closed after it). WebSocket upgrades leave the HTTP server and
 * are not affected.
 */
export function applyServerTimeouts(server: Server, http: Config['http']): void {
  server.headersTimeout = http.headersTimeoutMs;
  server.requestTimeout = http.requestTimeoutMs;
  server.keepAliveTimeout = http.keepAliveTimeoutMs;
}
