import { randomBytes } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Pool } from 'pg';
import pino from 'pino';
import { startApp, type RunningApp } from '../../src/app';
import { loadConfig } from '../../src/config/config';
import { hashPassword } from '../../src/domain/auth/password';
import { Conversation, ConversationKind, MemberRole } from '../../src/domain/conversation/conversation.entity';
import { Membership } from '../../src/domain/conversation/membership.entity';
import { User } from '../../src/domain/user/user.entity';
import { cpuProfiler } from '../children';
import type { BigGroupFixture, HttpFixture, HttpServerCommand, OutboxCounts } from './protocol';

/**
 * A child process of the request-path benchmark (issue 12): `ours` (the chat server on
 * DATABASE_URL, or in-memory PGlite) or `anchor`: a bare node:http server that answers every
 * request from one `select 1` on a `pg` pool of the same size as ours (PGlite in this process
 * when there is no DATABASE_URL), the floor of one HTTP round trip plus one database round trip;
 * a POST to `/insert` instead writes one row with a durable commit (issue 35; see `anchor`).
 * Answers the orchestrator's commands over IPC.
 */
const kind = process.argv[2] as 'ours' | 'anchor';
const send = (m: unknown) => process.send!(m);
/** CPU time this process used so far (user + system), in µs. */
const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
/** The pool size both servers use: DB_POOL_MAX (ours reads the same variable). */
const poolMax = Number(process.env.DB_POOL_MAX ?? 20);

/** BENCH_CPU_PROF=<dir>: a V8 CPU profile between profileStart and profileStop. */
const profiler = cpuProfiler();
const profile = (cmd: 'profileStart' | 'profileStop', label: string) => (cmd === 'profileStart' ? profiler.start() : profiler.stop(`http-${kind}-${label}`));

/** The event loop's delay (ms, 10 ms resolution) since the last resetCounters: how long work waited for the loop. */
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const loopDelayMs = () => ({ p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 });

async function ours(): Promise<void> {
  let sql = 0;
  const env = {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: process.env.DATABASE_URL ? './data' : ':memory:',
    LOG_LEVEL: 'silent',
    RATE_MESSAGES_PER_SEC: '100000',
    RATE_WS_PER_MIN_IP: '100000',
    RATE_WS_PER_MIN_USER: '100000',
    // A page of 50 with reactions costs 32,901 (issue 27's cost: 50 summaries of 3 latest users per
    // message): the default budget (300,000 a second) would refuse the 10th page of a second.
    GRAPHQL_USER_COST_PER_SEC: '100000000',
    ACCESS_TOKEN_TTL: '3600',
    DB_POOL_MAX: String(poolMax),
    JWT_SECRET: randomBytes(32).toString('hex'),
    REDIS_PREFIX: `bench-${randomBytes(4).toString('hex')}`,
  };
  const app: RunningApp = await startApp(loadConfig(env), {
    logger: pino({ level: 'silent' }),
    onQuery: (line) => {
      sql++;
      if (process.env.BENCH_SQL_LOG) console.error(line.slice(0, 160));
    },
  });
  process.on('message', async (m: HttpServerCommand) => {
    try {
      if (m.cmd === 'fixture') send(await fixture(app, m.conversations, m.members, m.senders ?? 0));
      else if (m.cmd === 'bigGroup') send(await bigGroup(app, m.extra));
      else if (m.cmd === 'reactions') send(await reactions(app, m.conversationId, m.users));
      else if (m.cmd === 'webhook') send(await webhook(app, m.url));
      else if (m.cmd === 'outbox') send(await outboxCounts(app));
      else if (m.cmd === 'holdDelivery') {
        // bench/outbox `rowsOnly`: queued rows no longer wake this instance's worker (it polls at OUTBOX_POLL_MS only).
        app.services.pushOutbox.onQueued = () => undefined;
        send({ ok: true });
      } else if (m.cmd === 'stats')
        send({ sql, rss: process.memoryUsage().rss, subscribers: app.realtime.hub.subscriberCount(), cpuMicros: cpu(), loopDelayMs: loopDelayMs() });
      else if (m.cmd === 'resetCounters') {
        sql = 0;
        loopDelay.reset();
        send({ ok: true });
      } else if (m.cmd === 'profileStart' || m.cmd === 'profileStop') {
        await profile(m.cmd, m.label ?? '');
        send({ ok: true });
      } else if (m.cmd === 'stop') {
        await app.stop();
        process.exit(0);
      }
    } catch (err) {
      send({ error: String((err as Error).stack ?? err) });
    }
  });
  send({ ready: true, url: app.url, wsUrl: app.wsUrl });
}

/**
 * `conversations` GROUPs of `members` users each (rows written directly: registering thousands
 * of users would mostly time argon2), plus one DIRECT chat between the first group's first two
 * members; a login (access token) per user. With `senders` > 0, group c's first member is shared
 * sender c % senders (HttpFixture.senders); the other members belong to one group each.
 */
