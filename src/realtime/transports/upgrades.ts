import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';

/**
 * One WebSocket endpoint: the upgrades whose path `matches` go to `server` (a `noServer`
 * WebSocketServer), or to `handle` (an endpoint that upgrades by itself: Socket.IO's engine).
 */
export type UpgradeRoute =
  | { matches(pathname: string): boolean; server: WebSocketServer }
  | { matches(pathname: string): boolean; handle(req: IncomingMessage, socket: Duplex, head: Buffer): void };

/** The path of a request URL, without its query string. */
export function pathnameOf(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q >= 0 ? u.slice(0, q) : u;
}

/**
 * The one `upgrade` listener of the HTTP server: each upgrade goes to the first route whose path
 * matches, else to `fallback` (the /graphql server, whose own `path` option refuses any other
 * path with 400, as when it was the only server). Two `ws` servers attached with `server` +
 * `path` would each see every upgrade and abort the other's (ws's `shouldHandle`). Returns the
 * function that removes the listener.
 */
export function routeUpgrades(httpServer: Server, routes: readonly UpgradeRoute[], fallback: WebSocketServer): () => void {
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const pathname = pathnameOf(req.url);
    const route = routes.find((r) => r.matches(pathname));
    if (route && 'handle' in route) {
      route.handle(req, socket, head);
      return;
    }
    const server = route?.server ?? fallback;
    server.handleUpgrade(req, socket, head, (ws) => server.emit('connection', ws, req));
  };
  httpServer.on('upgrade', onUpgrade);
  return () => {
    httpServer.off('upgrade', onUpgrade);
  };
}
