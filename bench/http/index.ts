import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { forkChild, stopChild } from '../children';
import { coresBetween, cpuSnapshot, pct, timeConcurrent, timeSequential } from '../measure';
import { now, type ClientReport } from '../realtime/protocol';
import type { HttpFixture, HttpServerStats } from './protocol';
import { openOperationSocket } from './ws-operations';

/**
 * The request-path benchmark (issue 12). Every figure next to its anchor measured in the same
 * run, a bare node:http server (server.ts, `anchor`) answering each request after one `select 1`
 * on a pool of the same size, and (issue 35) the same server doing one durable one-row INSERT per
 * request instead (a logged table of its own, autocommit, `synchronous_commit` on: one WAL flush
 * per request; on PGlite in memory, as ours is). Server and load generator run in separate processes.
 * - one client, requests one after another: median and p99 (ms) of `{ __typename }` without and
 *   with a token, `{ me { id } }` (target <= 1.5x the select-1 anchor), `sendMessage` into a DIRECT
 *   chat with its recipient subscribed, over HTTP and (issue 35) as a graphql-ws operation on a
 *   socket the sender already holds (target <= 2x the INSERT anchor), a page of 50 messages,
 *   GET /healthz; SQL statements and server CPU per request;
 * - issue 31: addReaction and removeReaction in turns on one message of that chat (each call
 *   changes something; the listener also gets messageUpdated), and a page of 50 messages of a
 *   GROUP where every message has reactions of several members, next to the same page of a
 *   GROUP whose messages have none;
 * - concurrency: BENCH_SENDERS (16) clients sending into BENCH_CONVERSATIONS (200) GROUPs of 10
 *   members, every member subscribed to messageAdded over graphql-ws (in a separate client
 *   process): sends/s, and deliveries until every send reached every member; over HTTP (each send
 *   by one of the group's members in turn), then (issue 35, target >= 1000 sends/s) over
 *   graphql-ws, each client one user on its own socket, the owner of every 16th group
 *   (HttpFixture.senders), sending into its groups in turn; next to both anchors' requests/s from
 *   as many clients;
 * - cold start: `npm start`'s command (scripts/run-built.js: no compiling when nothing changed)
 *   on a fresh PGlite data directory and again on the existing one, until the first answer to
 *   `{ __typename }`; the anchor is a node:http server's start.
 * BENCH_REQUESTS (500) sizes the sequential part, BENCH_CONCURRENT_SENDS (6000) each concurrent
 * one. With BENCH_CPU_PROF=<dir> the server child writes CPU profiles of `{ me { id } }` (`me`),
 * the sequential sends over HTTP (`send`) and graphql-ws (`send-ws`), the reactions, the page with
 * reactions and both concurrent parts (`concurrent`, `concurrent-ws`); profile-summary.ts sums them.
 */
