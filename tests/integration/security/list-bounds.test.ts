/**
 * Issue 27 §1, through real servers: every list that grows with other users' actions is bounded
 * (members, contacts, unreadSummary's lists, mentions), the cost counts each list at its real
 * maximum (variables included) on HTTP and graphql-ws, one user's heavy requests sent at once are
 * refused with RATE_LIMITED while other users and /healthz keep answering, and adding other people
 * to conversations is limited per actor (RATE_MEMBER_ADDS_PER_HOUR) on GraphQL and REST alike.
 */
import { performance } from 'node:perf_hooks';
import { codeOf, gql, gqlOk, registerUser, type GqlResult, type TestUser } from '../../support/client';
import { startTestServer, type TestServer } from '../../support/test-server';
import { call } from '../rest/rest-support';
import { bigGroup } from './big-group';
import { RawSocket } from './transport-support';

jest.setTimeout(180000);

/** The probe of the issue: 15 aliases of one conversation's members with their users. */
const heavy = (g: string) =>
  `{ ${Array.from({ length: 15 }, (_, i) => `a${i}: conversation(id: "${g}") { members { user { id username fullName } } }`).join(' ')} }`;

async function overHttp(
  s: TestServer,
  token: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GqlResult & { retryAfterHeader: string | null }> {
  const res = await fetch(s.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, retryAfterHeader: res.headers.get('retry-after'), ...((await res.json()) as object) };
}

describe('bounded lists (default limits)', () => {
  let server: TestServer;
  let owner: TestUser;
  let other: TestUser;
  let group: string;
  beforeAll(async () => {
    server = await startTestServer();
    [owner, other] = await Promise.all([registerUser(server.url, 'lb'), registerUser(server.url, 'lb')]);
    group = await bigGroup(server, owner, 1000, 'lbm');
  });
  afterAll(async () => {
    await server?.close();
  });

  test('Conversation.members returns at most 100 (oldest first) and pages with first/after; memberCount counts them all', async () => {
    const q = 'query($g: ID!, $n: Int, $a: String) { conversation(id: $g) { memberCount members(first: $n, after: $a) { id role user { id } } } }';
    const first = (await gqlOk(server.url, q, { g: group }, owner.token)).conversation;
    expect(first.memberCount).toBe(1001);
    expect(first.members).toHaveLength(100);
    expect(first.members[0]).toMatchObject({ role: 'OWNER', user: { id: owner.id } });
    const ids = first.members.map((m: { id: string }) => Number(m.id));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    const next = (await gqlOk(server.url, q, { g: group, n: 100, a: first.members[99].id }, owner.token)).conversation.members;
    expect(next).toHaveLength(100);
    expect(Number(next[0].id)).toBeGreaterThan(ids[99]);
    // Walk the whole group: 1001 members in 11 pages, none twice.
    const seen = new Set<string>(ids.map(String));
    let after: string = next[99].id;
    for (const m of next) seen.add(m.id);
    for (;;) {
      const page = (await gqlOk(server.url, q, { g: group, n: 100, a: after }, owner.token)).conversation.members;
      for (const m of page) seen.add(m.id);
      if (page.length < 100) break;
      after = page[99].id;
    }
    expect(seen.size).toBe(1001);
    for (const [variables, field] of [
      [{ g: group, n: 101 }, 'first'],
      [{ g: group, n: -1 }, 'first'],
      [{ g: group, a: 'x' }, 'after'],
    ] as const) {
      const r = await gql(server.url, q, variables, owner.token);
      expect(r.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field } });
    }
    expect((await gqlOk(server.url, q, { g: group, n: 0 }, owner.token)).conversation.members).toEqual([]);
  });

  test("the issue's probe (15 aliases of a 1001-member group's members) returns 100 members per alias, on HTTP and graphql-ws", async () => {
    const r = await overHttp(server, owner.token, heavy(group));
    expect(r.errors).toBeUndefined();
    for (let i = 0; i < 15; i++) expect(r.data[`a${i}`].members).toHaveLength(100);
    const socket = await RawSocket.open(server.wsUrl);
    try {
      await socket.ack(owner.token);
      socket.subscribe('1', heavy(group));
      const answer = await socket.answer('1', 30000);
      expect(answer.type).toBe('next');
      expect(answer.payload.data.a14.members).toHaveLength(100);
    } finally {
      socket.ws.close();
    }
  });

  test('the cost counts a variable page size at its value: 100 conversations x 100 members is refused on both transports, 10 x 100 runs', async () => {
    const q =
      'query($n: Int, $m: Int) { conversations(first: $n) { edges { node { members(first: $m) { id role joinedAt user { id username fullName firstName lastName } } } } } }';
    const refused = await overHttp(server, owner.token, q, { n: 100, m: 100 });
    expect(refused.status).toBe(400);
    expect(refused.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', reason: 'QUERY_LIMIT_EXCEEDED' } });
    expect(refused.errors?.[0].message).toMatch(/Cost limit of 100000 exceeded, found 100201/);
    const socket = await RawSocket.open(server.wsUrl);
    try {
      await socket.ack(owner.token);
      socket.subscribe('1', q, { n: 100, m: 100 });
      const answer = await socket.answer('1');
      expect(answer).toMatchObject({ type: 'error', payload: [{ extensions: { code: 'BAD_USER_INPUT', reason: 'QUERY_LIMIT_EXCEEDED' } }] });
      socket.subscribe('2', q, { n: 10, m: 100 });
      expect(await socket.answer('2', 30000)).toMatchObject({
        type: 'next',
        payload: { data: { conversations: { edges: [{ node: { members: expect.any(Array) } }] } } },
      });
    } finally {
      socket.ws.close();
    }
    expect((await overHttp(server, owner.token, q, { n: 10, m: 100 })).data.conversations.edges[0].node.members).toHaveLength(100);
  });

  test("contacts page with first/after (newest change first); unreadSummary's lists take first, total counts all", async () => {
    const others = await Promise.all([0, 1, 2].map(() => registerUser(server.url, 'lbc')));
    for (const o of others) await gqlOk(server.url, 'mutation($u: ID!) { requestContact(userId: $u) { id } }', { u: other.id }, o.token);
    const q = 'query($n: Int, $a: String) { contacts(first: $n, after: $a) { id requester { id } } }';
    const all = (await gqlOk(server.url, q, {}, other.token)).contacts;
    expect(all.map((c: { requester: { id: string } }) => c.requester.id)).toEqual(others.map((o) => o.id).reverse());
    const page1 = (await gqlOk(server.url, q, { n: 2 }, other.token)).contacts;
    expect(page1).toEqual(all.slice(0, 2));
    expect((await gqlOk(server.url, q, { n: 2, a: page1[1].id }, other.token)).contacts).toEqual(all.slice(2));
    expect((await gql(server.url, q, { n: 101 }, other.token)).errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'first' } });
    // Someone else's contact id is not a cursor for this list.
    const stranger = await registerUser(server.url, 'lbc');
    const theirs = (await gqlOk(server.url, 'mutation($u: ID!) { requestContact(userId: $u) { id } }', { u: owner.id }, stranger.token)).requestContact.id;
    expect(codeOf(await gql(server.url, q, { a: theirs }, other.token))).toBe('NOT_FOUND');

    for (const o of others) {
      const { openDirectChat } = await gqlOk(server.url, 'mutation($u: ID!) { openDirectChat(userId: $u) { id } }', { u: other.id }, o.token);
      await gqlOk(server.url, 'mutation($c: ID) { sendMessage(input: { conversationId: $c, content: "hi" }) { id } }', { c: openDirectChat.id }, o.token);
    }
    const summary = (
      await gqlOk(
        server.url,
        '{ unreadSummary { total byConversation(first: 2) { count } bySender(first: 1) { count } all: byConversation { count } } }',
        {},
        other.token,
      )
    ).unreadSummary;
    expect(summary).toMatchObject({ total: 3, byConversation: [{ count: 1 }, { count: 1 }], bySender: [{ count: 1 }] });
    expect(summary.all).toHaveLength(3);
  });

  test('a message keeps and shows at most 50 mentions', async () => {
    const names = (
      await server.orm.em
        .fork()
        .execute<{ username: string }[]>(
          `select u."username" from "users" u join "memberships" m on m."user_id" = u."id" where m."conversation_id" = ? and u."id" <> ? order by u."id" limit 60`,
          [Number(group), Number(owner.id)],
        )
    ).map((r) => r.username);
    expect(names).toHaveLength(60);
    const { sendMessage } = await gqlOk(
      server.url,
      'mutation($c: ID, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { id mentions { username } } }',
      { c: group, t: names.map((n) => `@${n}`).join(' ') },
      owner.token,
    );
    expect(sendMessage.mentions.map((u: { username: string }) => u.username)).toEqual(names.slice(0, 50));
    const [{ n }] = await server.orm.em
      .fork()
      .execute<{ n: string }[]>(`select count(*) as n from "notifications" where "message_id" = ? and "kind" = 'MENTION'`, [Number(sendMessage.id)]);
    expect(Number(n)).toBe(50);
  });
});

