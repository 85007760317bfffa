import type { EntityManager } from '@mikro-orm/postgresql';
import type { Scope } from '../shared/actor';
import { badInput, forbidden, notFound, parseId } from '../shared/errors';
import type { EventPublisher } from '../shared/events';
import { User } from '../user/user.entity';
import { Contact, ContactStatus } from './contact.entity';

/**
 * Contacts and blocking (seed 000 "connections"). Rows are directional: `requester` asked
 * `addressee`. A pair has at most one connection row (PENDING, ACCEPTED or DECLINED) and at most
 * one BLOCKED row per blocker; a block ends the connection. A block is invisible to the blocked
 * user: they never see the BLOCKED row, only the refusals of openDirectChat, sendMessage and
 * requestContact (FORBIDDEN).
 */
export class ContactService {
  constructor(private readonly events: EventPublisher) {}

  /**
   * The actor's contacts, newest change first; BLOCKED rows only where the actor is the blocker.
   * `page` (GraphQL; issue 27: anyone can add a PENDING row to someone's list): at most `first`
   * rows after the contact `after` (an id of one of the actor's contacts) in that order; without
   * it every row (the REST dialects' lists).
   * @throws BAD_USER_INPUT (`after` not a valid id), NOT_FOUND (`after` not one of the actor's contacts).
   */
  async list(scope: Scope, status?: ContactStatus | null, page?: { first: number; after?: string | null }): Promise<Contact[]> {
    const me = scope.actor.id;
    const mine = { $or: [{ requester: me }, { addressee: me, status: { $ne: ContactStatus.BLOCKED } }] };
    if (!page) return scope.em.find(Contact, { ...mine, ...(status ? { status } : {}) }, { orderBy: [{ updatedAt: 'desc' }, { id: 'desc' }] });
    const afterId = page.after == null ? null : parseId(page.after, 'after');
    if (afterId !== null && !(await scope.em.findOne(Contact, { id: afterId, ...mine }, { fields: ['id'] }))) throw notFound('Contact');
    if (page.first === 0) return [];
    // The keyset compares in SQL: updated_at keeps microseconds a JavaScript Date would cut.
    const ids = await scope.em.execute<{ id: number }[]>(
      `select c."id" from "contacts" c
        where (c."requester_id" = ? or (c."addressee_id" = ? and c."status" <> 'BLOCKED'))
          ${status ? 'and c."status" = ?' : ''}
          ${afterId !== null ? 'and (c."updated_at", c."id") < (select a."updated_at", a."id" from "contacts" a where a."id" = ?)' : ''}
        order by c."updated_at" desc, c."id" desc limit ?`,
      [me, me, ...(status ? [status] : []), ...(afterId !== null ? [afterId] : []), page.first],
    );
    if (!ids.length) return [];
    const rows = await scope.em.find(Contact, { id: { $in: ids.map((r) => r.id) } });
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((r) => byId.get(r.id)).filter((c): c is Contact => c !== undefined);
  }

  /**
   * Asks `userId` to connect. Asking again returns the same request; a DECLINED request is
   * renewed; when the other side already asked, this accepts their request, also when the two
   * requests cross at the same moment (issue 27): a pair has one connection row whoever asked (a
   * unique index on the unordered pair, migration contact_pair), so the second insert finds the
   * first and accepts it, whatever the timing. The block check is made again in the transaction.
   * @throws BAD_USER_INPUT (oneself), NOT_FOUND (no such user), FORBIDDEN (a block either way).
   */
  async request(scope: Scope, userId: string): Promise<Contact> {
    const other = await this.requireOther(scope, userId);
    const me = scope.actor.id;
    if (await this.isBlockedBetween(scope.em, me, other.id)) throw forbidden('You cannot connect with this user');
    let accepted = false;
    const id = await scope.em.transactional(async (tx) => {
      // A row of either side (a crossing insert waits here for the other's commit, then sees it).
      const [inserted] = await tx.execute<{ id: number }[]>(
        `insert into "contacts" ("requester_id", "addressee_id", "status", "created_at", "updated_at") values (?, ?, 'PENDING', now(), now())
         on conflict do nothing returning "id"`,
        [me, other.id],
      );
      if (await this.isBlockedBetween(tx, me, other.id)) throw forbidden('You cannot connect with this user');
      if (inserted) return Number(inserted.id);
      const [row] = await tx.execute<{ id: number; requester_id: number; status: ContactStatus }[]>(
        `select "id", "requester_id", "status" from "contacts"
          where "status" <> 'BLOCKED' and (("requester_id" = ? and "addressee_id" = ?) or ("requester_id" = ? and "addressee_id" = ?)) for update`,
        [me, other.id, other.id, me],
      );
      if (!row) throw forbidden('You cannot connect with this user'); // the conflict was a BLOCKED row of ours
      if (Number(row.requester_id) === other.id && row.status !== ContactStatus.ACCEPTED) {
        await tx.execute(`update "contacts" set "status" = 'ACCEPTED', "updated_at" = now() where "id" = ?`, [row.id]);
        accepted = true;
      } else if (Number(row.requester_id) === me && row.status === ContactStatus.DECLINED) {
        await tx.execute(`update "contacts" set "status" = 'PENDING', "updated_at" = now() where "id" = ?`, [row.id]);
      }
      return Number(row.id);
    });
    if (accepted) this.connected(me, other.id);
    return scope.em.findOneOrFail(Contact, { id }, { refresh: true });
  }

