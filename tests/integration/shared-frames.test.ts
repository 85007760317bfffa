import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { SocketGate, type SocketGateDeps } from '../../src/realtime/transports/socket-gate';

/**
 * SocketGate.sendEnvelope writes a prepared WebSocket frame (its own header, the socket's prefix,
 * a payload encoded once for every socket) through `ws`'s sender: a real `ws` server and client
 * check every header length of RFC 6455 §5.2 (7-bit, 16-bit, 64-bit), multi-byte UTF-8, the order
 * with ordinary sends, and that many sockets get the same payload intact.
 */
describe('shared frames (issue 35)', () => {
  let wss: WebSocketServer;
  let url: string;
  const gate = new SocketGate({ config: { ws: { maxBufferedBytes: 64 * 1024 * 1024 } } } as unknown as SocketGateDeps);

  beforeAll(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await once(wss, 'listening');
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => wss.close(r));
  });

  /** Opens `n` clients; resolves with each client's received frames (text) and the server's sockets. */
  async function pair(n: number) {
    const server: WebSocket[] = [];
    const onConn = (s: WebSocket) => server.push(s);
    wss.on('connection', onConn);
    const clients = await Promise.all(
      Array.from({ length: n }, async () => {
        const ws = new WebSocket(url);
        const got: string[] = [];
        ws.on('message', (d, isBinary) => {
          expect(isBinary).toBe(false);
          got.push(String(d));
        });
        await once(ws, 'open');
        return { ws, got };
      }),
    );
    while (server.length < n) await new Promise((r) => setTimeout(r, 5));
    wss.off('connection', onConn);
    return { server, clients };
  }

  test('every header length and multi-byte text arrive exactly, in order with ordinary sends', async () => {
    const { server, clients } = await pair(1);
    const payloads = [
      '{"a":1}', // 7-bit length
      JSON.stringify({ s: 'é'.repeat(200) }), // 16-bit length, 2-byte characters
      JSON.stringify({ s: '😀'.repeat(20_000) }), // 64-bit length (80,000+ bytes), 4-byte characters
      JSON.stringify({ s: 'x'.repeat(125 - '{"id":"1","p":'.length - '}'.length - '{"s":""}'.length) }), // exactly 125 bytes in all
      JSON.stringify({ s: 'y'.repeat(65_535 - '{"id":"1","p":'.length - '}'.length - '{"s":""}'.length) }), // exactly 65,535
    ];
    const expected: string[] = [];
    for (const p of payloads) {
      gate.sendEnvelope(server[0], '{"id":"1","p":', p, '}');
      expected.push(`{"id":"1","p":${p}}`);
      gate.send(server[0], 'plain');
      expected.push('plain');
    }
    while (clients[0].got.length < expected.length) await new Promise((r) => setTimeout(r, 5));
    expect(clients[0].got).toEqual(expected);
    expect(Buffer.byteLength(expected[6])).toBe(125);
    expect(Buffer.byteLength(expected[8])).toBe(65_535);
    for (const c of clients) c.ws.terminate();
  });

  test('one payload to many sockets, each with its own prefix, several in one turn', async () => {
    const { server, clients } = await pair(20);
    const payload = JSON.stringify({ data: { messageAdded: { content: 'héllo wörld ✓' } } });
    server.forEach((s, i) => {
      gate.sendEnvelope(s, `{"id":"op-${i}","type":"next","payload":`, payload, '}');
      gate.sendEnvelope(s, `{"id":"op-${i}","type":"next","payload":`, '{"second":true}', '}');
    });
    await Promise.all(
      clients.map(async (c) => {
        while (c.got.length < 2) await new Promise((r) => setTimeout(r, 5));
      }),
    );
    clients.forEach((c, i) => {
      expect(c.got).toEqual([`{"id":"op-${i}","type":"next","payload":${payload}}`, `{"id":"op-${i}","type":"next","payload":{"second":true}}`]);
      expect(JSON.parse(c.got[0]).payload.data.messageAdded.content).toBe('héllo wörld ✓');
    });
    for (const c of clients) c.ws.terminate();
  });

  test('a closed socket gets nothing and nothing throws', async () => {
    const { server, clients } = await pair(1);
    clients[0].ws.terminate();
    await once(server[0], 'close');
    expect(() => gate.sendEnvelope(server[0], '{"id":"1","p":', '{}', '}')).not.toThrow();
  });
});