describe("one user's heavy requests at once (GRAPHQL_USER_MAX_IN_FLIGHT, GRAPHQL_USER_COST_PER_SEC)", () => {
  let server: TestServer;
  let attacker: TestUser;
  let bystander: TestUser;
  let group: string;
  beforeAll(async () => {
    server = await startTestServer();
    [attacker, bystander] = await Promise.all([registerUser(server.url, 'lbh'), registerUser(server.url, 'lbh')]);
    group = await bigGroup(server, attacker, 1000, 'lbh');
  });
  afterAll(async () => {
    await server?.close();
  });

  test("32 heavy requests from one account: some are RATE_LIMITED (429, retryAfter), the rest complete; another user's { me { id } } and /healthz answer meanwhile", async () => {
    const base = server.url.replace(/\/graphql$/, '');
    const latencies: { me: number[]; healthz: number[] } = { me: [], healthz: [] };
    let stop = false;
    const probe = (async () => {
      while (!stop) {
        let t = performance.now();
        const me = await gql(server.url, '{ me { id } }', {}, bystander.token);
        latencies.me.push(performance.now() - t);
        expect(me.data).toEqual({ me: { id: bystander.id } });
        t = performance.now();
        const h = await fetch(`${base}/healthz`);
        latencies.healthz.push(performance.now() - t);
        expect(h.status).toBe(200);
      }
    })();
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 32 }, () => overHttp(server, attacker.token, heavy(group))));
    const burstMs = performance.now() - started;
    stop = true;
    await probe;
    const limited = results.filter((r) => r.errors?.[0]?.extensions?.code === 'RATE_LIMITED');
    const served = results.filter((r) => !r.errors && r.data?.a0?.members?.length === 100);
    expect(limited.length + served.length).toBe(32);
    expect(limited.length).toBeGreaterThan(0);
    expect(served.length).toBeGreaterThan(0);
    for (const r of limited) {
      expect(r.status).toBe(429);
      expect(r.data ?? undefined).toBeUndefined();
      expect(r.errors![0].extensions).toMatchObject({ reason: 'USER_BUDGET_EXCEEDED', retryAfter: expect.any(Number) });
      expect(r.errors![0].extensions!.retryAfter).toBeGreaterThanOrEqual(1);
      expect(r.retryAfterHeader).toBe(String(r.errors![0].extensions!.retryAfter));
    }
    expect(latencies.me.length).toBeGreaterThan(0);
    const p = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))].toFixed(1);
    // Measured, not asserted (the machine is shared): reported with the issue.
    console.log(
      `32 heavy requests: ${served.length} served, ${limited.length} RATE_LIMITED in ${burstMs.toFixed(0)} ms; bystander { me { id } } n=${latencies.me.length} p50 ${p(latencies.me, 0.5)} p99 ${p(latencies.me, 0.99)} max ${p(latencies.me, 1)} ms; /healthz p50 ${p(latencies.healthz, 0.5)} p99 ${p(latencies.healthz, 0.99)} max ${p(latencies.healthz, 1)} ms`,
    );
    // Once the burst is over, the attacker is served again.
    expect((await overHttp(server, attacker.token, '{ me { id } }')).data).toEqual({ me: { id: attacker.id } });
  });

  test('over graphql-ws too: 32 heavy queries on one socket, some refused with RATE_LIMITED and retryAfter, the socket stays open', async () => {
    const socket = await RawSocket.open(server.wsUrl);
    try {
      await socket.ack(attacker.token);
      for (let i = 0; i < 32; i++) socket.subscribe(String(i), heavy(group));
      const answers = await Promise.all(Array.from({ length: 32 }, (_, i) => socket.answer(String(i), 60000)));
      const limited = answers.filter((a) => a.payload?.errors?.[0]?.extensions?.code === 'RATE_LIMITED');
      expect(limited.length).toBeGreaterThan(0);
      expect(answers.filter((a) => a.payload?.data?.a0?.members?.length === 100).length).toBeGreaterThan(0);
      for (const a of limited) expect(a.payload.errors[0].extensions).toMatchObject({ reason: 'USER_BUDGET_EXCEEDED', retryAfter: expect.any(Number) });
      socket.subscribe('after', '{ me { id } }');
      expect((await socket.answer('after')).payload.data).toEqual({ me: { id: attacker.id } });
    } finally {
      socket.ws.close();
    }
  });
});