export async function benchRequestPath(): Promise<Record<string, unknown>> {
  const n = Number(process.env.BENCH_REQUESTS ?? 500);
  const sends = Number(process.env.BENCH_CONCURRENT_SENDS ?? 6000);
  const senders = Number(process.env.BENCH_SENDERS ?? 16);
  const convs = Number(process.env.BENCH_CONVERSATIONS ?? 200);
  const members = 10;

  progress('anchor: node:http + one select 1, then node:http + one durable INSERT');
  const anchor = await child('server.js', ['anchor']);
  const anchorUrl = anchor.info.url;
  /** One anchor (select 1 at `target`, or the INSERT): one after another with its server CPU per request, then from `senders` clients. */
  const measureAnchor = async (target: string, body: (k: number) => object) => {
    const stats = async () => (await anchor.ask<HttpServerStats>({ cmd: 'stats' })).cpuMicros / 1000;
    const [cpu0, m0] = [await stats(), cpuSnapshot()];
    let k = 0;
    const one = await sequential(n, () => post(target, body(k++)));
    const [cpu1, m1] = [await stats(), cpuSnapshot()];
    const many = await concurrent(senders, sends, (j) => post(target, body(k + j)));
    const [cpu2, m2] = [await stats(), cpuSnapshot()];
    const perRequest = (ms: number, count: number) => Number((ms / count).toFixed(3));
    return {
      seq: { ...one, serverCpuMsPerRequest: perRequest(cpu1 - cpu0, n + 50), postgresCpuMsPerRequest: perRequest(m1.postgresMs - m0.postgresMs, n + 50) },
      conc: {
        ...many,
        serverCpuMsPerRequest: perRequest(cpu2 - cpu1, sends),
        postgresCpuMsPerRequest: perRequest(m2.postgresMs - m1.postgresMs, sends),
        cores: coresBetween(m1, m2, { server: cpu2 - cpu1 }),
      },
    };
  };
  const { seq: anchorSeq, conc: anchorConc } = await measureAnchor(anchorUrl, () => ({ query: '{ one }' }));
  // Issue 35: the same server writing one row per request, with the body of a send (parsed: its content is the row's).
  const { seq: anchorInsertSeq, conc: anchorInsertConc } = await measureAnchor(`${anchorUrl}insert`, (k) => ({
    query: SEND,
    variables: { c: '1', t: `anchor ${k}` },
  }));
  await stopChild(anchor.proc);
  progress(`anchor: select 1: median ${anchorSeq.median} ms, ${anchorConc.perSec} requests/s with ${senders} clients`);
  progress(`anchor: durable INSERT: median ${anchorInsertSeq.median} ms, ${anchorInsertConc.perSec} requests/s with ${senders} clients`);

  progress(`ours: fixture of ${convs} conversations of ${members}`);
  const ours = await child('server.js', ['ours']);
  const { url, wsUrl } = ours.info;
  const fx = await ours.ask<HttpFixture>({ cmd: 'fixture', conversations: convs, members, senders });
  const healthz = url.replace(/\/graphql$/, '/healthz');
  const sqlPer = async (count: number, fn: () => Promise<unknown>) => {
    await ours.ask({ cmd: 'resetCounters' });
    const before = await ours.ask<HttpServerStats>({ cmd: 'stats' });
    const pg0 = cpuSnapshot().postgresMs;
    const r = await sequential(count, fn, 0);
    const pg1 = cpuSnapshot().postgresMs;
    const { sql, cpuMicros } = await ours.ask<HttpServerStats>({ cmd: 'stats' });
    return {
      ...r,
      sqlPerRequest: Number((sql / count).toFixed(2)),
      serverCpuMsPerRequest: Number(((cpuMicros - before.cpuMicros) / 1000 / count).toFixed(3)),
      postgresCpuMsPerRequest: Number(((pg1 - pg0) / count).toFixed(3)),
    };
  };
  const { senderToken, recipientToken, conversationId: direct } = fx.direct;

  // The DIRECT chat's recipient listens, so each send is also delivered (as in a real chat), and each reaction (messageUpdated).
  let delivered = 0;
  let updated = 0;
  const listener = createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${recipientToken}` } });
  listener.subscribe(
    { query: 'subscription($c: ID) { messageAdded(conversationId: $c) { id seq content sender { id username } } }', variables: { c: direct } },
    {
      next: () => {
        delivered++;
      },
      error: (e) => {
        console.error(e);
        process.exit(1);
      },
      complete: () => undefined,
    },
  );
  listener.subscribe(
    { query: 'subscription($c: ID) { messageUpdated(conversationId: $c) { id reactions { emoji count } } }', variables: { c: direct } },
    {
      next: () => {
        updated++;
      },
      error: (e) => {
        console.error(e);
        process.exit(1);
      },
      complete: () => undefined,
    },
  );
  await until('the listener', 10_000, async () => (await ours.ask<HttpServerStats>({ cmd: 'stats' })).subscribers >= 2);

  const seq: Record<string, unknown> = {};
  await sequential(100, () => post(url, { query: '{ me { id } }' }, senderToken), 0);
  seq.typenameNoToken = await sqlPer(n, () => post(url, { query: '{ __typename }' }));
  seq.typenameWithToken = await sqlPer(n, () => post(url, { query: '{ __typename }' }, senderToken));
  await ours.ask({ cmd: 'profileStart', label: 'me' });
  seq.me = await sqlPer(n, () => post(url, { query: '{ me { id } }' }, senderToken));
  await ours.ask({ cmd: 'profileStop', label: 'me' });
  let i = 0;
  let lastSent = '';
  const sendDirect = async () => {
    const data = await post(url, { query: SEND, variables: { c: direct, t: `direct ${i++}` } }, senderToken);
    lastSent = (data as { sendMessage: { id: string } }).sendMessage.id;
  };
  await sequential(30, sendDirect, 0); // warm-up
  await ours.ask({ cmd: 'profileStart', label: 'send' });
  seq.sendMessage = await sqlPer(n, sendDirect);
  await ours.ask({ cmd: 'profileStop', label: 'send' });
  // Issue 35: the same mutation as a graphql-ws operation on a socket the sender already holds.
  const senderSocket = await openOperationSocket(wsUrl, senderToken);
  const sendDirectWs = () => senderSocket.run(SEND, { c: direct, t: `direct ws ${i++}` });
  await sequential(30, sendDirectWs, 0); // warm-up
  await ours.ask({ cmd: 'profileStart', label: 'send-ws' });
  seq.sendMessageWs = await sqlPer(n, sendDirectWs);
  await ours.ask({ cmd: 'profileStop', label: 'send-ws' });
  await senderSocket.close();
  await until('deliveries to the listener', 30_000, async () => delivered >= i);
  seq.messagesLast50 = await sqlPer(Math.min(n, 200), () =>
    post(
      url,
      {
        query:
          'query($c: ID!) { messages(conversationId: $c, last: 50) { edges { node { seq content sender { username } replyTo { seq sender { username } } attachments { id } } } } }',
        variables: { c: direct },
      },
      recipientToken,
    ),
  );
  seq.healthz = await sqlPer(n, () => get(healthz));

  // Issue 31: the recipient adds and removes 👍 on the sender's last message in turns, so every call
  // changes something (a change number, messageUpdated to the listener, and on each add a
  // notification to the sender, who is not watching the chat).
  const react = (op: 'addReaction' | 'removeReaction') => () =>
    post(
      url,
      { query: `mutation($m: ID!, $e: String!) { ${op}(messageId: $m, emoji: $e) { id reactions { emoji count } } }`, variables: { m: lastSent, e: '👍' } },
      recipientToken,
    );
  const [add, remove] = [react('addReaction'), react('removeReaction')];
  const toggleTimes: Record<'add' | 'remove', number[]> = { add: [], remove: [] };
  let toggles = 0;
  const toggle = async () => {
    const kind = toggles++ % 2 === 0 ? 'add' : 'remove';
    const t = performance.now();
    await (kind === 'add' ? add : remove)();
    toggleTimes[kind].push(performance.now() - t);
  };
  for (let k = 0; k < 50; k++) await toggle(); // warm-up, an even number: the reaction is off again
  toggleTimes.add.length = toggleTimes.remove.length = 0;
  const updatedBefore = updated;
  await ours.ask({ cmd: 'profileStart', label: 'reaction' });
  const both = await sqlPer(n - (n % 2), toggle);
  await ours.ask({ cmd: 'profileStop', label: 'reaction' });
  await until('messageUpdated deliveries to the listener', 30_000, async () => updated - updatedBefore >= n - (n % 2));
  const sorted = (xs: number[]) => xs.sort((a, b) => a - b);
  const one = async (fn: () => Promise<unknown>) => {
    await ours.ask({ cmd: 'resetCounters' });
    await fn();
    return (await ours.ask<HttpServerStats>({ cmd: 'stats' })).sql;
  };
  seq.reaction = {
    addAndRemove: both,
    add: { median: pct(sorted(toggleTimes.add), 50), p99: pct(toggleTimes.add, 99), sqlPerRequest: await one(add) },
    remove: { median: pct(sorted(toggleTimes.remove), 50), p99: pct(toggleTimes.remove, 99), sqlPerRequest: await one(remove) },
  };
  await listener.dispose();

  // Issue 31: a page of 50 messages from 10 members, every message with reactions of 5 members
  // (group 0), next to the same page of a group whose messages have none (group 1).
  for (const g of [0, 1])
    for (let k = 0; k < 50; k++)
      await post(
        url,
        {
          query: 'mutation($c: ID, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id } }',
          variables: { c: fx.conversationIds[g], t: `page message ${k}` },
        },
        fx.tokens[g][k % members],
      );
  const { reactions } = await ours.ask<{ reactions: number }>({ cmd: 'reactions', conversationId: fx.conversationIds[0], users: 5 });
  const PAGE =
    'query($c: ID!) { messages(conversationId: $c, last: 50) { edges { node { id seq content sender { id username } reactions { emoji count reactedByViewer latestUsers { id username } } } } } }';
  const page = (g: number) => () => post(url, { query: PAGE, variables: { c: fx.conversationIds[g] } }, fx.tokens[g][1]);
  type Page = { messages: { edges: { node: { reactions: unknown[] } }[] } };
  const shown = ((await page(0)()) as Page).messages.edges;
  if (shown.length !== 50 || shown.some((e) => e.node.reactions.length === 0)) throw new Error('the page of 50 with reactions is not what it should be');
  await sequential(20, page(0), 0);
  await sequential(20, page(1), 0);
  await ours.ask({ cmd: 'profileStart', label: 'page-reactions' });
  seq.messagesLast50Reactions = { ...(await sqlPer(Math.min(n, 200), page(0))), reactionsOnPage: reactions };
  await ours.ask({ cmd: 'profileStop', label: 'page-reactions' });
  seq.messagesLast50NoReactions = await sqlPer(Math.min(n, 200), page(1));
  progress('ours, one after another:', JSON.stringify(seq));

  // Concurrency: every member subscribed to all of their conversations' messages (a shared
  // sender's one socket to all of its groups': HttpFixture.senders).
  const clients = await child('../realtime/clients.js', []);
  const tokens = [...new Set(fx.tokens.flat())];
  await clients.ask({
    cmd: 'connect',
    wsUrl,
    tokens,
    query: 'subscription { messageAdded { id seq content createdAt sender { id username fullName } } }',
    variables: {},
  });
  await until('subscriptions', 120_000, async () => (await ours.ask<HttpServerStats>({ cmd: 'stats' })).subscribers >= tokens.length + 0);
  /** `sends` sends from `senders` concurrent loops (after 400 unmeasured), until every member got each: the figures, profiled as `label`. */
  const measureSends = async (label: string, sendOne: (k: number, client: number) => Promise<unknown>) => {
    await concurrent(senders, 400, sendOne); // warm-up
    await until('warm-up deliveries', 120_000, async () => (await clients.ask<ClientReport>({ cmd: 'report' })).deliveries >= 400 * members);
    await clients.ask<ClientReport>({ cmd: 'report', reset: true });
    await ours.ask({ cmd: 'resetCounters' });
    await ours.ask({ cmd: 'profileStart', label });
    const cpu0 = (await ours.ask<HttpServerStats>({ cmd: 'stats' })).cpuMicros;
    const clientsCpu0 = (await clients.ask<ClientReport>({ cmd: 'report' })).cpuUs;
    const machine0 = cpuSnapshot();
    const t0 = now();
    const conc = await concurrent(senders, sends, sendOne);
    await until('deliveries', 300_000, async () => (await clients.ask<ClientReport>({ cmd: 'report' })).deliveries >= sends * members);
    const report = await clients.ask<ClientReport>({ cmd: 'report', latencies: true, reset: true });
    const machine1 = cpuSnapshot();
    await ours.ask({ cmd: 'profileStop', label });
    const { sql, cpuMicros } = await ours.ask<HttpServerStats>({ cmd: 'stats' });
    const lat = report.latencies.sort((a, b) => a - b);
    return {
      conc,
      figures: {
        sendMedianMs: conc.median,
        sendP99Ms: conc.p99,
        allDeliveredPerSec: Math.round(sends / ((report.lastAt - t0) / 1000)),
        deliveryLatencyMs: { p50: pct(lat, 50), p99: pct(lat, 99) },
        sqlPerSend: Number((sql / sends).toFixed(2)),
        // Server CPU (user + system) per send, deliveries to its 10 members included.
        serverCpuMsPerSend: Number(((cpuMicros - cpu0) / 1000 / sends).toFixed(3)),
        // PostgreSQL's processes on this machine (with DATABASE_URL on it), per send.
        postgresCpuMsPerSend: Number(((machine1.postgresMs - machine0.postgresMs) / sends).toFixed(3)),
        // Who used the machine's cores meanwhile (the server's figure includes the profiler's stop).
        cores: coresBetween(machine0, machine1, { server: (cpuMicros - cpu0) / 1000, clients: (report.cpuUs - clientsCpu0) / 1000 }),
        errors: conc.errors,
      },
    };
  };
  // Over HTTP: send k into group k % convs, by one of its members in turn.
  const overHttp = await measureSends('concurrent', (k) =>
    post(url, { query: SEND_SEQ, variables: { c: fx.conversationIds[k % convs], t: `c${k}@${now()}` } }, fx.tokens[k % convs][Math.floor(k / convs) % members]),
  );
  progress('ours, concurrent over HTTP:', JSON.stringify(overHttp.figures));
  // Issue 35: over graphql-ws, each client a shared sender on its own socket, sending into its groups in turn.
  const sockets = await Promise.all(fx.senders!.map((x) => openOperationSocket(wsUrl, x.token)));
  const turns = sockets.map(() => 0);
  const overSocket = await measureSends('concurrent-ws', (k, j) => {
    const mine = fx.senders![j].conversationIndexes;
    return sockets[j].run(SEND_SEQ, { c: fx.conversationIds[mine[turns[j]++ % mine.length]], t: `w${k}@${now()}` });
  });
  progress('ours, concurrent over graphql-ws:', JSON.stringify(overSocket.figures));
  await Promise.all(sockets.map((x) => x.close()));
  const concurrency = {
    senders,
    conversations: convs,
    members,
    sends,
    sendsPerSec: {
      ours: overHttp.conc.perSec,
      anchorRequestsPerSec: anchorConc.perSec,
      ratio: ratio(overHttp.conc.perSec, anchorConc.perSec),
      target: '>= 2000 sends/s',
      anchorInsertRequestsPerSec: anchorInsertConc.perSec,
      ratioToInsert: ratio(overHttp.conc.perSec, anchorInsertConc.perSec),
    },
    ...overHttp.figures,
    anchorsConcurrent: { selectOne: anchorConc, insert: anchorInsertConc },
    overSocket: {
      sendsPerSec: {
        ours: overSocket.conc.perSec,
        anchorInsertRequestsPerSec: anchorInsertConc.perSec,
        ratioToInsert: ratio(overSocket.conc.perSec, anchorInsertConc.perSec),
        overHttp: ratio(overSocket.conc.perSec, overHttp.conc.perSec),
        target: '>= 1000 sends/s',
      },
      ...overSocket.figures,
    },
  };
  await clients.ask({ cmd: 'drop' });
  clients.proc.send({ cmd: 'close' });
  await stopChild(ours.proc);

  const start = await coldStart();
  const m = (r: unknown) => (r as { median: number }).median;
  return {
    // The INSERT anchor is durable (one WAL flush per request) on PostgreSQL only: PGlite runs in memory here, for ours as for it.
    database: process.env.DATABASE_URL ? 'postgresql' : 'pglite',
    oneAfterAnother: {
      anchor: anchorSeq,
      anchorInsert: anchorInsertSeq,
      ours: seq,
      ratios: {
        typenameNoToken: ratio(m(seq.typenameNoToken), anchorSeq.median),
        typenameWithToken: ratio(m(seq.typenameWithToken), anchorSeq.median),
        me: { ratio: ratio(m(seq.me), anchorSeq.median), target: '<= 1.5' },
        sendMessage: { ratio: ratio(m(seq.sendMessage), anchorSeq.median), target: '<= 3' },
        sendMessageWs: ratio(m(seq.sendMessageWs), anchorSeq.median),
        sendMessageToInsert: { ratio: ratio(m(seq.sendMessage), anchorInsertSeq.median), target: '<= 2' },
        sendMessageWsToInsert: { ratio: ratio(m(seq.sendMessageWs), anchorInsertSeq.median), target: '<= 2' },
        messagesLast50: ratio(m(seq.messagesLast50), anchorSeq.median),
        addAndRemoveReaction: ratio(m((seq.reaction as { addAndRemove: unknown }).addAndRemove), anchorSeq.median),
        addReaction: ratio(m((seq.reaction as { add: unknown }).add), anchorSeq.median),
        removeReaction: ratio(m((seq.reaction as { remove: unknown }).remove), anchorSeq.median),
        messagesLast50Reactions: ratio(m(seq.messagesLast50Reactions), anchorSeq.median),
        messagesLast50NoReactions: ratio(m(seq.messagesLast50NoReactions), anchorSeq.median),
      },
    },
    concurrency,
    coldStart: start,
  };
}

/** The send of the sequential parts: into a conversation, answering the message's id and seq. */
const SEND = 'mutation($c: ID, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id seq } }';
/** The send of the concurrent parts: answering the seq only. */
const SEND_SEQ = 'mutation($c: ID, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { seq } }';

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});
const progress = (...parts: unknown[]) => console.error(`[bench request path ${new Date().toISOString().slice(11, 19)}]`, ...parts);
const ratio = (a: number, b: number) => Number((a / b).toFixed(2));

/** Keep-alive connections, as a browser or an app holds them; node:http is a lighter client than fetch, so the load generator costs less CPU. */
const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function roundTrip(url: string, method: 'GET' | 'POST', body?: string, token?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = body ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {};
    if (token) headers.authorization = `Bearer ${token}`;
    const req = request(url, { method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** POSTs a GraphQL request; answers its `data`. @throws on a status other than 200 or any GraphQL error. */
async function post(url: string, body: object, token?: string): Promise<unknown> {
  const res = await roundTrip(url, 'POST', JSON.stringify(body), token);
  const json = JSON.parse(res.text) as { data?: unknown; errors?: unknown };
  if (res.status !== 200 || json.errors) throw new Error(`${res.status} ${JSON.stringify(json.errors ?? json)}`);
  return json.data;
}

async function get(url: string): Promise<void> {
  const res = await roundTrip(url, 'GET');
  if (res.status !== 200) throw new Error(`${res.status}`);
}

/** `count` requests one after another (after `warm` unmeasured ones): median and p99 in ms. */
async function sequential(count: number, fn: () => Promise<unknown>, warm = 50): Promise<{ median: number; p99: number }> {
  const times = await timeSequential(count, fn, warm);
  return { median: pct(times, 50), p99: pct(times, 99) };
}

/** `total` requests `fn(k, client)` from `clients` concurrent loops (timeConcurrent): requests/s, median and p99 ms, errors. */
async function concurrent(
  clients: number,
  total: number,
  fn: (k: number, client: number) => Promise<unknown>,
): Promise<{ perSec: number; median: number; p99: number; errors: number }> {
  const { times, seconds, errors } = await timeConcurrent(clients, total, fn);
  return { perSec: Math.round(total / seconds), median: pct(times, 50), p99: pct(times, 99), errors };
}

async function until(what: string, ms: number, test: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Forks a child; `ask` sends a command and resolves with the next answer; `info` is its first message. */
function child(script: string, args: string[]) {
  return forkChild<{ url: string; wsUrl: string }>(join(__dirname, script), args, children);
}

/**
 * Milliseconds from spawning a server process until it first answers `{ __typename }` (ours,
 * PGlite in a fresh directory, then again on that directory) or GET / (the anchor: node:http
 * alone). The server is stopped with SIGTERM after each.
 */
async function coldStart(): Promise<Record<string, unknown>> {
  const root = join(__dirname, '../../..');
  const dir = mkdtempSync(join(tmpdir(), 'bench-start-'));
  const once = async (args: string[], env: NodeJS.ProcessEnv, port: number, graphql: boolean) => {
    const t0 = performance.now();
    const proc = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' }, stdio: 'ignore' });
    children.add(proc);
    const url = `http://127.0.0.1:${port}${graphql ? '/graphql' : '/'}`;
    for (;;) {
      try {
        if (graphql) await post(url, { query: '{ __typename }' });
        else await get(url);
        break;
      } catch {
        if (proc.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${proc.exitCode}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    const ms = Math.round(performance.now() - t0);
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
    children.delete(proc);
    return ms;
  };
  try {
    const anchor = await once(
      ['-e', "require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), process.env.HOST)"],
      {},
      4601,
      false,
    );
    const env = { DATA_DIR: join(dir, 'data'), DATABASE_URL: '', REDIS_URL: '', LOG_LEVEL: 'silent', NODE_ENV: 'development' };
    // As `npm start` runs it: the freshness check of scripts/run-built.js, then the compiled server.
    const start = ['scripts/run-built.js', 'dist/src/main.js'];
    const fresh = await once(start, env, 4602, true);
    const again = await once(start, env, 4602, true);
    progress(`cold start: fresh data ${fresh} ms, existing data ${again} ms, node:http ${anchor} ms`);
    return { freshDataDirMs: fresh, existingDataDirMs: again, anchorNodeHttpMs: anchor, target: '< 3000 ms' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
