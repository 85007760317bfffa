import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { activeMembershipSql, readableConversationSql } from '../../src/domain/conversation/conversation.policy';
import { PostgresSearchIndex } from '../../src/domain/search/search.index';
import { searchDocument } from '../../src/domain/search/normalize';
import { exactQuery, matchQuery, parseSearchQuery } from '../../src/domain/search/query';
import { forkChild, stopChild } from '../children';
import { adminQuery, latencies, postGraphql, timeSequential, type Latencies } from '../measure';
import type { HttpServerStats } from '../http/protocol';
import { LANGUAGE_SHARES, messageTexts, QUERIES } from './corpus';

/**
 * The search benchmark (issue 33), PostgreSQL only (DATABASE_URL; skipped without it). On a
 * database of its own (`chat_bench_search_<pid>_<random>`, created through DATABASE_URL and
 * dropped at the end):
 * - corpus: BENCH_SEARCH_MESSAGES (1,000,000) messages in 10,000 GROUPs of 5 members (1000 users),
 *   mixed languages (corpus.ts), one user (registered over GraphQL) a member of 200 of them. The
 *   rows are written by this process in multi-row INSERTs of 5000 (`unnest` of arrays), their
 *   search_document computed here by the server's own normalisation (normalize.ts searchDocument),
 *   without the GIN index; then the index is built and timed (next to rebuilding the table's
 *   btree index on (conversation_id, change_seq): the anchor), its size and the table's reported,
 *   and the table analysed (as autovacuum would after a bulk load);
 * - searches: searchMessages(first: 20) with highlight, over HTTP through the real server (the
 *   request-path bench's `ours` child, bench/http/server.ts), by the member user, one after
 *   another, BENCH_SEARCH_REQUESTS (200) per kind of query (single word, two words, one CJK
 *   character, Vietnamese without diacritics, phrase: corpus.ts QUERIES, in turn): p50, p95, p99
 *   (ms), next to the anchor (node:http + one `select 1`) in the same run. Target p95 <= 300 ms;
 * - sends: sendMessage over HTTP into one of the member's GROUPs (median, p95, p99), and the
 *   message INSERT statement alone on the corpus' table through `pg` (durable commit, then
 *   `synchronous_commit=off`), with and without the search_document column, interleaved; plus
 *   the CPU time of searchDocument() per message in this process;
 * - plans: EXPLAIN (ANALYZE, BUFFERS) of the index's statement (PostgresSearchIndex.statement) for
 *   a one-character CJK query and a Vietnamese one, for the member user.
 */
export async function benchSearch(): Promise<SearchBenchResult | { skipped: string }> {
  const base = process.env.DATABASE_URL;
  if (!base) return { skipped: 'needs DATABASE_URL (PostgreSQL)' };
  const name = `chat_bench_search_${process.pid}_${randomBytes(3).toString('hex')}`;
  await adminQuery(base, `create database "${name}"`);
  const u = new URL(base);
  u.pathname = `/${name}`;
  try {
    return await run(u.toString());
  } finally {
    await adminQuery(base, `drop database if exists "${name}" with (force)`);
  }
}

/** The scenario's figures (see benchSearch). */
export type SearchBenchResult = Awaited<ReturnType<typeof run>>;

const CONVERSATIONS = 10_000;
const MEMBERS = 5;
const USERS = 1000;
/** The member user is in every 50th conversation: 200 of 10,000. */
const MEMBER_EVERY = 50;
const BATCH = 5000;

