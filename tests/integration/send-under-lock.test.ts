/**
 * Issue 27 §3, the rest: a send's rules (membership, mute, ban, removal, a notice's role, a block
 * in a DIRECT chat), a moderator's delete and a contact request's acceptance are checked again
 * under the lock their write takes, so a change committed while they wait refuses them with the
 * error their early check gives, and writes nothing. Real server and clients; the database is used
 * by the test only to hold the conversation's (or contact's) row lock, as a concurrent writer
 * would, and to count rows. The test waits for PostgreSQL to report the request waiting on that
 * lock (no timer decides). PostgreSQL only: the embedded PGlite has one connection, so a second
 * one cannot hold a lock while the server works (and it rarely shows these races at all).
 */
import { codeOf, gql, gqlOk, registerUser, waitFor, type TestUser } from '../support/client';
import { startTestServer, type TestServer } from '../support/test-server';
import { call, restUser } from './rest/rest-support';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ RATE_MESSAGES_PER_SEC: '1000', RATE_MESSAGES_BURST: '1000' });
});
afterAll(async () => {
  await server?.close();
});

const pg = process.env.DATABASE_URL ? test : test.skip;
const sql = <T = Record<string, unknown>>(query: string, params: unknown[] = []) => server.orm.em.fork().execute<T[]>(query, params);
const SEND = 'mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id } }';
type Result = Awaited<ReturnType<typeof gql>>;

/** Backends of this test's database waiting for a lock someone holds. */
async function waitingForLocks(): Promise<number> {
  const [row] = await sql<{ n: string }>(
    `select count(*) as n from pg_stat_activity where datname = current_database() and cardinality(pg_blocking_pids(pid)) > 0`,
  );
  return Number(row.n);
}

/**
 * Holds `lockSql` (a `select ... for update`) in a transaction of its own, starts `request`, waits
 * until it waits on that lock, runs `meanwhile` (committed before the lock is released; given
 * the holding transaction for writes that would wait on the lock themselves), then releases it.
 */
async function whileLocked<R = Result>(
  lockSql: string,
  params: unknown[],
  request: () => Promise<R>,
  meanwhile: (holder: ReturnType<typeof server.orm.em.fork>) => Promise<unknown>,
): Promise<R> {
  const holder = server.orm.em.fork();
  await holder.begin();
  let pending: Promise<R>;
  try {
    await holder.execute(lockSql, params);
    const before = await waitingForLocks();
    pending = request();
    await waitFor(async () => (await waitingForLocks()) > before, 'the request waits on the held row lock');
    await meanwhile(holder);
    await holder.commit();
  } catch (err) {
    await holder.rollback().catch(() => undefined);
    throw err;
  }
  return pending;
}
const LOCK_CONVERSATION = 'select "id" from "conversations" where "id" = ? for update';

async function groupWith(owner: TestUser, members: TestUser[]): Promise<number> {
  return Number(
    (
      await gqlOk(
        server.url,
        'mutation($m: [ID!]!) { createGroup(input: { name: "Under lock", memberIds: $m }) { id } }',
        { m: members.map((u) => u.id) },
        owner.token,
      )
    ).createGroup.id,
  );
}
const messagesOf = (c: number, u: TestUser) => sql('select "id" from "messages" where "conversation_id" = ? and "sender_id" = ?', [c, Number(u.id)]);