async function fixture(app: RunningApp, conversations: number, members: number, senders: number): Promise<HttpFixture> {
  const em = app.orm.em.fork();
  const hash = await hashPassword('benchmark-pass');
  const tag = randomBytes(3).toString('hex');
  const user = (name: string) => em.create(User, { username: name, usernameKey: name.toLowerCase(), passwordHash: hash, firstName: 'Bench', lastName: name });
  const shared = Array.from({ length: senders }, (_, j) => user(`s${j}_${tag}`));
  // Per group, its members in order (the first is the owner).
  const memberOf: User[][] = [];
  for (let c = 0; c < conversations; c++) {
    const row: User[] = [];
    for (let i = 0; i < members; i++) row.push(i === 0 && senders > 0 ? shared[c % senders] : user(`u${c}_${i}_${tag}`));
    memberOf.push(row);
  }
  await em.flush();
  const groups: Conversation[] = [];
  for (let c = 0; c < conversations; c++) {
    const owner = memberOf[c][0];
    const group = em.create(Conversation, { kind: ConversationKind.GROUP, name: `bench group ${c} ${tag}`, createdBy: owner.id });
    groups.push(group);
    for (let i = 0; i < members; i++) {
      em.create(Membership, { conversation: group, user: memberOf[c][i].id, role: i === 0 ? MemberRole.OWNER : MemberRole.MEMBER });
    }
  }
  await em.flush();
  const [a, b] = [memberOf[0][0], memberOf[0][1]];
  const actor = { id: a.id, username: a.username, isStaff: false };
  const direct = await app.services.conversations.openDirectWith({ actor, em: app.orm.em.fork() }, { userId: String(b.id) });
  // One login per user; a fresh EntityManager per login: one that managed them all would recompute every change set at each flush.
  const tokenOf = new Map<User, string>();
  for (const u of new Set(memberOf.flat())) tokenOf.set(u, (await app.services.auth.startSession(app.orm.em.fork(), u)).accessToken);
  return {
    conversationIds: groups.map((g) => String(g.id)),
    tokens: memberOf.map((row) => row.map((u) => tokenOf.get(u)!)),
    direct: { conversationId: String(direct.id), senderToken: tokenOf.get(a)!, recipientToken: tokenOf.get(b)! },
    ...(senders > 0
      ? {
          senders: shared.map((u, j) => ({
            token: tokenOf.get(u)!,
            conversationIndexes: Array.from({ length: conversations }, (_, c) => c).filter((c) => c % senders === j),
          })),
        }
      : {}),
  };
}

/**
 * The heavy-neighbour fixture (issue 27): two registered-like users (the heavy one owns a GROUP,
 * the bystander is outside it) and `extra` more members written as bulk rows, as
 * tests/integration/security/big-group.ts builds them (1000 registrations would mostly time argon2).
 */
async function bigGroup(app: RunningApp, extra: number): Promise<BigGroupFixture> {
  const em = app.orm.em.fork();
  const hash = await hashPassword('benchmark-pass');
  const tag = randomBytes(3).toString('hex');
  const [heavy, bystander] = ['heavy', 'bystander'].map((n) =>
    em.create(User, { username: `${n}_${tag}`, usernameKey: `${n}_${tag}`, passwordHash: hash, firstName: 'Bench', lastName: n }),
  );
  await em.flush();
  const group = em.create(Conversation, { kind: ConversationKind.GROUP, name: `bench big group ${tag}`, createdBy: heavy.id });
  em.create(Membership, { conversation: group, user: heavy.id, role: MemberRole.OWNER });
  await em.flush();
  await em.execute(
    `with u as (
       insert into "users" ("username", "username_key", "password_hash", "first_name", "last_name", "created_at", "updated_at")
       select ?::text || '_' || g, ?::text || '_' || g, 'x', 'Bulk', 'Member ' || g, now(), now() from generate_series(1, ?::int) g
       returning "id")
     insert into "memberships" ("conversation_id", "user_id", "role", "joined_at")
     select ?::int, u."id", 'MEMBER', now() from u`,
    [`bulk${tag}`, `bulk${tag}`, extra, group.id],
  );
  const token = async (u: User) => (await app.services.auth.startSession(app.orm.em.fork(), u)).accessToken;
  return { groupId: String(group.id), heavyToken: await token(heavy), bystanderToken: await token(bystander) };
}

/**
 * Reactions on every message of conversation `conversationId` (issue 31), as
 * tests/integration/query-count.test.ts writes them: `users` of its members, up to four emoji
 * each (about two thirds of the pairs), so each summary has a count, the viewer's own and the
 * latest users. Rows written directly (no change numbers: only the page's reads are measured).
 * Answers the number of reactions written.
 */