async function run(databaseUrl: string) {
  const total = Number(process.env.BENCH_SEARCH_MESSAGES ?? 1_000_000);
  const requests = Number(process.env.BENCH_SEARCH_REQUESTS ?? 200);
  const loadAverageAtStart = loadavg().map((x) => Number(x.toFixed(2)));

  progress('anchor: node:http + one select 1');
  const anchor = await child('../http/server.js', ['anchor'], databaseUrl);
  const anchorLatency = await sequential(requests, () => post(anchor.info.url, { query: '{ one }' }));
  await stopChild(anchor.proc);

  progress('ours: migrating the database');
  const ours = await child('../http/server.js', ['ours'], databaseUrl);
  const url = ours.info.url;
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    progress(`corpus: ${total} messages in ${CONVERSATIONS} conversations`);
    const corpus = await loadCorpus(db, total);
    progress('corpus loaded:', JSON.stringify(corpus));
    const index = await buildIndex(db);
    progress('index:', JSON.stringify(index));

    // The member user: registered like any user, then a member of 200 conversations.
    const reg = await post(url, {
      query: 'mutation($i: RegisterInput!) { register(input: $i) { accessToken user { id username } } }',
      variables: { i: { username: `searcher${process.pid}`, password: 'benchmark-pass' } },
    });
    const member = (reg as { register: { accessToken: string; user: { id: string; username: string } } }).register;
    const memberId = Number(member.user.id);
    await db.query(
      `insert into "memberships" ("conversation_id", "user_id", "role", "joined_at")
       select c."id", $1, 'MEMBER', now() from "conversations" c where c."name" like 'sb %' and (substring(c."name" from 4))::int % ${MEMBER_EVERY} = 0`,
      [memberId],
    );
    await db.query('analyze "memberships"');
    const memberConversations = (
      await db.query<{ id: number }>('select "conversation_id" as id from "memberships" where "user_id" = $1 order by 1', [memberId])
    ).rows.map((r) => Number(r.id));
    const readable = Number(
      (await db.query<{ n: string }>('select count(*) as n from "messages" where "conversation_id" = any($1::int[])', [memberConversations])).rows[0].n,
    );
    progress(`member of ${memberConversations.length} conversations, ${readable} readable messages`);

    // Plans first (the searches below would warm the cache for them).
    const actor = { id: memberId, username: member.user.username, isStaff: false };
    const plans = {
      oneCjkCharacter: await explain(db, actor, '猫'),
      oneCommonCjkCharacter: await explain(db, actor, '的'),
      vietnameseWithoutDiacritics: await explain(db, actor, 'duoc'),
    };
    for (const [k, p] of Object.entries(plans))
      progress(
        `plan ${k}: ${p.executionMs} ms (correlated exists: ${p.correlatedExists?.executionMs} ms), GIN index used: ${p.usesGinIndex}\n${p.plan.join('\n')}\ncorrelated exists:\n${p.correlatedExists?.plan.join('\n')}`,
      );

    const SEARCH = 'query($q: String!) { searchMessages(query: $q, first: 20) { totalCount edges { node { highlight message { id content } } } } }';
    const searches: Record<string, Latencies & { sqlPerSearch: number; hits: Record<string, number> }> = {};
    for (const [kind, queries] of Object.entries(QUERIES)) {
      const hits: Record<string, number> = {};
      for (const q of queries) {
        const r = (await post(url, { query: SEARCH, variables: { q } }, member.accessToken)) as { searchMessages: { totalCount: number } };
        hits[q] = r.searchMessages.totalCount;
      }
      await ours.ask({ cmd: 'resetCounters' });
      let k = 0;
      const lat = await sequential(requests, () => post(url, { query: SEARCH, variables: { q: queries[k++ % queries.length] } }, member.accessToken), 0);
      const { sql } = await ours.ask<HttpServerStats>({ cmd: 'stats' });
      searches[kind] = { ...lat, sqlPerSearch: Number((sql / requests).toFixed(2)), hits };
      progress(`search ${kind}: ${JSON.stringify(searches[kind])}`);
    }

    // Sends with the index in place: over HTTP, then the INSERT statement alone.
    const texts = messageTexts(7);
    const target = String(memberConversations[0]);
    const send = await sequential(Math.min(requests, 300), () =>
      post(
        url,
        {
          query: 'mutation($c: ID, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id } }',
          variables: { c: target, t: texts.next() },
        },
        member.accessToken,
      ),
    );
    progress(`sendMessage: ${JSON.stringify(send)}`);
    const insert = await insertCost(db, Math.min(requests, 300));
    progress(`INSERT alone: ${JSON.stringify(insert)}`);

    await stopChild(ours.proc);
    return {
      database: 'postgresql',
      loadAverageAtStart,
      corpus: { ...corpus, conversations: CONVERSATIONS, membersPerConversation: MEMBERS, users: USERS, languageShares: LANGUAGE_SHARES },
      member: { conversations: memberConversations.length, readableMessages: readable },
      index,
      anchorNodeHttpSelectOne: anchorLatency,
      searchMs: searches,
      target: 'p95 <= 300 ms for every kind',
      met: Object.values(searches).every((s) => s.p95 <= 300),
      sendMessageMs: send,
      insertStatementMs: insert,
      plans,
    };
  } finally {
    await db.end();
    if (ours.proc.exitCode === null) await stopChild(ours.proc);
  }
}

