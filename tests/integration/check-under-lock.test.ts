/**
 * Issue 27 §3: rules checked again under the row lock a write takes. Concurrent `addMember` of one
 * user writes once (one membership, one SYSTEM notice, one invitation); a block committed while an
 * add waits on the group's row lock stops the add; crossing `requestContact` leave one row per
 * pair, accepted. Real server and clients; the database is read only to count rows. On PostgreSQL
 * the test itself holds a row lock so the interleaving is the one the issue found, not a matter of
 * timing (the test waits for the database to report the request waiting: no timer decides).
 */
import { codeOf, gql, gqlOk, registerUser, waitFor, type TestUser } from '../support/client';
import { startTestServer, type TestServer } from '../support/test-server';

let server: TestServer;
// Bursts of 20 concurrent writes from one user: the per-user request budget (GRAPHQL_USER_MAX_IN_FLIGHT,
// default 8) and the member-add limit would refuse some of them before they reach the locks under test.
beforeAll(async () => {
  server = await startTestServer({
    RATE_MESSAGES_PER_SEC: '1000',
    RATE_MESSAGES_BURST: '1000',
    GRAPHQL_USER_MAX_IN_FLIGHT: '64',
    RATE_MEMBER_ADDS_PER_HOUR: '10000',
  });
});
afterAll(async () => {
  await server?.close();
});

const sql = <T = Record<string, unknown>>(query: string, params: unknown[] = []) => server.orm.em.fork().execute<T[]>(query, params);
const ADD = 'mutation($c: ID!, $u: ID!) { addMember(conversationId: $c, userId: $u) { id } }';
const REQUEST = 'mutation($u: ID!) { requestContact(userId: $u) { id status } }';
const BLOCK = 'mutation($u: ID!) { blockUser(userId: $u) { id } }';

async function groupOf(owner: TestUser, name = 'Locks'): Promise<string> {
  return (await gqlOk(server.url, 'mutation($n: String!) { createGroup(input: { name: $n, memberIds: [] }) { id } }', { n: name }, owner.token)).createGroup.id;
}

/** Backends of this test's database waiting for a lock someone holds (PostgreSQL). */
async function waitingForLocks(): Promise<number> {
  const [row] = await sql<{ n: string }>(
    `select count(*) as n from pg_stat_activity where datname = current_database() and cardinality(pg_blocking_pids(pid)) > 0`,
  );
  return Number(row.n);
}

