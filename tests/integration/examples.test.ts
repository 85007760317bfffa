/**
 * The frontend examples (issue 15): the committed codegen output in examples/gql/ matches the
 * schema and operations, the examples type-check as browser code, and both example clients
 * (Apollo Client 4 and urql) work against a real server: register and log in, open a
 * conversation, receive each other's messages over graphql-ws, list conversations, and upload a
 * PNG as a GraphQL multipart request.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import WebSocket from 'ws';
import { createApolloChatClient, type ApolloChatClient } from '../../examples/apollo-client';
import type { MessageFieldsFragment } from '../../examples/gql/graphql';
import { createUrqlChatClient, type UrqlChatClient } from '../../examples/urql-client';
import { startTestServer, type TestServer } from '../support/test-server';

const ROOT = join(__dirname, '..', '..');
const run = promisify(execFile);
/** Runs a local CLI through npx (never installing); rejects with its output when it fails. */
async function npx(args: string[], timeout: number): Promise<void> {
  try {
    // `--` so npx/npm do not take the CLI's flags as their own (`-p` is npx's --package, `--config` an npm option).
    await run('npx', ['--no', '--', ...args], { cwd: ROOT, timeout, env: { ...process.env, FORCE_COLOR: '0' } });
  } catch (e) {
    const { stdout = '', stderr = '' } = e as { stdout?: string; stderr?: string };
    throw new Error(`npx ${args.join(' ')} failed: ${(e as Error).message}\n${stdout}\n${stderr}`, { cause: e });
  }
}

describe('generated code', () => {
  test('examples/gql/ is what `npm run codegen` produces from the committed schema', async () => {
    // --check: a dry run that fails when the output would change (schema or operations edited without regenerating).
    await npx(['graphql-codegen', '--config', 'codegen.ts', '--check'], 60_000);
  }, 70_000);

  test('the examples, the web client and the generated code type-check (tsc --strict, DOM lib)', async () => {
    await npx(['tsc', '-p', 'examples/tsconfig.json'], 120_000);
  }, 130_000);

  test("the web client's Vite settings type-check as Node code", async () => {
    await npx(['tsc', '-p', 'examples/web/tsconfig.node.json'], 60_000);
  }, 70_000);
});

