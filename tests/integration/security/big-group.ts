/**
 * A group of many members for the limits tests (issue 27), written with the server's own
 * connection: the members are rows, not registered accounts (registering 1000 users would cost
 * 1000 password hashes and the registration limit). The owner is a real registered user.
 */
import type { TestServer } from '../../support/test-server';
import { gqlOk, type TestUser } from '../../support/client';

/** Creates a GROUP owned by `owner` with `extra` more members (bulk rows); returns its id. */
export async function bigGroup(server: TestServer, owner: TestUser, extra: number, tag = 'bulk'): Promise<string> {
  const { createGroup } = await gqlOk(server.url, 'mutation { createGroup(input: { name: "big", memberIds: [] }) { id } }', {}, owner.token);
  const em = server.orm.em.fork();
  const stamp = `${tag}${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  await em.execute(
    `with u as (
       insert into "users" ("username", "username_key", "password_hash", "first_name", "last_name", "created_at", "updated_at")
       select ?::text || '_' || g, ?::text || '_' || g, 'x', 'Bulk', 'Member ' || g, now(), now() from generate_series(1, ?::int) g
       returning "id")
     insert into "memberships" ("conversation_id", "user_id", "role", "joined_at")
     select ?::int, u."id", 'MEMBER', now() from u`,
    [stamp, stamp, extra, Number(createGroup.id)],
  );
  return createGroup.id;
}