describe('addMember', () => {
  test('20 concurrent adds of one user: one membership, one SYSTEM notice, one invitation; the row is not reset', async () => {
    for (let round = 0; round < 3; round++) {
      const alice = await registerUser(server.url, 'lk_a');
      const bob = await registerUser(server.url, 'lk_b');
      const group = await groupOf(alice);
      const results = await Promise.all(Array.from({ length: 20 }, () => gql(server.url, ADD, { c: group, u: bob.id }, alice.token)));
      expect(results.map((r) => (r.errors ? codeOf(r) : 'ok'))).toEqual(Array(20).fill('ok'));
      const c = Number(group);
      const memberships = await sql<{ last_read_seq: number }>('select "last_read_seq" from "memberships" where "conversation_id" = ? and "user_id" = ?', [
        c,
        Number(bob.id),
      ]);
      const notices = await sql<{ seq: number }>(`select "seq" from "messages" where "conversation_id" = ? and "kind" = 'SYSTEM' and "content" like ?`, [
        c,
        `% added ${bob.username}`,
      ]);
      const invites = await sql(`select "id" from "notifications" where "user_id" = ? and "kind" = 'ROOM_INVITE' and "conversation_id" = ?`, [
        Number(bob.id),
        c,
      ]);
      expect({ round, memberships: memberships.length, notices: notices.length, invites: invites.length }).toEqual({
        round,
        memberships: 1,
        notices: 1,
        invites: 1,
      });
      // The one membership starts at the one notice (each extra add used to reset it to its own).
      expect(Number(memberships[0].last_read_seq)).toBe(Number(notices[0].seq));
      // Adding again later writes nothing either.
      await gqlOk(server.url, ADD, { c: group, u: bob.id }, alice.token);
      expect((await sql(`select "id" from "messages" where "conversation_id" = ? and "kind" = 'SYSTEM'`, [c])).length).toBe(2); // created + added
    }
  });

  (process.env.DATABASE_URL ? test : test.skip)(
    "a block committed while the add waits on the group's row lock stops the add (FORBIDDEN, nothing written)",
    async () => {
      const alice = await registerUser(server.url, 'lb_a');
      const bob = await registerUser(server.url, 'lb_b');
      const group = await groupOf(alice);
      const holder = server.orm.em.fork();
      await holder.begin();
      let add: Promise<Awaited<ReturnType<typeof gql>>>;
      try {
        await holder.execute('select "id" from "conversations" where "id" = ? for update', [Number(group)]);
        const before = await waitingForLocks();
        add = gql(server.url, ADD, { c: group, u: bob.id }, alice.token);
        await waitFor(async () => (await waitingForLocks()) > before, "the add waits on the group's row lock");
        // Bob blocks Alice meanwhile: committed before the add gets the lock.
        await gqlOk(server.url, BLOCK, { u: alice.id }, bob.token);
        await holder.commit();
      } catch (err) {
        await holder.rollback().catch(() => undefined);
        throw err;
      }
      expect(codeOf(await add)).toBe('FORBIDDEN');
      const c = Number(group);
      expect(await sql('select "id" from "memberships" where "conversation_id" = ? and "user_id" = ?', [c, Number(bob.id)])).toEqual([]);
      expect(await sql(`select "id" from "notifications" where "user_id" = ? and "kind" = 'ROOM_INVITE'`, [Number(bob.id)])).toEqual([]);
      expect((await sql(`select "id" from "messages" where "conversation_id" = ? and "kind" = 'SYSTEM'`, [c])).length).toBe(1); // created only
    },
  );

  (process.env.DATABASE_URL ? test : test.skip)("an admin demoted while their add waits on the group's row lock is refused", async () => {
    const alice = await registerUser(server.url, 'ld_a');
    const carol = await registerUser(server.url, 'ld_c');
    const bob = await registerUser(server.url, 'ld_b');
    const group = (
      await gqlOk(server.url, 'mutation($m: [ID!]!) { createGroup(input: { name: "Demote", memberIds: $m }) { id } }', { m: [carol.id] }, alice.token)
    ).createGroup.id;
    await gqlOk(
      server.url,
      'mutation($c: ID!, $u: ID!) { setMemberRole(conversationId: $c, userId: $u, role: ADMIN) { id } }',
      { c: group, u: carol.id },
      alice.token,
    );
    const holder = server.orm.em.fork();
    await holder.begin();
    let add: Promise<Awaited<ReturnType<typeof gql>>>;
    try {
      await holder.execute('select "id" from "conversations" where "id" = ? for update', [Number(group)]);
      const before = await waitingForLocks();
      add = gql(server.url, ADD, { c: group, u: bob.id }, carol.token);
      await waitFor(async () => (await waitingForLocks()) > before, "the add waits on the group's row lock");
      // The demotion is written by the test on the membership row (setMemberRole itself would wait on the same lock).
      await sql(`update "memberships" set "role" = 'MEMBER' where "conversation_id" = ? and "user_id" = ?`, [Number(group), Number(carol.id)]);
      await holder.commit();
    } catch (err) {
      await holder.rollback().catch(() => undefined);
      throw err;
    }
    expect(codeOf(await add)).toBe('FORBIDDEN');
    expect(await sql('select "id" from "memberships" where "conversation_id" = ? and "user_id" = ?', [Number(group), Number(bob.id)])).toEqual([]);
  });
});