describe('adding other people is limited per actor (RATE_MEMBER_ADDS_PER_HOUR)', () => {
  let server: TestServer;
  let lead: TestUser;
  let colleague: TestUser;
  let people: TestUser[];
  beforeAll(async () => {
    server = await startTestServer({ RATE_MEMBER_ADDS_PER_HOUR: '5' });
    [lead, colleague, ...people] = await Promise.all(Array.from({ length: 10 }, () => registerUser(server.url, 'lba')));
  });
  afterAll(async () => {
    await server?.close();
  });

  test("createGroup counts its members, addMember one each; past the hour's 5: RATE_LIMITED with retryAfter, nothing written; other actors unaffected; REST answers 429", async () => {
    const create = (token: string, ids: string[]) =>
      gql(server.url, 'mutation($m: [ID!]!) { createGroup(input: { name: "team", memberIds: $m }) { id memberCount } }', { m: ids }, token);
    const groups = async () =>
      Number(
        (
          await server.orm.em
            .fork()
            .execute<{ n: string }[]>(`select count(*) as n from "conversations" where "created_by_id" = ? and "kind" = 'GROUP'`, [Number(lead.id)])
        )[0].n,
      );
    const g = (
      await create(
        lead.token,
        people.slice(0, 3).map((p) => p.id),
      )
    ).data.createGroup;
    expect(g.memberCount).toBe(4);
    // 3 + 3 > 5: refused whole, and the refused batch does not use up the hour.
    const refused = await create(
      lead.token,
      people.slice(3, 6).map((p) => p.id),
    );
    expect(refused.errors?.[0]).toMatchObject({ extensions: { code: 'RATE_LIMITED', retryAfter: expect.any(Number) } });
    expect(await groups()).toBe(1);
    const add = (token: string, c: string, u: string) =>
      gql(server.url, 'mutation($c: ID!, $u: ID!) { addMember(conversationId: $c, userId: $u) { id } }', { c, u }, token);
    expect((await add(lead.token, g.id, people[3].id)).errors).toBeUndefined();
    expect((await add(lead.token, g.id, people[4].id)).errors).toBeUndefined();
    const sixth = await add(lead.token, g.id, people[5].id);
    expect(sixth.errors?.[0]).toMatchObject({ extensions: { code: 'RATE_LIMITED' } });
    expect(sixth.errors![0].extensions!.retryAfter).toBeGreaterThan(60);
    expect((await gqlOk(server.url, 'query($c: ID!) { conversation(id: $c) { memberCount } }', { c: g.id }, lead.token)).conversation.memberCount).toBe(6);
    // Adding someone already in is no add; a group of nobody else is free.
    expect((await add(lead.token, g.id, people[3].id)).errors).toBeUndefined();
    expect((await create(lead.token, [])).errors).toBeUndefined();
    // The REST dialect's add_member goes through the same rule.
    const rest = await call(server, 'POST', `/chats/${g.id}/add_member/`, { token: lead.token, json: { user_id: Number(people[5].id) } });
    expect(rest.status).toBe(429);
    expect(Number(rest.headers.get('retry-after'))).toBeGreaterThan(60);
    // Another actor has a budget of their own.
    expect(
      (
        await create(
          colleague.token,
          people.slice(5, 8).map((p) => p.id),
        )
      ).errors,
    ).toBeUndefined();
  });
});