/**
 * Users, conversations, memberships (one statement each) and `total` messages (multi-row INSERTs
 * of BATCH, texts and documents computed while the previous batch is written), without the GIN
 * index (dropped first, built by buildIndex). Returns the times (s) and the CPU time of the
 * documents (µs per message).
 */
async function loadCorpus(db: Client, total: number) {
  const t0 = performance.now();
  await db.query('drop index if exists "messages_search_document_idx"');
  await db.query(
    `insert into "users" ("username", "username_key", "password_hash", "first_name", "last_name", "created_at", "updated_at")
     select 'sb_' || g, 'sb_' || g, 'x', 'Bench', 'User ' || g, now(), now() from generate_series(0, ${USERS - 1}) g`,
  );
  const userIds = new Map<number, number>(
    (await db.query<{ id: number; username: string }>(`select "id", "username" from "users" where "username" like 'sb\\_%'`)).rows.map((r) => [
      Number(r.username.slice(3)),
      Number(r.id),
    ]),
  );
  await db.query(
    `insert into "conversations" ("kind", "name", "created_by_id", "last_activity_at", "created_at", "updated_at")
     select 'GROUP', 'sb ' || g, (select "id" from "users" where "username" = 'sb_' || ((g * ${MEMBERS}) % ${USERS})), now(), now(), now()
       from generate_series(0, ${CONVERSATIONS - 1}) g`,
  );
  const convIds = new Map<number, number>(
    (await db.query<{ id: number; name: string }>(`select "id", "name" from "conversations" where "name" like 'sb %'`)).rows.map((r) => [
      Number(r.name.slice(3)),
      Number(r.id),
    ]),
  );
  // Conversation g's members: users (g * MEMBERS + k) % USERS, k < MEMBERS (the first is its owner).
  await db.query(
    `insert into "memberships" ("conversation_id", "user_id", "role", "joined_at")
     select c."id", u."id", case when k = 0 then 'OWNER'::"member_role" else 'MEMBER'::"member_role" end, now()
       from generate_series(0, ${CONVERSATIONS - 1}) g cross join generate_series(0, ${MEMBERS - 1}) k
       join "conversations" c on c."name" = 'sb ' || g
       join "users" u on u."username" = 'sb_' || ((g * ${MEMBERS} + k) % ${USERS})`,
  );
  const setup = performance.now() - t0;

  const texts = messageTexts(33);
  const rand = (() => {
    let x = 12345;
    return () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
  })();
  const start = Date.now() - 365 * 86_400_000;
  const step = (365 * 86_400_000) / total;
  let docMicros = 0;
  const batch = (from: number) => {
    const cols = { conv: [] as number[], seq: [] as number[], sender: [] as number[], content: [] as string[], at: [] as string[], doc: [] as string[] };
    for (let i = from; i < Math.min(total, from + BATCH); i++) {
      const g = i % CONVERSATIONS;
      const content = texts.next();
      const d0 = performance.now();
      cols.doc.push(searchDocument(content));
      docMicros += (performance.now() - d0) * 1000;
      cols.conv.push(convIds.get(g)!);
      cols.seq.push(Math.floor(i / CONVERSATIONS) + 1);
      cols.sender.push(userIds.get((g * MEMBERS + Math.floor(rand() * MEMBERS)) % USERS)!);
      cols.content.push(content);
      cols.at.push(new Date(start + i * step).toISOString());
    }
    return cols;
  };
  const t1 = performance.now();
  let next = batch(0);
  for (let from = 0; from < total; from += BATCH) {
    const c = next;
    const write = db.query(
      `insert into "messages" ("conversation_id", "seq", "sender_id", "kind", "content", "created_change", "change_seq", "created_at", "search_document")
       select v.c, v.s, v.u, 'TEXT', v.t, v.s, v.s, v.a, v.d::tsvector
         from unnest($1::int[], $2::int[], $3::int[], $4::text[], $5::timestamptz[], $6::text[]) as v(c, s, u, t, a, d)`,
      [c.conv, c.seq, c.sender, c.content, c.at, c.doc],
    );
    // The next batch's texts and documents while this one is written.
    if (from + BATCH < total) next = batch(from + BATCH);
    await write;
    if ((from / BATCH) % 20 === 19) progress(`${from + BATCH} messages`);
  }
  const messages = performance.now() - t1;
  await db.query(
    `update "conversations" c set "last_seq" = x.n, "change_seq" = x.n
       from (select "conversation_id", max("seq") as n from "messages" group by 1) x where x."conversation_id" = c."id"`,
  );
  return {
    messages: total,
    setupSeconds: Number((setup / 1000).toFixed(1)),
    messagesLoadSeconds: Number((messages / 1000).toFixed(1)),
    messagesPerSec: Math.round(total / (messages / 1000)),
    searchDocumentMicrosPerMessage: Number((docMicros / total).toFixed(1)),
  };
}

