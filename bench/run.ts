import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createClient } from 'graphql-ws';
import pino from 'pino';
import WebSocket from 'ws';
import { startApp } from '../src/app';
import { loadConfig } from '../src/config/config';
import { benchRequestPath } from './http';
import { benchRealtime } from './realtime';
import { benchHeavyNeighbour, type HeavyNeighbourResult } from './heavy';
import { benchSearch, type SearchBenchResult } from './search';
import { benchOutbox, type OutboxBenchResult } from './outbox';

/**
 * `npm run bench`: send throughput over HTTP, send-to-subscriber latency over graphql-ws, SQL
 * statements per page of messages, and the throughput and peak RSS growth of 10 MB uploads, on
 * the embedded database (or DATABASE_URL). BENCH_MESSAGES sets how many messages are sent
 * (default 500), BENCH_UPLOADS how many 10 MB files are uploaded one after another (default 5).
 */
const execFileP = promisify(execFile);

async function main(): Promise<void> {
  // BENCH_ONLY=realtime runs only the realtime delivery scenarios.
  // BENCH_ONLY=realtime|request|http|heavy|outbox|search runs one part: realtime delivery, the request path (issue 12), the older HTTP figures, the heavy neighbour (issue 27), the outbox's cost to a send (issue 34), or search (issue 33, PostgreSQL only).
  if (process.env.BENCH_ONLY === 'outbox') {
    printOutbox(await benchOutbox());
    return;
  }
  if (process.env.BENCH_ONLY === 'search') {
    printSearch(await benchSearch());
    return;
  }
  if (process.env.BENCH_ONLY === 'heavy') {
    printHeavy(await benchHeavyNeighbour());
    return;
  }
  if (process.env.BENCH_ONLY === 'realtime') {
    printRealtime(await benchRealtime());
    return;
  }
  if (process.env.BENCH_ONLY === 'request') {
    printRequestPath(await benchRequestPath());
    return;
  }
  const n = Number(process.env.BENCH_MESSAGES ?? 500);
  let queries = 0;
  const env = {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: process.env.DATABASE_URL ? './data' : ':memory:',
    LOG_LEVEL: 'silent',
    RATE_MESSAGES_PER_SEC: process.env.RATE_MESSAGES_PER_SEC ?? '100000',
    JWT_SECRET: randomBytes(32).toString('hex'),
    REDIS_PREFIX: `bench-${randomBytes(4).toString('hex')}`,
  };
  const app = await startApp(loadConfig(env), {
    logger: pino({ level: 'silent' }),
    onQuery: (line) => {
      if (/\[query\]/.test(line)) queries++;
    },
  });
  const post = async (query: string, variables: object, token?: string) => {
    const res = await fetch(app.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data: any; errors?: unknown };
    if (body.errors) throw new Error(JSON.stringify(body.errors));
    return body.data;
  };
  const reg = (u: string) =>
    post('mutation($i: RegisterInput!) { register(input: $i) { accessToken user { id } } }', {
      i: { username: `${u}${Date.now() % 100000}`, password: 'benchmark-pass' },
    });
  const a = (await reg('bencha')).register;
  const b = (await reg('benchb')).register;
  const conv = (await post('mutation($u: ID) { openDirectChat(userId: $u) { id } }', { u: b.user.id }, a.accessToken)).openDirectChat.id;

  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const client = createClient({ url: app.wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${b.accessToken}` } });
  let received = 0;
  let allReceived!: () => void;
  const done = new Promise<void>((r) => (allReceived = r));
  client.subscribe<{ messageAdded: { content: string } }>(
    { query: 'subscription($c: ID) { messageAdded(conversationId: $c) { content } }', variables: { c: conv } },
    {
      next: (v) => {
        const t = sentAt.get(v.data!.messageAdded.content);
        if (t !== undefined) latencies.push(performance.now() - t);
        if (++received === n) allReceived();
      },
      error: (e) => {
        console.error(e);
        process.exit(1);
      },
      complete: () => undefined,
    },
  );
  await new Promise((r) => setTimeout(r, 300));

  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const content = `bench message ${i}`;
    sentAt.set(content, performance.now());
    await post('mutation($c: ID, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id } }', { c: conv, t: content }, a.accessToken);
  }
  const elapsed = performance.now() - t0;
  await done;
  latencies.sort((x, y) => x - y);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))].toFixed(2);

  const before = queries;
  await post(
    `query($c: ID!) { messages(conversationId: $c, last: 50) { edges { node { seq content sender { username } replyTo { seq sender { username } } attachments { id } } } } }`,
    { c: conv },
    b.accessToken,
  );
  const perPage = queries - before;

  const upload = await benchUpload(app.url, a.accessToken, conv);
  const decoding = await benchImageDecoding(app.url, a.accessToken, b.accessToken, conv);
  const crossInstance =
    process.env.DATABASE_URL && process.env.REDIS_URL
      ? await benchCrossInstance(app.url, env, a.accessToken, b.accessToken, conv, Math.min(n, 500))
      : 'skipped: needs DATABASE_URL and REDIS_URL';

  console.log(
    JSON.stringify(
      {
        database: process.env.DATABASE_URL ? 'postgresql' : 'pglite',
        messages: n,
        sendThroughputPerSec: Number((n / (elapsed / 1000)).toFixed(1)),
        deliveryLatencyMs: { p50: pct(50), p95: pct(95), p99: pct(99) },
        sqlStatementsPerPageOf50: perPage,
        upload10MB: upload,
        imageDecoding: decoding,
        crossInstance,
        rssMiB: Math.round(process.memoryUsage().rss / 1048576),
      },
      null,
      2,
    ),
  );
  await client.dispose();
  await app.stop();
  if (process.env.BENCH_ONLY === 'http') return;
  printRequestPath(await benchRequestPath());
  printRealtime(await benchRealtime());
  printHeavy(await benchHeavyNeighbour());
  printOutbox(await benchOutbox());
  printSearch(await benchSearch());
}

/** The outbox figures (issue 34) as JSON, then as a table: sends with push and webhooks configured (delivering, and with delivery held back) next to the same server without, and the ratios. */
function printOutbox(r: OutboxBenchResult): void {
  console.log(JSON.stringify({ outbox: r }, null, 2));
  const { plain: p, rowsOnly: w, outbox: o } = r;
  const [xo, xw] = [r.ratios.outbox, r.ratios.rowsOnly];
  console.log(
    `\n| sendMessage (${r.database}, ${r.rounds} rounds each) | push + webhook, delivering | ratio | push + webhook, delivery held | ratio | neither | target |\n|---|---|---|---|---|---|---|`,
  );
  const row = (name: string, f: (x: typeof p) => string, ratio: (x: typeof xo) => string, target = '') =>
    console.log(`| ${name} | ${f(o)} | ${ratio(xo)} | ${f(w)} | ${ratio(xw)} | ${f(p)} | ${target} |`);
  row(
    'one after another (DIRECT), median / p99 ms',
    (x) => `${x.sequential.medianMs} / ${x.sequential.p99Ms}`,
    (x) => `${x.sequentialMedian} / ${x.sequentialP99}`,
    '< 2',
  );
  row(
    'one after another, mean ms',
    (x) => `${x.sequential.meanMs}`,
    (x) => `${x.sequentialMean}`,
    '< 2',
  );
  row(
    'one after another, sends/s; SQL per send',
    (x) => `${x.sequential.sendsPerSec}; ${x.sequential.sqlPerSend}`,
    () => '',
  );
  row(
    `${o.concurrent.sends / r.rounds} sends from ${r.senders} clients into groups of 10, median / p99 ms`,
    (x) => `${x.concurrent.medianMs} / ${x.concurrent.p99Ms}`,
    (x) => `${x.concurrentMedian} / ${x.concurrentP99}`,
    '< 2',
  );
  row(
    'the same, sends/s',
    (x) => `${x.concurrent.sendsPerSec}`,
    (x) => `${x.concurrentSendsPerSec}`,
    '> 0.5',
  );
  const drained = o.perRound.map((d) => d.drained?.afterLastSendMs).join(', ');
  console.log(
    `\nDelivering: the outbox drained ${drained} ms after the last send (each round); the receiver got ${r.received.webhooks} webhooks and ${r.received.pushes} pushes.`,
  );
  console.log(`Delivery held: rows left at the end of each round: ${w.perRound.map((d) => JSON.stringify(d.held)).join('; ')}.`);
}

/** The search figures (issue 33) as JSON, then as tables: each kind of query next to the node:http + `select 1` anchor; the index; sends. */
function printSearch(r: SearchBenchResult | { skipped: string }): void {
  console.log(JSON.stringify({ search: r }, null, 2));
  if ('skipped' in r) return;
  const f = (x: { p50: number; p95: number; p99: number }) => `${x.p50} / ${x.p95} / ${x.p99}`;
  const a = r.anchorNodeHttpSelectOne;
  console.log(
    `\n${r.corpus.messages} messages, member of ${r.member.conversations} conversations (${r.member.readableMessages} readable); load average at start ${r.loadAverageAtStart.join(', ')}`,
  );
  console.log(
    '\n| searchMessages(first: 20), one after another | p50 / p95 / p99 ms | SQL | hits per query | anchor p50 / p95 / p99 | target p95 <= 300 |\n|---|---|---|---|---|---|',
  );
  for (const [kind, s] of Object.entries(r.searchMs)) {
    const hits = Object.entries(s.hits)
      .map(([q, n]) => `${q}: ${n}`)
      .join(', ');
    console.log(`| ${kind} | ${f(s)} | ${s.sqlPerSearch} | ${hits} | ${f(a)} | ${s.p95 <= 300 ? 'yes' : 'no'} |`);
  }
  const i = r.index;
  console.log('\n| index | build s | MiB |\n|---|---|---|');
  console.log(`| GIN on search_document (maintenance_work_mem ${i.maintenanceWorkMem}) | ${i.ginBuildSeconds} | ${i.ginIndexMiB} |`);
  console.log(`| anchor: btree (conversation_id, change_seq), rebuilt | ${i.btreeConversationChangeSeqRebuildSeconds} | ${i.btreeConversationChangeSeqMiB} |`);
  console.log(`| table: heap / total with indexes and TOAST | | ${i.tableHeapMiB} / ${i.tableTotalMiB} |`);
  console.log(`| content text / search_document values | | ${i.contentTextMiB} / ${i.searchDocumentMiB} |`);
  const ins = r.insertStatementMs;
  console.log('\n| send, median (p50) / p95 / p99 ms | with search_document | without | anchor |\n|---|---|---|---|');
  console.log(`| sendMessage over HTTP (GROUP of 6) | ${f(r.sendMessageMs)} | | ${f(a)} |`);
  console.log(`| INSERT alone, durable commit | ${f(ins.durableCommit.withSearchDocument)} | ${f(ins.durableCommit.withoutSearchDocument)} | |`);
  console.log(
    `| INSERT alone, synchronous_commit=off | ${f(ins.synchronousCommitOff.withSearchDocument)} | ${f(ins.synchronousCommitOff.withoutSearchDocument)} | |`,
  );
  console.log(`| searchDocument() in TypeScript, µs per message | ${r.corpus.searchDocumentMicrosPerMessage} | | |`);
  for (const [k, p] of Object.entries(r.plans))
    console.log(
      `\nEXPLAIN ANALYZE ${k} (${p.query}): ${p.executionMs} ms, GIN index: ${p.usesGinIndex}; with the correlated exists of before: ${p.correlatedExists?.executionMs} ms`,
    );
}

/** The heavy-neighbour figures (issue 27) as JSON, then as a table: loaded next to quiet and to the node:http + `select 1` anchor. */
function printHeavy(r: HeavyNeighbourResult): void {
  console.log(JSON.stringify({ heavyNeighbour: r }, null, 2));
  const f = (x: { p50: number; p95: number; p99: number }) => `${x.p50} / ${x.p95} / ${x.p99}`;
  const h = r.heavy;
  console.log(
    `\n| every 20 ms, p50 / p95 / p99 ms | under ${r.concurrency} heavy requests | no heavy load | node:http + select 1 | p99 ratio loaded / quiet | target |\n|---|---|---|---|---|---|`,
  );
  console.log(
    `| another user's { me { id } } | ${f(r.underHeavyLoad.me)} | ${f(r.noHeavyLoad.me)} | ${f(r.anchorNodeHttpSelectOne)} | ${r.p99Ratios.meLoadedToQuiet} | p99 <= 100 |`,
  );
  console.log(`| GET /healthz | ${f(r.underHeavyLoad.healthz)} | ${f(r.noHeavyLoad.healthz)} | | ${r.p99Ratios.healthzLoadedToQuiet} | p99 <= 100 |`);
  const srv = (x: { server: { cpuShare: number; loopDelayMs?: { p99: number; max: number } } }) =>
    `CPU ${x.server.cpuShare} cores, loop delay p99 ${x.server.loopDelayMs?.p99.toFixed(0)} / max ${x.server.loopDelayMs?.max.toFixed(0)} ms`;
  console.log(`| the server over the phase | ${srv(r.underHeavyLoad)} | ${srv(r.noHeavyLoad)} | | | |`);
  console.log(
    `| heavy requests in ${r.seconds} s (client ${r.heavyClient}): served / refused (RATE_LIMITED) / failed | ${h.served} / ${h.refused} / ${h.failed} (one alone: ${r.oneHeavyAloneMs.median} ms) | | | | |`,
  );
}

/** The request-path figures as JSON, then as a table: each next to the node:http + `select 1` anchor. */
function printRequestPath(r: Record<string, any>): void {
  console.log(JSON.stringify({ requestPath: r }, null, 2));
  const { anchor, ours, ratios } = r.oneAfterAnother;
  const row = (name: string, x: { median: number; p99: number; sqlPerRequest?: number; serverCpuMsPerRequest?: number }, rt: unknown, target = '') =>
    `| ${name} | ${x.median} / ${x.p99} | ${x.sqlPerRequest ?? ''} | ${x.serverCpuMsPerRequest ?? ''} | ${anchor.median} / ${anchor.p99} | ${typeof rt === 'object' && rt ? (rt as { ratio: number }).ratio : (rt ?? '')} | ${target} |`;
  console.log(
    `\n| request (one client) | ours median / p99 ms | SQL | server CPU ms | anchor median / p99 ms (CPU ${anchor.serverCpuMsPerRequest}) | ratio of medians | target |\n|---|---|---|---|---|---|---|`,
  );
  console.log(row('{ __typename }, no token', ours.typenameNoToken, ratios.typenameNoToken));
  console.log(row('{ __typename }, token', ours.typenameWithToken, ratios.typenameWithToken));
  console.log(row('{ me { id } }', ours.me, ratios.me, '<= 1.5'));
  console.log(row('sendMessage (DIRECT, 1 subscriber)', ours.sendMessage, ratios.sendMessage, '<= 3'));
  console.log(row('sendMessage over graphql-ws (socket already open)', ours.sendMessageWs, ratios.sendMessageWs));
  console.log(row('messages(last: 50) + sender, replyTo, attachments', ours.messagesLast50, ratios.messagesLast50, '<= 4 SQL'));
  const rx = ours.reaction;
  console.log(row('addReaction / removeReaction in turns (DIRECT, 1 subscriber)', rx.addAndRemove, ratios.addAndRemoveReaction));
  console.log(row('addReaction (notifies the author)', rx.add, ratios.addReaction));
  console.log(row('removeReaction', rx.remove, ratios.removeReaction));
  console.log(
    row(
      `messages(last: 50) of a GROUP, reactions (${ours.messagesLast50Reactions.reactionsOnPage} of 5 members)`,
      ours.messagesLast50Reactions,
      ratios.messagesLast50Reactions,
    ),
  );
  console.log(row('the same page, no reactions', ours.messagesLast50NoReactions, ratios.messagesLast50NoReactions));
  console.log(row('GET /healthz', ours.healthz, ''));
  // Issue 35: against the anchors that do what the request needs (a durable INSERT for a send).
  const ins = r.oneAfterAnother.anchorInsert;
  const insert = r.database === 'postgresql' ? 'node:http + one durable INSERT' : 'node:http + one INSERT (PGlite in memory: no flush, as ours)';
  const mine = (x: { median: number; p99: number; serverCpuMsPerRequest?: number; postgresCpuMsPerRequest?: number }) =>
    `${x.median} / ${x.p99} (${x.serverCpuMsPerRequest}; ${x.postgresCpuMsPerRequest})`;
  console.log(
    '\n| one client, median / p99 ms (CPU ms per request: server; PostgreSQL) | ours | anchor | anchor is | ratio of medians | target |\n|---|---|---|---|---|---|',
  );
  console.log(`| { me { id } } | ${mine(ours.me)} | ${mine(anchor)} | node:http + select 1 | ${ratios.me.ratio} | <= 1.5 |`);
  console.log(`| sendMessage over HTTP | ${mine(ours.sendMessage)} | ${mine(ins)} | ${insert} | ${ratios.sendMessageToInsert.ratio} | <= 2 |`);
  console.log(`| sendMessage over graphql-ws | ${mine(ours.sendMessageWs)} | ${mine(ins)} | ${insert} | ${ratios.sendMessageWsToInsert.ratio} | <= 2 |`);
  const c = r.concurrency;
  const w = c.overSocket;
  console.log(
    `\n| ${c.senders} senders, ${c.conversations} conversations of ${c.members}, ${c.sends} sends | over HTTP | over graphql-ws | anchor: select 1 | anchor: ${r.database === 'postgresql' ? 'durable INSERT' : 'INSERT (PGlite in memory)'} | target |\n|---|---|---|---|---|---|`,
  );
  console.log(
    `| sends/s (anchors: requests/s) | ${c.sendsPerSec.ours} | ${w.sendsPerSec.ours} | ${c.sendsPerSec.anchorRequestsPerSec} | ${c.sendsPerSec.anchorInsertRequestsPerSec} | HTTP >= 2000; graphql-ws >= 1000 |`,
  );
  console.log(
    `| ratio to the INSERT anchor's requests/s | ${c.sendsPerSec.ratioToInsert} | ${w.sendsPerSec.ratioToInsert} (${w.sendsPerSec.overHttp}x HTTP) | | | |`,
  );
  console.log(`| every send delivered to every member, sends/s | ${c.allDeliveredPerSec} | ${w.allDeliveredPerSec} | | | |`);
  console.log(`| send median / p99 ms | ${c.sendMedianMs} / ${c.sendP99Ms} | ${w.sendMedianMs} / ${w.sendP99Ms} | | | |`);
  console.log(
    `| delivery p50 / p99 ms | ${c.deliveryLatencyMs.p50} / ${c.deliveryLatencyMs.p99} | ${w.deliveryLatencyMs.p50} / ${w.deliveryLatencyMs.p99} | | | |`,
  );
  const [a1, ai] = [c.anchorsConcurrent.selectOne, c.anchorsConcurrent.insert];
  console.log(`| SQL per send | ${c.sqlPerSend} | ${w.sqlPerSend} | 1 | 1 | |`);
  console.log(
    `| CPU ms per send (request): server; PostgreSQL | ${c.serverCpuMsPerSend}; ${c.postgresCpuMsPerSend} | ${w.serverCpuMsPerSend}; ${w.postgresCpuMsPerSend} | ${a1.serverCpuMsPerRequest}; ${a1.postgresCpuMsPerRequest} | ${ai.serverCpuMsPerRequest}; ${ai.postgresCpuMsPerRequest} | |`,
  );
  const cores = (x: Record<string, number>) =>
    `${x.machine} of ${x.ofCores}: server ${x.server}, PostgreSQL ${x.postgres}${x.clients === undefined ? '' : `, subscribers' client ${x.clients}`}, senders ${x.loadGenerator}, other ${x.other}`;
  console.log(`| cores busy over the phase | ${cores(c.cores)} | ${cores(w.cores)} | ${cores(a1.cores)} | ${cores(ai.cores)} | |`);
  const s = r.coldStart;
  console.log(
    `\n| cold start to first answer, PGlite (ms) | fresh / existing data | anchor: node:http | target |\n|---|---|---|---|\n| \`npm start\` | ${s.freshDataDirMs} / ${s.existingDataDirMs} | ${s.anchorNodeHttpMs} | < 3000 |`,
  );
}

/** The realtime scenarios as JSON, then as a table: each figure next to its bare `ws` anchor. */
function printRealtime(r: Record<string, any>): void {
  console.log(JSON.stringify({ realtime: r }, null, 2));
  const h = r.hotRoom;
  const lat = h.latencyAt20PerSecMs;
  // scenario, ours, bare ws, ours / bare ws, Socket.IO 4, ours / Socket.IO, target
  const rows: unknown[][] = [
    [
      `hot room: deliveries/s (${h.subscribers} sockets, ${h.messages} msgs)`,
      h.deliveriesPerSec.ours,
      h.deliveriesPerSec.bareWs,
      h.deliveriesPerSec.ratio,
      h.deliveriesPerSec.socketIo,
      h.deliveriesPerSec.oursOverSocketIo,
      h.deliveriesPerSec.target,
    ],
    [
      'hot room burst: server CPU µs per delivery (client process)',
      ...(['ours', 'bareWs', 'ratio', 'socketIo', 'oursOverSocketIo'] as const).map((k) => {
        const x = h.cpuUsPerDelivery?.[k];
        return typeof x === 'object' ? `${x.server} (${x.clients})` : (x ?? '');
      }),
      '',
    ],
    ['hot room: latency p50 ms at 20 msg/s', lat.ours.p50, lat.bareWs.p50, '', lat.socketIo?.p50, lat.oursOverSocketIo?.p50, ''],
    ['hot room: latency p99 ms at 20 msg/s', lat.ours.p99, lat.bareWs.p99, '', lat.socketIo?.p99, lat.oursOverSocketIo?.p99, lat.target],
    ['hot room: SQL per delivered event', h.sqlPerDeliveredEvent.ours, 0, '', 0, '', String(h.sqlPerDeliveredEvent.target)],
    [
      `idle: RSS KiB per socket (${r.idleSockets.sockets})`,
      r.idleSockets.rssPerSocketKiB.ours,
      r.idleSockets.rssPerSocketKiB.bareWs,
      r.idleSockets.rssPerSocketKiB.ratio,
      r.idleSockets.rssPerSocketKiB.socketIo,
      r.idleSockets.rssPerSocketKiB.oursOverSocketIo,
      r.idleSockets.rssPerSocketKiB.target,
    ],
  ];
  if (r.reconnectStorm) {
    const s = r.reconnectStorm;
    const a = s.socketIoAnchor;
    rows.push([
      `reconnect storm: ms until all ${s.clients ?? a?.clients} current`,
      s.timeUntilAllCurrentMs ?? '',
      '',
      '',
      a ? (a.timeUntilAllCurrentMs ?? `never (${a.clientsCurrent} of ${a.clients})`) : '',
      s.oursOverSocketIo ?? '',
      '< 10000; <= 2x Socket.IO',
    ]);
    rows.push([
      'reconnect storm: lost / duplicated',
      s.clients === undefined ? '' : `${s.lost} / ${s.duplicated}`,
      '',
      '',
      a ? `${a.lost} / ${a.duplicated}` : '',
      '',
      '0 / 0',
    ]);
    if (a) {
      rows.push([
        'reconnect storm: sockets back p50 / p99 ms',
        s.socketsAcknowledgedMs ? `${s.socketsAcknowledgedMs.p50} / ${s.socketsAcknowledgedMs.p99}` : '',
        '',
        '',
        `${a.socketsReestablishedMs?.p50} / ${a.socketsReestablishedMs?.p99}`,
        '',
        '',
      ]);
      rows.push(['reconnect storm: Socket.IO sessions recovered', '', '', '', `${a.recovered} of ${a.clients}`, '', '']);
    }
  }
  if (r.receipts) {
    const x = r.receipts;
    rows.push([
      `receipts: frames/s, ${x.members} members all reading at once (${x.receiptFrames} frames, uncoalesced ${x.uncoalescedFrames})`,
      x.framesPerSec,
      x.anchorBareWsDeliveriesPerSec,
      x.framesPerSecOverAnchor,
      '',
      '',
      '<= 1 a second per subscriber and room',
    ]);
    rows.push(['receipts: frames per subscriber (receipts they stood for)', `${x.framesPerSubscriber} (${x.receiptsCarried})`, '', '', '', '', '']);
  }
  console.log('\n| scenario | ours | bare ws | ours / bare ws | Socket.IO 4 | ours / Socket.IO | target |\n|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

/**
 * Cross-instance delivery through Redis: a second instance on the same PostgreSQL and Redis;
 * `count` messages are sent one after another over HTTP to instance A while the recipient is
 * subscribed on instance B. Reports send-to-delivery latency percentiles in ms.
 */
async function benchCrossInstance(urlA: string, env: NodeJS.ProcessEnv, senderToken: string, recipientToken: string, conversationId: string, count: number) {
  const other = await startApp(loadConfig({ ...env, MIGRATE_ON_START: 'false' }), { logger: pino({ level: 'silent' }) });
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let received = 0;
  let allReceived!: () => void;
  const done = new Promise<void>((r) => (allReceived = r));
  const client = createClient({ url: other.wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${recipientToken}` } });
  client.subscribe<{ messageAdded: { content: string } }>(
    { query: 'subscription($c: ID) { messageAdded(conversationId: $c) { content } }', variables: { c: conversationId } },
    {
      next: (v) => {
        const t = sentAt.get(v.data!.messageAdded.content);
        if (t === undefined) return;
        latencies.push(performance.now() - t);
        if (++received === count) allReceived();
      },
      error: (e) => {
        console.error(e);
        process.exit(1);
      },
      complete: () => undefined,
    },
  );
  await new Promise((r) => setTimeout(r, 300));
  for (let i = 0; i < count; i++) {
    const content = `cross-instance ${i}`;
    sentAt.set(content, performance.now());
    const res = await fetch(urlA, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${senderToken}` },
      body: JSON.stringify({
        query: 'mutation($c: ID, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id } }',
        variables: { c: conversationId, t: content },
      }),
    });
    await res.json();
  }
  await done;
  await client.dispose();
  await other.stop();
  latencies.sort((x, y) => x - y);
  const pct = (p: number) => Number(latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))].toFixed(2));
  return { messages: count, latencyMs: { p50: pct(50), p95: pct(95), p99: pct(99) } };
}