describe('leaving and removing', () => {
  test('10 concurrent removals of one member and their own leave: one SYSTEM notice, one change', async () => {
    const alice = await registerUser(server.url, 'lr_a');
    const bob = await registerUser(server.url, 'lr_b');
    const group = (
      await gqlOk(server.url, 'mutation($m: [ID!]!) { createGroup(input: { name: "Leave", memberIds: $m }) { id } }', { m: [bob.id] }, alice.token)
    ).createGroup.id;
    const results = await Promise.all([
      ...Array.from({ length: 10 }, () =>
        gql(server.url, 'mutation($c: ID!, $u: ID!) { removeMember(conversationId: $c, userId: $u) }', { c: group, u: bob.id }, alice.token),
      ),
      gql(server.url, 'mutation($c: ID!) { leaveConversation(id: $c) }', { c: group }, bob.token),
    ]);
    // Each call succeeds or finds bob gone already (NOT_FOUND); none writes a second notice.
    for (const r of results) expect(r.errors ? codeOf(r) : 'ok').toMatch(/^(ok|NOT_FOUND)$/);
    const notices = await sql(
      `select "content" from "messages" where "conversation_id" = ? and "kind" = 'SYSTEM' and ("content" like '% left' or "content" like '% removed %')`,
      [Number(group)],
    );
    expect(notices).toHaveLength(1);
  });
});

describe('requestContact', () => {
  test('two requests crossing at the same moment: one row for the pair, ACCEPTED, the same contact for both', async () => {
    for (let round = 0; round < 8; round++) {
      const a = await registerUser(server.url, 'lc_a');
      const b = await registerUser(server.url, 'lc_b');
      const [ra, rb] = await Promise.all([gqlOk(server.url, REQUEST, { u: b.id }, a.token), gqlOk(server.url, REQUEST, { u: a.id }, b.token)]);
      const rows = await sql<{ status: string }>(
        'select "status" from "contacts" where ("requester_id" = ? and "addressee_id" = ?) or ("requester_id" = ? and "addressee_id" = ?)',
        [Number(a.id), Number(b.id), Number(b.id), Number(a.id)],
      );
      expect({ round, rows: rows.map((r) => r.status) }).toEqual({ round, rows: ['ACCEPTED'] });
      expect(ra.requestContact.id).toBe(rb.requestContact.id);
      // The second of the two answered with the accepted row; asking again changes nothing.
      expect((await gqlOk(server.url, REQUEST, { u: b.id }, a.token)).requestContact).toEqual({ id: ra.requestContact.id, status: 'ACCEPTED' });
    }
  });

  test('a burst of the same request both ways: still one row', async () => {
    const a = await registerUser(server.url, 'lm_a');
    const b = await registerUser(server.url, 'lm_b');
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? gql(server.url, REQUEST, { u: b.id }, a.token) : gql(server.url, REQUEST, { u: a.id }, b.token))),
    );
    expect(results.map((r) => (r.errors ? codeOf(r) : 'ok'))).toEqual(Array(10).fill('ok'));
    const rows = await sql('select "status" from "contacts" where least("requester_id", "addressee_id") = ? and greatest("requester_id", "addressee_id") = ?', [
      Math.min(Number(a.id), Number(b.id)),
      Math.max(Number(a.id), Number(b.id)),
    ]);
    expect(rows).toEqual([{ status: 'ACCEPTED' }]);
  });
});