describe("a send waiting on the conversation's row lock", () => {
  pg('a ban committed meanwhile refuses it as a send after the ban is refused; no message', async () => {
    const alice = await registerUser(server.url, 'sl_a');
    const bob = await registerUser(server.url, 'sl_b');
    const c = await groupWith(alice, [bob]);
    const send = await whileLocked(
      LOCK_CONVERSATION,
      [c],
      () => gql(server.url, SEND, { c, t: 'through?' }, bob.token),
      (holder) => holder.execute('update "memberships" set "is_banned" = true where "conversation_id" = ? and "user_id" = ?', [c, Number(bob.id)]),
    );
    const after = await gql(server.url, SEND, { c, t: 'after' }, bob.token);
    expect(after.errors).toBeDefined();
    expect(codeOf(send)).toBe(codeOf(after));
    expect(await messagesOf(c, bob)).toEqual([]);
  });

  pg('a mute committed meanwhile (in its own transaction) refuses it: FORBIDDEN, no message', async () => {
    const alice = await registerUser(server.url, 'sm_a');
    const bob = await registerUser(server.url, 'sm_b');
    const c = await groupWith(alice, [bob]);
    // The mute is written by the test on the membership row (muteMember would wait on the same lock)
    // and commits on its own while the send waits.
    const send = await whileLocked(
      LOCK_CONVERSATION,
      [c],
      () => gql(server.url, SEND, { c, t: 'through?' }, bob.token),
      () => sql('update "memberships" set "is_muted" = true where "conversation_id" = ? and "user_id" = ?', [c, Number(bob.id)]),
    );
    expect(codeOf(send)).toBe('FORBIDDEN');
    expect(send.errors?.[0].message).toMatch(/muted/);
    expect(await messagesOf(c, bob)).toEqual([]);
  });

  pg('a removal committed meanwhile refuses it; no message', async () => {
    const alice = await registerUser(server.url, 'sr_a');
    const bob = await registerUser(server.url, 'sr_b');
    const c = await groupWith(alice, [bob]);
    const send = await whileLocked(
      LOCK_CONVERSATION,
      [c],
      () => gql(server.url, SEND, { c, t: 'through?' }, bob.token),
      (holder) => holder.execute('update "memberships" set "left_at" = now() where "conversation_id" = ? and "user_id" = ?', [c, Number(bob.id)]),
    );
    expect(send.errors).toBeDefined();
    expect(codeOf(send)).toBe(codeOf(await gql(server.url, SEND, { c, t: 'after' }, bob.token)));
    expect(await messagesOf(c, bob)).toEqual([]);
  });

  pg('a notice (seed 003 message_type "system") from an admin demoted meanwhile is refused like a member\'s: 403, no notice', async () => {
    const alice = await restUser(server, 'sn_a');
    const carol = await restUser(server, 'sn_c');
    const c = await groupWith(alice as unknown as TestUser, [carol as unknown as TestUser]);
    await gqlOk(
      server.url,
      'mutation($c: ID!, $u: ID!) { setMemberRole(conversationId: $c, userId: $u, role: ADMIN) { id } }',
      { c, u: carol.id },
      alice.token,
    );
    let status = 0;
    let error = '';
    await whileLocked(
      LOCK_CONVERSATION,
      [c],
      async () => {
        const res = await call(server, 'POST', `/chat/rooms/${c}/messages/`, { token: carol.token, json: { content: 'Notice', message_type: 'system' } });
        status = res.status;
        error = res.text;
        return {};
      },
      (holder) => holder.execute(`update "memberships" set "role" = 'MEMBER' where "conversation_id" = ? and "user_id" = ?`, [c, Number(carol.id)]),
    );
    expect({ status, error }).toEqual({ status: 403, error: expect.stringMatching(/owner or an admin/) });
    expect(await sql(`select "id" from "messages" where "conversation_id" = ? and "content" = 'Notice'`, [c])).toEqual([]);
  });

  pg('a block committed meanwhile in a DIRECT chat (either way) refuses it: FORBIDDEN, no message', async () => {
    for (const blockerIsRecipient of [true, false]) {
      const alice = await registerUser(server.url, 'sb_a');
      const bob = await registerUser(server.url, 'sb_b');
      const c = Number((await gqlOk(server.url, 'mutation($u: ID!) { openDirectChat(userId: $u) { id } }', { u: bob.id }, alice.token)).openDirectChat.id);
      const [blocker, blocked] = blockerIsRecipient ? [bob, alice] : [alice, bob];
      // blockUser takes no conversation lock: it commits while the send waits.
      const send = await whileLocked(
        LOCK_CONVERSATION,
        [c],
        () => gql(server.url, SEND, { c, t: 'through?' }, alice.token),
        () => gqlOk(server.url, 'mutation($u: ID!) { blockUser(userId: $u) { id } }', { u: blocked.id }, blocker.token),
      );
      expect({ blockerIsRecipient, code: codeOf(send) }).toEqual({ blockerIsRecipient, code: 'FORBIDDEN' });
      expect(await messagesOf(c, alice)).toEqual([]);
    }
  });

  pg('an archive committed meanwhile refuses it: FORBIDDEN, no message', async () => {
    const alice = await registerUser(server.url, 'sa_a');
    const bob = await registerUser(server.url, 'sa_b');
    const c = await groupWith(alice, [bob]);
    const send = await whileLocked(
      LOCK_CONVERSATION,
      [c],
      () => gql(server.url, SEND, { c, t: 'through?' }, bob.token),
      (holder) => holder.execute('update "conversations" set "archived_at" = now() where "id" = ?', [c]),
    );
    expect(codeOf(send)).toBe('FORBIDDEN');
    // The early check's refusal, word for word.
    const after = await gql(server.url, SEND, { c, t: 'after' }, bob.token);
    expect(send.errors?.[0].message).toBe(after.errors?.[0].message);
    expect(await messagesOf(c, bob)).toEqual([]);
  });

  pg('without a change meanwhile it is sent (the guard refuses nothing else)', async () => {
    const alice = await registerUser(server.url, 'so_a');
    const bob = await registerUser(server.url, 'so_b');
    const c = await groupWith(alice, [bob]);
    const send = await whileLocked(
      LOCK_CONVERSATION,
      [c],
      () => gql(server.url, SEND, { c, t: 'fine' }, bob.token),
      async () => undefined,
    );
    expect(send.errors).toBeUndefined();
    const d = Number((await gqlOk(server.url, 'mutation($u: ID!) { openDirectChat(userId: $u) { id } }', { u: bob.id }, alice.token)).openDirectChat.id);
    const direct = await whileLocked(
      LOCK_CONVERSATION,
      [d],
      () => gql(server.url, SEND, { c: d, t: 'fine' }, alice.token),
      async () => undefined,
    );
    expect(direct.errors).toBeUndefined();
    expect(await messagesOf(c, bob)).toHaveLength(1);
    expect(await messagesOf(d, alice)).toHaveLength(1);
  });
});