/**
 * Uploads BENCH_UPLOADS files of 10 MB (a real MP4 padded to size: streamed and sniffed, no image
 * decoding) as GraphQL multipart sends, one after another, from a separate `curl` process so that
 * only the server's memory is measured; samples the server's RSS every 5 ms. Reports MB/s
 * (10^6 bytes) over the whole run and the peak RSS above the level before the first upload.
 */
async function benchUpload(url: string, token: string, conversationId: string) {
  const count = Number(process.env.BENCH_UPLOADS ?? 5);
  const size = 10 * 1024 * 1024;
  const dir = mkdtempSync(join(tmpdir(), 'bench-upload-'));
  const path = join(dir, 'bench.mp4');
  const mp4 = readFileSync(join(__dirname, '../../tests/fixtures/tiny.mp4'));
  writeFileSync(path, Buffer.concat([mp4, Buffer.alloc(size - mp4.length)]));
  const query = 'mutation($i: SendMessageInput!) { sendMessage(input: $i) { attachments { size } } }';
  const operations = JSON.stringify({ query, variables: { i: { conversationId, content: '', attachments: [null] } } });
  global.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  const t0 = performance.now();
  try {
    for (let i = 0; i < count; i++) {
      const { stdout } = await execFileP('curl', [
        '-sS',
        url,
        '-H',
        `authorization: Bearer ${token}`,
        '-H',
        'apollo-require-preflight: true',
        '-F',
        `operations=${operations}`,
        '-F',
        'map={"0":["variables.i.attachments.0"]}',
        '-F',
        `0=@${path};filename=bench-${i}.mp4`,
      ]);
      const body = JSON.parse(stdout) as { data?: { sendMessage: { attachments: { size: number }[] } }; errors?: unknown };
      if (body.errors || body.data?.sendMessage.attachments[0].size !== size) throw new Error(`upload failed: ${stdout}`);
    }
  } finally {
    clearInterval(sampler);
    rmSync(dir, { recursive: true, force: true });
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    files: count,
    throughputMBps: Number(((count * size) / 1e6 / seconds).toFixed(1)),
    peakRssGrowthMiB: Math.round((peak - baseline) / 1048576),
  };
}