describe('migration contact_pair', () => {
  test('merges pairs already doubled: crossing PENDING rows become one ACCEPTED, ACCEPTED wins, a PENDING request over a DECLINED one; blocks untouched', async () => {
    const { Migration20261207153500_contact_pair: ContactPair } = await import('../../migrations/Migration20261207153500_contact_pair');
    const [a, b, c, d, e, f] = await Promise.all(Array.from({ length: 6 }, (_, i) => registerUser(server.url, `lx${i}_`)));
    const id = (u: TestUser) => Number(u.id);
    const insert = (from: TestUser, to: TestUser, status: string) =>
      sql<{ id: number }>(
        `insert into "contacts" ("requester_id", "addressee_id", "status", "created_at", "updated_at") values (?, ?, ?, now(), now()) returning "id"`,
        [id(from), id(to), status],
      );
    const pairOf = (x: TestUser, y: TestUser) =>
      sql<{ id: number; requester_id: number; status: string }>(
        `select "id", "requester_id", "status" from "contacts" where least("requester_id", "addressee_id") = ? and greatest("requester_id", "addressee_id") = ? order by "id"`,
        [Math.min(id(x), id(y)), Math.max(id(x), id(y))],
      );
    // The doubles the index now prevents, as they were left by the race before it.
    await sql('drop index "contacts_pair_unique"');
    try {
      const [crossing] = await insert(a, b, 'PENDING');
      await insert(b, a, 'PENDING');
      await insert(c, d, 'PENDING');
      const [accepted] = await insert(d, c, 'ACCEPTED');
      await insert(e, f, 'DECLINED');
      const [live] = await insert(f, e, 'PENDING');
      await insert(a, c, 'BLOCKED');
      await insert(c, a, 'BLOCKED');
      const [single] = await insert(a, d, 'PENDING');
      const migration = new ContactPair(server.orm.em.getDriver(), server.orm.config);
      await migration.up();
      for (const q of migration.getQueries()) await sql(String(q));
      const shape = (rows: { id: number; status: string }[]) => rows.map((r) => ({ id: Number(r.id), status: r.status }));
      expect(shape(await pairOf(a, b))).toEqual([{ id: Number(crossing.id), status: 'ACCEPTED' }]);
      expect(shape(await pairOf(c, d))).toEqual([{ id: Number(accepted.id), status: 'ACCEPTED' }]);
      expect(shape(await pairOf(e, f))).toEqual([{ id: Number(live.id), status: 'PENDING' }]);
      expect((await pairOf(a, c)).map((r) => r.status)).toEqual(['BLOCKED', 'BLOCKED']);
      expect(shape(await pairOf(a, d))).toEqual([{ id: Number(single.id), status: 'PENDING' }]);
      // And the index holds: a second connection row of a pair is refused.
      await expect(insert(b, a, 'PENDING')).rejects.toThrow();
    } finally {
      await sql(
        `create unique index if not exists "contacts_pair_unique" on "contacts" (least("requester_id", "addressee_id"), greatest("requester_id", "addressee_id")) where "status" <> 'BLOCKED'`,
      );
    }
  });
});

describe('profile writes beside writes that reference the user', () => {
  // CI's PostgreSQL run: a profile write locked its user's row FOR UPDATE, which waits for (and
  // queues ahead of) the KEY SHARE locks that every insert referencing the user takes (a message
  // revision's editor, a reaction's user); a staff edit of the user's message and the user's own
  // profile writes then formed a deadlock, answered INTERNAL_SERVER_ERROR.
  test('a burst of profile writes, staff edits of the user’s messages, their own edits and reactions: every call answers, none with an error', async () => {
    const bob = await registerUser(server.url, 'pk_b');
    const staff = await registerUser(server.url, 'pk_s');
    await sql('update "users" set "is_staff" = true where "id" = ?', [Number(staff.id)]);
    const group = await groupOf(bob, 'Profile locks');
    const messages: string[] = [];
    for (let i = 0; i < 8; i++) {
      messages.push(
        (
          await gqlOk(
            server.url,
            'mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id } }',
            { c: group, t: `m${i}` },
            bob.token,
          )
        ).sendMessage.id,
      );
    }
    for (let round = 0; round < 4; round++) {
      const results = await Promise.all([
        ...messages.map((m, i) =>
          gql(server.url, 'mutation($m: ID!, $t: String!) { editMessage(id: $m, content: $t) { id } }', { m, t: `staff ${round} ${i}` }, staff.token),
        ),
        ...messages.map((m, i) =>
          gql(server.url, 'mutation($m: ID!, $t: String!) { editMessage(id: $m, content: $t) { id } }', { m, t: `own ${round} ${i}` }, bob.token),
        ),
        ...messages.map((m) =>
          gql(server.url, 'mutation($m: ID!, $e: String!) { addReaction(messageId: $m, emoji: $e) { id } }', { m, e: ['👍', '🎉'][round % 2] }, bob.token),
        ),
        ...[bob, staff].flatMap((u) =>
          Array.from({ length: 6 }, (_, i) =>
            gql(server.url, 'mutation($n: String!) { updateProfile(input: { firstName: $n }) { id } }', { n: `N${round}${i}` }, u.token),
          ),
        ),
      ]);
      expect(results.map((r) => (r.errors ? `${codeOf(r)}: ${r.errors[0].message}` : 'ok'))).toEqual(Array(results.length).fill('ok'));
    }
  });
});