test('a burst of sends into a group and a DIRECT chat: all sent, seq gap-free', async () => {
  const alice = await registerUser(server.url, 'sx_a');
  const bob = await registerUser(server.url, 'sx_b');
  const c = await groupWith(alice, [bob]);
  const d = Number((await gqlOk(server.url, 'mutation($u: ID!) { openDirectChat(userId: $u) { id } }', { u: bob.id }, alice.token)).openDirectChat.id);
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => gql(server.url, SEND, { c: i % 2 ? c : d, t: `m${i}` }, i % 4 < 2 ? alice.token : bob.token)),
  );
  expect(results.filter((r) => r.errors)).toEqual([]);
  for (const id of [c, d]) {
    const seqs = (await sql<{ seq: number }>('select "seq" from "messages" where "conversation_id" = ? order by "seq"', [id])).map((r) => Number(r.seq));
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0] + i));
  }
});

describe("a moderator's delete and a contact's acceptance", () => {
  pg("an admin demoted while their delete waits on the conversation's row lock is refused; the message stays", async () => {
    const alice = await registerUser(server.url, 'sd_a');
    const carol = await registerUser(server.url, 'sd_c');
    const bob = await registerUser(server.url, 'sd_b');
    const c = await groupWith(alice, [carol, bob]);
    await gqlOk(
      server.url,
      'mutation($c: ID!, $u: ID!) { setMemberRole(conversationId: $c, userId: $u, role: ADMIN) { id } }',
      { c, u: carol.id },
      alice.token,
    );
    const message = (await gqlOk(server.url, SEND, { c, t: 'keep me' }, bob.token)).sendMessage.id;
    const del = await whileLocked(
      LOCK_CONVERSATION,
      [c],
      () => gql(server.url, 'mutation($id: ID!) { deleteMessage(id: $id) { id } }', { id: message }, carol.token),
      (holder) => holder.execute(`update "memberships" set "role" = 'MEMBER' where "conversation_id" = ? and "user_id" = ?`, [c, Number(carol.id)]),
    );
    expect(codeOf(del)).toBe('FORBIDDEN');
    expect(await sql('select "content", "deleted_at" from "messages" where "id" = ?', [Number(message)])).toEqual([{ content: 'keep me', deleted_at: null }]);
    // The owner still may (the re-check refuses only the demoted).
    await gqlOk(server.url, 'mutation($id: ID!) { deleteMessage(id: $id) { id } }', { id: message }, alice.token);
  });

  pg("a block committed while acceptContact waits on the request's row: NOT_FOUND, no ACCEPTED row", async () => {
    for (const blockerIsRequester of [true, false]) {
      const alice = await registerUser(server.url, 'sk_a');
      const bob = await registerUser(server.url, 'sk_b');
      const request = (await gqlOk(server.url, 'mutation($u: ID!) { requestContact(userId: $u) { id } }', { u: bob.id }, alice.token)).requestContact.id;
      const [blocker, blocked] = blockerIsRequester ? [alice, bob] : [bob, alice];
      const accept = await whileLocked(
        'select "id" from "contacts" where "id" = ? for update',
        [Number(request)],
        () => gql(server.url, 'mutation($id: ID!) { acceptContact(id: $id) { id status } }', { id: request }, bob.token),
        // blockUser's own writes, in the transaction holding the row (blockUser would wait on it).
        async (holder) => {
          await holder.execute('delete from "contacts" where "id" = ?', [Number(request)]);
          await holder.execute(
            `insert into "contacts" ("requester_id", "addressee_id", "status", "created_at", "updated_at") values (?, ?, 'BLOCKED', now(), now())`,
            [Number(blocker.id), Number(blocked.id)],
          );
        },
      );
      expect({ blockerIsRequester, code: codeOf(accept) }).toEqual({ blockerIsRequester, code: 'NOT_FOUND' });
      const rows = await sql<{ status: string }>(
        'select "status" from "contacts" where least("requester_id", "addressee_id") = ? and greatest("requester_id", "addressee_id") = ?',
        [Math.min(Number(alice.id), Number(bob.id)), Math.max(Number(alice.id), Number(bob.id))],
      );
      expect(rows.map((r) => r.status)).toEqual(['BLOCKED']);
    }
  });

  test('accept and decline still answer (and a block before the answer: NOT_FOUND)', async () => {
    const [a, b, c] = await Promise.all([registerUser(server.url, 'sq_a'), registerUser(server.url, 'sq_b'), registerUser(server.url, 'sq_c')]);
    const REQ = 'mutation($u: ID!) { requestContact(userId: $u) { id } }';
    const r1 = (await gqlOk(server.url, REQ, { u: b.id }, a.token)).requestContact.id;
    expect((await gqlOk(server.url, 'mutation($id: ID!) { acceptContact(id: $id) { status } }', { id: r1 }, b.token)).acceptContact.status).toBe('ACCEPTED');
    const r2 = (await gqlOk(server.url, REQ, { u: c.id }, a.token)).requestContact.id;
    await gqlOk(server.url, 'mutation($u: ID!) { blockUser(userId: $u) { id } }', { u: c.id }, a.token);
    expect(codeOf(await gql(server.url, 'mutation($id: ID!) { acceptContact(id: $id) { status } }', { id: r2 }, c.token))).toBe('NOT_FOUND');
  });
});

describe("an edit waiting on the conversation's row lock", () => {
  pg("a mute committed meanwhile refuses the sender's own edit: FORBIDDEN, the text unchanged", async () => {
    const alice = await registerUser(server.url, 'se_a');
    const bob = await registerUser(server.url, 'se_b');
    const c = await groupWith(alice, [bob]);
    const message = (await gqlOk(server.url, SEND, { c, t: 'original' }, bob.token)).sendMessage.id;
    const edit = await whileLocked(
      LOCK_CONVERSATION,
      [c],
      () => gql(server.url, 'mutation($id: ID!) { editMessage(id: $id, content: "edited") { id } }', { id: message }, bob.token),
      () => sql('update "memberships" set "is_muted" = true where "conversation_id" = ? and "user_id" = ?', [c, Number(bob.id)]),
    );
    expect(codeOf(edit)).toBe('FORBIDDEN');
    expect(await sql('select "content" from "messages" where "id" = ?', [Number(message)])).toEqual([{ content: 'original' }]);
  });
});