describe('a client that resends at once after RATE_LIMITED is refused at the door (issue 27 section 1)', () => {
  let server: TestServer;
  let flooder: TestUser;
  let bystander: TestUser;
  beforeAll(async () => {
    // A budget of 200 cost a second (a page of 20 messages costs more than 20), so a burst is mostly refused.
    server = await startTestServer({ GRAPHQL_MAX_COST: '200', GRAPHQL_USER_COST_PER_SEC: '200' });
    [flooder, bystander] = await Promise.all([registerUser(server.url, 'lbf'), registerUser(server.url, 'lbf')]);
  });
  afterAll(async () => {
    await server?.close();
  });

  const malformed = (token: string) =>
    fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: '{"query": ' });

  test('past 50 refusals in a second, even a malformed body is answered 429 RATE_LIMITED (refused before it is parsed) after a second; others are not affected; a second later the client is served', async () => {
    // Before any flood, a malformed body is a 400.
    expect((await malformed(flooder.token)).status).toBe(400);
    const { createGroup } = await gqlOk<{ createGroup: { id: string } }>(
      server.url,
      'mutation($m: [ID!]!) { createGroup(input: { name: "f", memberIds: $m }) { id } }',
      { m: [bystander.id] },
      flooder.token,
    );
    const page = `{ messages(conversationId: "${createGroup.id}", first: 20) { edges { node { id content } } } }`;
    // 120 at once: most are refused by the cost per second. From the 50th refusal on, each refusal
    // that arrives makes the flooder send a malformed body too: those that reach the server while it
    // still counts the flood (the burst's own requests keep it going) are refused at the door, 429,
    // and held for the second they ask to wait; any that come after it are an ordinary 400. A loaded
    // machine may stretch a burst past the window, so up to three bursts are sent.
    const atDoor: Promise<{ res: Response; heldMs: number }>[] = [];
    for (let round = 0; round < 3 && !(await Promise.all(atDoor)).some((a) => a.res.status === 429); round++) {
      let limited = 0;
      const burst = await Promise.all(
        Array.from({ length: 120 }, () =>
          overHttp(server, flooder.token, page).then((r) => {
            if (r.errors?.[0]?.extensions?.code === 'RATE_LIMITED' && ++limited >= 50 && limited < 70) {
              const t = performance.now();
              atDoor.push(malformed(flooder.token).then((res) => ({ res, heldMs: performance.now() - t })));
            }
            return r;
          }),
        ),
      );
      expect(burst.filter((r) => r.errors?.[0]?.extensions?.code === 'RATE_LIMITED').length).toBeGreaterThanOrEqual(50);
    }
    const answers = await Promise.all(atDoor);
    expect(answers.every((a) => a.res.status === 429 || a.res.status === 400)).toBe(true);
    const refused = answers.filter((a) => a.res.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    // Held for their second, but at most 64 at once per user (past them a 429 is answered at once).
    expect(refused.some((a) => a.heldMs >= 900)).toBe(true);
    for (const { res } of refused) {
      expect(res.headers.get('retry-after')).toBe('1');
      expect(await res.json()).toMatchObject({ errors: [{ extensions: { code: 'RATE_LIMITED', reason: 'USER_BUDGET_EXCEEDED', retryAfter: 1 } }] });
    }
    // Another user is not flooding: the same malformed body is their 400, and their queries are served.
    expect((await malformed(bystander.token)).status).toBe(400);
    expect((await overHttp(server, bystander.token, '{ me { id } }')).data).toEqual({ me: { id: bystander.id } });
    // Waiting retryAfter (1 s) is enough.
    await new Promise((r) => setTimeout(r, 1100));
    expect((await overHttp(server, flooder.token, '{ me { id } }')).data).toEqual({ me: { id: flooder.id } });
  });
});