  /**
   * The addressee accepts a request. A block either way, also one committed while the answer
   * waits on the request's row (issue 27 §3), ends the request: NOT_FOUND.
   * @throws NOT_FOUND (not theirs to see; blocked), FORBIDDEN (the requester).
   */
  async accept(scope: Scope, id: string): Promise<Contact> {
    return this.answer(scope, id, ContactStatus.ACCEPTED);
  }

  /** The addressee declines a request. @throws like {@link accept}. */
  async decline(scope: Scope, id: string): Promise<Contact> {
    return this.answer(scope, id, ContactStatus.DECLINED);
  }

  /**
   * Blocks `userId`: ends any connection between the two and records the block (idempotent).
   * @throws BAD_USER_INPUT (oneself), NOT_FOUND.
   */
  async block(scope: Scope, userId: string): Promise<Contact> {
    const other = await this.requireOther(scope, userId);
    const me = scope.actor.id;
    const contact = await scope.em.transactional(async (tx) => {
      await tx.nativeDelete(Contact, {
        status: { $ne: ContactStatus.BLOCKED },
        $or: [
          { requester: me, addressee: other.id },
          { requester: other.id, addressee: me },
        ],
      });
      await tx.execute(
        `insert into "contacts" ("requester_id", "addressee_id", "status", "created_at", "updated_at") values (?, ?, 'BLOCKED', now(), now())
         on conflict ("requester_id", "addressee_id") do update set "status" = 'BLOCKED', "updated_at" = now()`,
        [me, other.id],
      );
      return tx.findOneOrFail(Contact, { requester: me, addressee: other.id });
    });
    this.events.publish({ type: 'contact.changed', userIds: [me, other.id] });
    return contact;
  }

  /** Lifts the actor's block of `userId` (a block by the other side stays). True when there was one. @throws NOT_FOUND, BAD_USER_INPUT. */
  async unblock(scope: Scope, userId: string): Promise<boolean> {
    const other = await this.requireOther(scope, userId);
    const removed = await scope.em.nativeDelete(Contact, { requester: scope.actor.id, addressee: other.id, status: ContactStatus.BLOCKED });
    if (removed) this.events.publish({ type: 'contact.changed', userIds: [scope.actor.id, other.id] });
    return removed > 0;
  }

  /** True when either user has blocked the other. */
  async isBlockedBetween(em: EntityManager, a: number, b: number): Promise<boolean> {
    const n = await em.count(Contact, {
      status: ContactStatus.BLOCKED,
      $or: [
        { requester: a, addressee: b },
        { requester: b, addressee: a },
      ],
    });
    return n > 0;
  }

  /**
   * Nobody adds a user with whom a block stands, either way (issue 13: a block stops every way one
   * user reaches the other, ROOM_INVITE notifications included): to a group at its creation, or as
   * a member later. @throws FORBIDDEN.
   */
  async refuseBlocked(scope: Scope, userIds: readonly number[]): Promise<void> {
    if (!userIds.length) return;
    const blocked = await this.blockedIds(scope.em, scope.actor.id);
    if (userIds.some((id) => blocked.has(id))) throw forbidden('You cannot add this user');
  }

  /** Everyone `userId` has blocked or is blocked by (hidden from each other's presence and typing). */
  async blockedIds(em: EntityManager, userId: number): Promise<Set<number>> {
    const rows = await em.execute<{ other: number }[]>(
      `select case when "requester_id" = ? then "addressee_id" else "requester_id" end as other
         from "contacts" where "status" = 'BLOCKED' and (? in ("requester_id", "addressee_id"))`,
      [userId, userId],
    );
    return new Set(rows.map((r) => r.other));
  }