/**
 * Builds the GIN index as the migration does (timed), rebuilds the table's btree index on
 * (conversation_id, change_seq) (the anchor, timed), analyses the table, and reports sizes (MiB).
 */
async function buildIndex(db: Client) {
  const { rows: settings } = await db.query<{ m: string }>("select current_setting('maintenance_work_mem') as m");
  const timed = async (sql: string) => {
    const t = performance.now();
    await db.query(sql);
    return Number(((performance.now() - t) / 1000).toFixed(1));
  };
  progress('building the GIN index');
  const ginSeconds = await timed('create index "messages_search_document_idx" on "messages" using gin ("search_document")');
  progress(`GIN index built in ${ginSeconds} s; rebuilding the btree anchor`);
  const btreeSeconds = await timed('reindex index "messages_conversation_id_change_seq_index"');
  const analyzeSeconds = await timed('vacuum analyze "messages"');
  const mib = async (sql: string) => Number((Number((await db.query<{ b: string }>(sql)).rows[0].b) / 1048576).toFixed(1));
  return {
    maintenanceWorkMem: settings[0].m,
    ginBuildSeconds: ginSeconds,
    btreeConversationChangeSeqRebuildSeconds: btreeSeconds,
    vacuumAnalyzeSeconds: analyzeSeconds,
    ginIndexMiB: await mib(`select pg_relation_size('messages_search_document_idx') as b`),
    btreeConversationChangeSeqMiB: await mib(`select pg_relation_size('messages_conversation_id_change_seq_index') as b`),
    tableHeapMiB: await mib(`select pg_relation_size('messages') as b`),
    tableTotalMiB: await mib(`select pg_total_relation_size('messages') as b`),
    contentTextMiB: await mib(`select sum(octet_length("content")) as b from "messages"`),
    searchDocumentMiB: await mib(`select sum(pg_column_size("search_document")) as b from "messages"`),
  };
}

/**
 * The message INSERT statement alone, `count` times each with and without search_document
 * (interleaved, the order swapped every round), autocommit: with a durable commit, then with
 * `synchronous_commit=off` (what is left without the WAL flush). Median and p99 in ms.
 */
