import WebSocket from 'ws';

/** One user's graphql-transport-ws socket that runs queries and mutations (see {@link openOperationSocket}). */
export interface OperationSocket {
  /** Runs one operation as a `subscribe` message and resolves with its `data` at `complete`. @throws on an `error` message, GraphQL errors or the socket closing first. */
  run(query: string, variables?: Record<string, unknown>): Promise<unknown>;
  /** Closes the socket (code 1000) and waits for it to be closed. */
  close(): Promise<void>;
}

/**
 * Opens a graphql-transport-ws socket to `wsUrl` as the user of `token` (raw `ws`: the least a
 * client does, so the load generator takes little of the shared CPU) and resolves once the
 * server acknowledged it. Operations on it are told apart by id, so several may be in flight.
 * @throws when the socket closes or fails before `connection_ack`, or no ack comes in 10 s.
 */
export function openOperationSocket(wsUrl: string, token: string): Promise<OperationSocket> {
  const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
  const pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void; data?: unknown; errors?: unknown }>();
  let next = 0;
  let closed: Error | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no connection_ack within 10 s')), 10_000);
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    socket.on('message', (raw) => {
      const msg = JSON.parse(String(raw)) as { id?: string; type: string; payload?: unknown };
      if (msg.type === 'connection_ack') {
        clearTimeout(timer);
        resolve();
        return;
      }
      if (msg.type === 'ping') {
        socket.send(JSON.stringify({ type: 'pong' }));
        return;
      }
      const op = msg.id === undefined ? undefined : pending.get(msg.id);
      if (!op) return;
      if (msg.type === 'next') {
        const result = msg.payload as { data?: unknown; errors?: unknown };
        op.data = result.data;
        if (result.errors) op.errors = result.errors;
      } else if (msg.type === 'error' || msg.type === 'complete') {
        pending.delete(msg.id!);
        const errors = msg.type === 'error' ? msg.payload : op.errors;
        if (errors) op.reject(new Error(JSON.stringify(errors)));
        else op.resolve(op.data);
      }
    });
    socket.on('close', (code, reason) => {
      clearTimeout(timer);
      closed = new Error(`socket closed: ${code} ${String(reason)}`);
      reject(closed);
      for (const op of pending.values()) op.reject(closed);
      pending.clear();
    });
    socket.on('error', (err) => reject(err));
  });
  const run = (query: string, variables?: Record<string, unknown>) =>
    new Promise<unknown>((resolve, reject) => {
      if (closed) return reject(closed);
      const id = String(++next);
      pending.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
    });
  const close = () =>
    new Promise<void>((resolve) => {
      if (socket.readyState === WebSocket.CLOSED) return resolve();
      socket.once('close', () => resolve());
      socket.close(1000);
    });
  return ready.then(() => ({ run, close }));
}