  /** Ids of the user's ACCEPTED contacts. */
  async acceptedIds(em: EntityManager, userId: number): Promise<Set<number>> {
    const rows = await em.execute<{ other: number }[]>(
      `select case when "requester_id" = ? then "addressee_id" else "requester_id" end as other
         from "contacts" where "status" = 'ACCEPTED' and (? in ("requester_id", "addressee_id"))`,
      [userId, userId],
    );
    return new Set(rows.map((r) => r.other));
  }

  /**
   * Seed 000 "automatic connection": opening a direct chat connects the two users. Creates an
   * ACCEPTED contact when there is none, and accepts a PENDING request the opener had received.
   */
  async connectOnOpen(em: EntityManager, openerId: number, otherId: number): Promise<void> {
    const [mine, theirs] = await this.pair(em, openerId, otherId);
    if (theirs?.status === ContactStatus.PENDING) {
      theirs.status = ContactStatus.ACCEPTED;
      await em.flush();
      this.connected(openerId, otherId);
      return;
    }
    if (mine || theirs) return;
    // Issue 27: not when a block was committed since the caller's check (the insert reads it again).
    const inserted = await em.execute<{ id: number }[]>(
      `insert into "contacts" ("requester_id", "addressee_id", "status", "created_at", "updated_at")
       select ?, ?, 'ACCEPTED', now(), now() where not exists (select 1 from "contacts" k where k."status" = 'BLOCKED'
          and ((k."requester_id" = ? and k."addressee_id" = ?) or (k."requester_id" = ? and k."addressee_id" = ?)))
       on conflict do nothing returning "id"`,
      [openerId, otherId, openerId, otherId, otherId, openerId],
    );
    if (inserted.length) this.connected(openerId, otherId);
  }

  /** Says (after the commit) that two users became contacts: open presence and userUpdated subscriptions of either now include the other. */
  private connected(a: number, b: number): void {
    this.events.publish({ type: 'contact.changed', userIds: [a, b], connected: true });
  }

  private async answer(scope: Scope, id: string, status: ContactStatus.ACCEPTED | ContactStatus.DECLINED): Promise<Contact> {
    const me = scope.actor.id;
    const contact = await scope.em.findOne(Contact, { id: parseId(id, 'id') });
    const requester = contact && (contact.requester as User).id;
    const addressee = contact && (contact.addressee as User).id;
    if (!contact || (requester !== me && addressee !== me) || contact.status === ContactStatus.BLOCKED) throw notFound('Contact');
    if (addressee !== me) throw forbidden('Only the addressee can answer a contact request');
    if (contact.status !== status) {
      // Issue 27 §3: the block check again in the writing statement, under the row's lock. A block
      // ends the pair's connection row (block): committed before this statement, the row is gone
      // or a BLOCKED row stands; committing while this waits on the row's lock, the update finds
      // the row deleted. Either way nothing is written, and the answer is the early check's.
      const changed = await scope.em.execute<{ id: number }[]>(
        `update "contacts" set "status" = ?, "updated_at" = now()
          where "id" = ? and "addressee_id" = ? and "status" <> 'BLOCKED'
            and not exists (select 1 from "contacts" k where k."status" = 'BLOCKED'
                  and ((k."requester_id" = ? and k."addressee_id" = ?) or (k."requester_id" = ? and k."addressee_id" = ?)))
          returning "id"`,
        [status, contact.id, me, requester, me, me, requester],
      );
      if (!changed.length) throw notFound('Contact');
      await scope.em.refresh(contact);
      if (status === ContactStatus.ACCEPTED) this.connected(requester!, me);
    }
    return contact;
  }

  /** [actor → other, other → actor] connection rows (BLOCKED rows excluded). */
  private async pair(em: EntityManager, me: number, other: number): Promise<[Contact | null, Contact | null]> {
    const rows = await em.find(Contact, {
      status: { $ne: ContactStatus.BLOCKED },
      $or: [
        { requester: me, addressee: other },
        { requester: other, addressee: me },
      ],
    });
    const mine = rows.find((r) => (r.requester as User).id === me) ?? null;
    const theirs = rows.find((r) => (r.requester as User).id === other) ?? null;
    return [mine, theirs];
  }

  private async requireOther(scope: Scope, userId: string): Promise<User> {
    const id = parseId(userId, 'userId');
    if (id === scope.actor.id) throw badInput('That is you', 'userId');
    const user = await scope.em.findOne(User, { id });
    if (!user || user.deletedAt /* issue 18: no contacts with a deleted account */) throw notFound('User');
    return user;
  }
}
