import type { EntityManager } from '@mikro-orm/postgresql';
import type { Scope } from '../shared/actor';
import { badInput, forbidden, notFound, parseId } from '../shared/errors';
import { connectionFrom, decodeCursor, encodeCursor, pageSize, type Page } from '../shared/pagination';
import { stripControlChars } from '../shared/text';
import { User } from './user.entity';
import type { EventPublisher } from '../shared/events';
import { usernameLookupKey } from './username';
import type { UserCache, UserRecord } from './user-cache';

/** How long last-seen writes wait to share one statement, in ms. */
const SEEN_BATCH_MS = 20;

/** Reads users. Any authenticated user may look up any other (a chat directory). Staff changes publish `user.changed`. */
export class UserService {
  /** Last-seen times waiting for their batch (userId -> time). */
  private readonly seen = new Map<number, Date>();
  private seenWrite?: Promise<void>;

  constructor(private readonly events?: EventPublisher, private readonly cache?: UserCache) {}

  /** The actor's own user (from the user cache when it has them). @throws NOT_FOUND when the account no longer exists. */
  async me(scope: Scope): Promise<UserRecord> {
    const user = this.cache ? await this.cache.get(scope.em, scope.actor.id) : await scope.em.findOne(User, { id: scope.actor.id });
    if (!user) throw notFound('User');
    return user;
  }

  /**
   * One user by id or username (exactly one of them); null when there is none, also for a name
   * no account can have (control characters, wrong charset). @throws BAD_USER_INPUT.
   */
  async find(scope: Scope, by: { id?: string | null; username?: string | null }): Promise<User | null> {
    if ((by.id == null) === (by.username == null)) throw badInput('Give exactly one of id and username');
    if (by.id != null) return scope.em.findOne(User, { id: parseId(by.id, 'id') });
    const usernameKey = usernameLookupKey(by.username);
    return usernameKey === null ? null : scope.em.findOne(User, { usernameKey });
  }

  /**
   * Users whose username or name contains `search` (case-insensitive), by username.
   * @throws BAD_USER_INPUT on a bad page size or cursor.
   */
  async search(scope: Scope, args: { search?: string | null; first?: number | null; after?: string | null }): Promise<Page<User>> {
    const size = pageSize(args.first, 20, 100, 'first');
    const where: Record<string, unknown> = {};
    const q = args.search == null ? '' : stripControlChars(String(args.search)).trim();
    if (q) {
      const like = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      where.$or = [{ username: { $ilike: like } }, { firstName: { $ilike: like } }, { lastName: { $ilike: like } }];
    }
    const totalCount = await scope.em.count(User, where);
    const page: Record<string, unknown> = { ...where };
    if (args.after) {
      // A forged cursor could carry anything (a NUL was a database error): only a possible username key passes.
      const key = usernameLookupKey(decodeCursor(args.after, 'user', 'after', 1)[0]);
      if (key === null) throw badInput('after is not a valid cursor', 'after');
      page.usernameKey = { $gt: key };
    }
    const rows = await scope.em.find(User, page, { orderBy: { usernameKey: 'asc' }, limit: size + 1 });
    return connectionFrom(rows, size, (u) => encodeCursor('user', u.usernameKey), totalCount, Boolean(args.after));
  }

  /** Grants or withdraws staff rights. @throws FORBIDDEN unless the actor is staff; NOT_FOUND. */
  async setStaff(scope: Scope, userId: string, isStaff: boolean): Promise<User> {
    if (!scope.actor.isStaff) throw forbidden('Only staff can change staff rights');
    const user = await scope.em.findOne(User, { id: parseId(userId, 'userId') });
    if (!user) throw notFound('User');
    user.isStaff = Boolean(isStaff);
    await scope.em.flush();
    this.cache?.forget(user.id);
    this.events?.publish({ type: 'user.changed', userId: user.id, isStaff: user.isStaff });
    return user;
  }

  /**
   * Records when a user was last seen (presence going OFFLINE). Resolves once written: the
   * users that went offline within {@link SEEN_BATCH_MS} are written by one statement (after a
   * restart or a network cut, thousands go offline at once).
   */
  touchLastSeen(em: EntityManager, userId: number, at: Date): Promise<void> {
    this.seen.set(userId, at);
    return (this.seenWrite ??= new Promise<void>((r) => setTimeout(r, SEEN_BATCH_MS)).then(() => this.flushLastSeen(em)));
  }

  /** Writes the pending last-seen times now (also at shutdown, before the database closes). */
  async flushLastSeen(em: EntityManager): Promise<void> {
    this.seenWrite = undefined;
    if (!this.seen.size) return;
    const batch = [...this.seen].map(([id, at]) => ({ id, at: at.toISOString() }));
    this.seen.clear();
    await em.execute(
      `update "users" u set "last_seen_at" = v.at from jsonb_to_recordset(?::jsonb) as v(id int, at timestamptz) where u."id" = v.id`,
      [JSON.stringify(batch)]);
  }
}