/**
 * Other requests while images decode (issue 13, item 5): `{ me { id } }` one after another, alone
 * and then while 4 `curl` processes each send a message with 5 images of 6000x6000 pixels (36
 * million, under UPLOAD_MAX_PIXELS; solid colour, so the files are small and the cost is the
 * decoding). Reports the medians and p99s (ms) of both phases and the uploads' total time.
 */
async function benchImageDecoding(url: string, senderToken: string, readerToken: string, conversationId: string) {
  const sharp = (await import('sharp')).default;
  const dir = mkdtempSync(join(tmpdir(), 'bench-decode-'));
  const path = join(dir, 'big.png');
  writeFileSync(
    path,
    await sharp({ create: { width: 6000, height: 6000, channels: 3, background: '#336699' } })
      .png()
      .toBuffer(),
  );
  const me = async () => {
    const t = performance.now();
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${readerToken}` },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    await res.json();
    return performance.now() - t;
  };
  const stats = (xs: number[]) => {
    const s = [...xs].sort((x, y) => x - y);
    return {
      median: Number(s[Math.floor(s.length / 2)].toFixed(2)),
      p99: Number(s[Math.min(s.length - 1, Math.floor(s.length * 0.99))].toFixed(2)),
      requests: s.length,
    };
  };
  try {
    const alone: number[] = [];
    for (let i = 0; i < 200; i++) alone.push(await me());
    const query = 'mutation($i: SendMessageInput!) { sendMessage(input: $i) { attachments { width } } }';
    const files = [0, 1, 2, 3, 4];
    const operations = JSON.stringify({ query, variables: { i: { conversationId, content: '', attachments: files.map(() => null) } } });
    const map = JSON.stringify(Object.fromEntries(files.map((f) => [String(f), [`variables.i.attachments.${f}`]])));
    const t0 = performance.now();
    let uploading = true;
    const uploads = Promise.all(
      [0, 1, 2, 3].map(async () => {
        const { stdout } = await execFileP('curl', [
          '-sS',
          url,
          '-H',
          `authorization: Bearer ${senderToken}`,
          '-H',
          'apollo-require-preflight: true',
          '-F',
          `operations=${operations}`,
          '-F',
          `map=${map}`,
          ...files.flatMap((f) => ['-F', `${f}=@${path};filename=big-${f}.png`]),
        ]);
        const body = JSON.parse(stdout) as { data?: { sendMessage: { attachments: { width: number }[] } } };
        if (body.data?.sendMessage.attachments.length !== 5) throw new Error(`image upload failed: ${stdout.slice(0, 300)}`);
      }),
    ).finally(() => {
      uploading = false;
    });
    const during: number[] = [];
    while (uploading) during.push(await me());
    await uploads;
    return {
      images: '4 sends x 5 images of 6000x6000',
      uploadsSeconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
      meAloneMs: stats(alone),
      meDuringUploadsMs: stats(during),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