async function reactions(app: RunningApp, conversationId: string, users: number): Promise<{ reactions: number }> {
  const rows = await app.orm.em.fork().execute<{ n: number }[]>(
    `with r as (
       insert into "message_reactions" ("message_id", "user_id", "emoji", "created_at")
       select m."id", u."user_id", e."emoji", now() - (m."seq" || ' seconds')::interval
         from "messages" m
         cross join (select "user_id" from "memberships" where "conversation_id" = ? order by "user_id" limit ?) u
         cross join unnest(array['👍', '🎉', '😂', '❤️']) with ordinality as e("emoji", "k")
        where m."conversation_id" = ? and (m."seq" + u."user_id" * e."k") % 3 <> 0
       on conflict do nothing returning 1)
     select count(*)::int as n from r`,
    [Number(conversationId), users, Number(conversationId)],
  );
  return { reactions: Number(rows[0].n) };
}

/**
 * A webhook subscribed to every event (bench/outbox), registered by a staff user written for it,
 * through WebhookService (so this instance's sends queue webhook rows from now on). Answers its id.
 */
async function webhook(app: RunningApp, url: string): Promise<{ id: number }> {
  const em = app.orm.em.fork();
  const name = `hookstaff_${randomBytes(3).toString('hex')}`;
  const staff = em.create(User, { username: name, usernameKey: name, passwordHash: 'x', isStaff: true });
  await em.flush();
  const { webhook: w } = await app.services.webhooks.create({ actor: { id: staff.id, username: name, isStaff: true }, em }, { url, eventTypes: [] });
  return { id: w.id };
}

/** The outbox's rows by channel and status. */
async function outboxCounts(app: RunningApp): Promise<OutboxCounts> {
  const rows = await app.orm.em
    .fork()
    .execute<{ channel: string; status: string; n: number }[]>(`select "channel", "status", count(*)::int as n from "outbox" group by 1, 2`);
  const out: OutboxCounts = {};
  for (const r of rows) (out[r.channel] ??= {})[r.status] = Number(r.n);
  return out;
}

/**
 * The anchor: node:http answering each request after one database round trip. `POST /` (any body,
 * read to its end): one `select 1`. `POST /insert` (issue 35): the body parsed as a GraphQL request
 * and `variables.t` inserted as one row of `chat_bench_anchor_<pid>_<random>`, a logged table made
 * at start and dropped at stop, in autocommit: a committed one-row INSERT, fsynced when the server
 * has `synchronous_commit` on (PostgreSQL's default; not a temporary table, whose commits PostgreSQL
 * does not flush, having written no WAL for them). On PGlite (no DATABASE_URL) the database is in
 * this process and in memory, as ours is in the benchmark: neither pays a flush to disk.
 */
async function anchor(): Promise<void> {
  const url = process.env.DATABASE_URL;
  const pool = url ? new Pool({ connectionString: url, max: poolMax }) : undefined;
  const pglite = url ? undefined : new PGlite();
  const table = `chat_bench_anchor_${process.pid}_${randomBytes(4).toString('hex')}`;
  const sql = <R extends Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }> =>
    pool ? pool.query(text, params) : pglite!.query<R>(text, params);
  await sql(
    `create table "${table}" ("id" bigserial primary key, "conversation_id" int not null, "sender_id" int not null, "content" text not null, "created_at" timestamptz not null default now())`,
  );
  const insert = `insert into "${table}" ("conversation_id", "sender_id", "content") values ($1, $2, $3) returning "id", "created_at"`;
  const answer = (res: ServerResponse, work: Promise<unknown>) =>
    work.then(
      (data) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data })),
      (err) => res.writeHead(500).end(String(err)),
    );
  const http = createServer((req, res) => {
    if (req.url === '/insert') {
      // Reads and parses the body as ours does, then one durable one-row INSERT.
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let content: string;
        try {
          content = String((JSON.parse(Buffer.concat(chunks).toString()) as { variables?: { t?: unknown } }).variables?.t ?? '');
        } catch {
          res.writeHead(400).end('not JSON');
          return;
        }
        void answer(
          res,
          sql<{ id: string }>(insert, [1, 1, content]).then((r) => ({ insert: { id: String(r.rows[0].id) } })),
        );
      });
      return;
    }
    // Reads the body (a request like ours), then one database round trip.
    req.resume();
    req.on(
      'end',
      () =>
        void answer(
          res,
          sql<{ one: number }>('select 1 as one').then((r) => ({ one: r.rows[0].one })),
        ),
    );
  });
  http.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const { port } = http.address() as AddressInfo;
  process.on('message', async (m: HttpServerCommand) => {
    if (m.cmd === 'stats') send({ sql: 0, rss: process.memoryUsage().rss, subscribers: 0, cpuMicros: cpu() });
    else if (m.cmd === 'resetCounters') send({ ok: true });
    else if (m.cmd === 'profileStart' || m.cmd === 'profileStop') {
      await profile(m.cmd, m.label ?? '');
      send({ ok: true });
    } else if (m.cmd === 'stop') {
      http.close();
      http.closeAllConnections();
      await sql(`drop table if exists "${table}"`);
      await pool?.end();
      await pglite?.close();
      process.exit(0);
    }
  });
  send({ ready: true, url: `http://127.0.0.1:${port}/`, wsUrl: '' });
}

(kind === 'anchor' ? anchor() : ours()).catch((err) => {
  console.error(err);
  process.exit(1);
});