async function insertCost(db: Client, count: number) {
  const texts = messageTexts(99);
  const [{ id: conv }] = (await db.query<{ id: number }>(`select "id" from "conversations" where "name" = 'sb 1'`)).rows;
  const [{ id: sender }] = (await db.query<{ id: number }>(`select "user_id" as id from "memberships" where "conversation_id" = $1 limit 1`, [conv])).rows;
  let seq = 10_000_000;
  const withDoc = `insert into "messages" ("conversation_id", "seq", "sender_id", "kind", "content", "created_change", "change_seq", "created_at", "search_document")
    values ($1, $2, $3, 'TEXT', $4, $2, $2, now(), $5::tsvector) returning "id"`;
  const without = `insert into "messages" ("conversation_id", "seq", "sender_id", "kind", "content", "created_change", "change_seq", "created_at")
    values ($1, $2, $3, 'TEXT', $4, $2, $2, now()) returning "id"`;
  const measure = async () => {
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < count + 20; i++) {
      const content = texts.next();
      const one = async (sql: string, into: number[], doc: boolean) => {
        const t = performance.now();
        await db.query({ text: sql, values: doc ? [conv, seq++, sender, content, searchDocument(content)] : [conv, seq++, sender, content] });
        if (i >= 20) into.push(performance.now() - t);
      };
      if (i % 2) {
        await one(withDoc, a, true);
        await one(without, b, false);
      } else {
        await one(without, b, false);
        await one(withDoc, a, true);
      }
    }
    return { withSearchDocument: latencies(a), withoutSearchDocument: latencies(b) };
  };
  const durable = await measure();
  await db.query('set synchronous_commit = off');
  const noFlush = await measure();
  await db.query('reset synchronous_commit');
  return { durableCommit: durable, synchronousCommitOff: noFlush, note: 'with the GIN index (fastupdate: a new document goes to its pending list)' };
}

interface Actor {
  id: number;
  username: string;
  isStaff: boolean;
}

/** EXPLAIN (ANALYZE, BUFFERS) of the index's statement for `query` by `actor` (first page of 20, RELEVANCE). */
async function explain(db: Client, actor: Actor, query: string) {
  const parsed = parseSearchQuery(query);
  const { sql, params } = new PostgresSearchIndex().statement(actor as never, {
    match: matchQuery(parsed),
    exact: exactQuery(parsed),
    conversationIds: null,
    senders: null,
    before: null,
    after: null,
    hasFile: false,
    hasImage: false,
    order: 'RELEVANCE',
    cursor: null,
    size: 20,
  });
  let n = 0;
  const text = sql.replace(/\?/g, () => `$${++n}`);
  const run = async (statement: string) => {
    const { rows } = await db.query<{ 'QUERY PLAN': string }>(`explain (analyze, buffers) ${statement}`, params);
    const plan = rows.map((r) => r['QUERY PLAN']);
    const exec = plan.find((l) => l.startsWith('Execution Time'));
    return { usesGinIndex: plan.some((l) => l.includes('messages_search_document_idx')), executionMs: exec ? Number(/([\d.]+) ms/.exec(exec)![1]) : NaN, plan };
  };
  // The readability test as it was before this bench (a correlated exists), on the same corpus: the figure before the fix.
  const now = readableConversationSql(actor as never, 'm."conversation_id"');
  const correlated = `exists (select 1 from "memberships" rm where rm."conversation_id" = m."conversation_id" and rm."user_id" = ${Number(actor.id)} and ${activeMembershipSql('rm')})`;
  const before = text.includes(now) ? await run(text.replace(now, correlated)) : null;
  return { query, ...(await run(text)), correlatedExists: before && { executionMs: before.executionMs, usesGinIndex: before.usesGinIndex, plan: before.plan } };
}

/** `count` requests one after another (after `warm` unmeasured ones): percentiles in ms. */
async function sequential(count: number, fn: () => Promise<unknown>, warm = 20): Promise<Latencies> {
  return latencies(await timeSequential(count, fn, warm));
}

const progress = (...parts: unknown[]) => console.error(`[bench search ${new Date().toISOString().slice(11, 19)}]`, ...parts);

const agent = new Agent({ keepAlive: true, maxSockets: 16 });

/** One GraphQL POST (or the anchor's) over this bench's agent (measure.ts postGraphql). */
const post = (url: string, body: object, token?: string) => postGraphql(agent, url, body, token);

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Forks a server child of bench/http on `databaseUrl` (search not rate-limited); `ask` sends a command and resolves with the next answer. */
function child(script: string, args: string[], databaseUrl: string) {
  return forkChild(join(__dirname, script), args, children, { env: { ...process.env, DATABASE_URL: databaseUrl, RATE_SEARCHES_PER_MIN: '100000' } });
}