describe('example clients against a real server', () => {
  let server: TestServer;
  let apollo: ApolloChatClient;
  let urql: UrqlChatClient;
  beforeAll(async () => {
    server = await startTestServer();
    const options = { httpUrl: server.url, wsUrl: server.wsUrl, webSocketImpl: WebSocket };
    apollo = createApolloChatClient(options);
    urql = createUrqlChatClient(options);
  });
  afterAll(async () => {
    await apollo?.dispose();
    await urql?.dispose();
    await server?.close();
  });

  /**
   * Resolves once `userId` watches `conversationId` live, i.e. the server has registered the
   * messageAdded subscription (graphql-ws sends no acknowledgement of a subscribe). Polls the
   * server's watcher registry: a condition, not a fixed sleep.
   */
  async function watching(userId: string, conversationId: string, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ids = await server.services.watchers.watchersOf(Number(conversationId), [Number(userId)]);
      if (ids.includes(Number(userId))) return;
      if (Date.now() > deadline) throw new Error(`user ${userId} never subscribed to conversation ${conversationId}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** What both clients agree on about a message (their caches differ in adding __typename). */
  const core = (m: MessageFieldsFragment) => ({
    id: m.id,
    seq: m.seq,
    conversationId: m.conversationId,
    content: m.content,
    sender: m.sender && { id: m.sender.id, username: m.sender.username },
  });

  const password = 'correct-horse-battery';
  let pairs = 0;
  /**
   * What every test starts from, made through the example clients themselves: a new Alice
   * registered and logged in with Apollo Client, a new Bob with urql (each client then holds its
   * user's token), and their DIRECT chat, opened by Alice. The first test checks each step.
   */
  async function aliceAndBob() {
    const n = ++pairs;
    const names = { alice: `ex_alice${n}_${process.pid}`, bob: `ex_bob${n}_${process.pid}` };
    const registered = await apollo.register({ username: names.alice, password });
    await urql.register({ username: names.bob, password, firstName: 'Bob' });
    // Logging in again replaces each client's token.
    const alice = (await apollo.login(names.alice, password)).user;
    const bob = (await urql.login(names.bob, password)).user;
    const direct = await apollo.openDirectChat(names.bob);
    return { names, registered, alice, bob, direct, conversationId: direct.id };
  }

  test('register and log in: Alice with Apollo Client, Bob with urql', async () => {
    const { names, registered, alice, bob, direct } = await aliceAndBob();
    expect(registered.user.username).toBe(names.alice);
    expect(alice.id).toBe(registered.user.id);
    // Both clients' caches add __typename to every selection.
    expect(bob).toEqual({ __typename: 'User', id: expect.any(String), username: names.bob, fullName: 'Bob' });
    expect(direct).toMatchObject({ id: expect.any(String), kind: 'DIRECT', title: 'Bob' });
  });

  test('Apollo subscription (graphql-ws) receives the message Bob sends with urql', async () => {
    const { names, alice, bob, conversationId } = await aliceAndBob();
    const received = apollo.firstMessage(conversationId);
    await watching(alice.id, conversationId);
    const sent = await urql.sendMessage(conversationId, 'hello from urql');
    expect(core(await received)).toEqual({ ...core(sent), content: 'hello from urql', sender: { id: bob.id, username: names.bob } });
  });

  test('urql subscription (graphql-ws) receives the message Alice sends with Apollo Client', async () => {
    const { names, alice, bob, conversationId } = await aliceAndBob();
    const received = urql.firstMessage(conversationId);
    await watching(bob.id, conversationId);
    const sent = await apollo.sendMessage(conversationId, 'hello from apollo');
    expect(core(await received)).toEqual({ ...core(sent), content: 'hello from apollo', sender: { id: alice.id, username: names.alice } });
  });

  test('both list the conversation with its last message', async () => {
    const { names, conversationId } = await aliceAndBob();
    await urql.sendMessage(conversationId, 'hello from urql');
    await apollo.sendMessage(conversationId, 'hello from apollo');
    for (const [client, title] of [
      [apollo, 'Bob'],
      [urql, names.alice],
    ] as const) {
      const list = await client.listConversations();
      expect(list.totalCount).toBe(1);
      expect(list.edges.map((e) => e.node)).toEqual([
        expect.objectContaining({ id: conversationId, kind: 'DIRECT', title, lastMessage: expect.objectContaining({ content: 'hello from apollo' }) }),
      ]);
    }
  });

  test('both upload a PNG as a multipart request; the attachment is stored and served', async () => {
    const { alice, bob, conversationId } = await aliceAndBob();
    const png = await sharp({ create: { width: 40, height: 20, channels: 3, background: { r: 10, g: 120, b: 200 } } })
      .png()
      .toBuffer();
    for (const client of [apollo, urql]) {
      const received = (client === apollo ? urql : apollo).firstMessage(conversationId);
      await watching(client === apollo ? bob.id : alice.id, conversationId);
      const message = await client.uploadFile(conversationId, new File([png], 'dot.png', { type: 'image/png' }), 'a picture');
      expect(message).toMatchObject({ kind: 'IMAGE', content: 'a picture' });
      expect(message.attachments).toEqual([
        expect.objectContaining({
          fileName: 'dot.png',
          mimeType: 'image/png',
          size: png.length,
          width: 40,
          height: 20,
          url: expect.stringMatching(/^\/media\//),
        }),
      ]);
      // The other user sees it live too, attachment included.
      expect((await received).attachments.map((a) => a.id)).toEqual([message.attachments[0].id]);
      // Attachment.url is a path (no PUBLIC_URL here): relative to the server's origin.
      const res = await fetch(new URL(message.attachments[0].url, server.url));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/png');
      expect(Buffer.from(await res.arrayBuffer()).equals(png)).toBe(true);
    }
  });
});
