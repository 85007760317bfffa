import type { EntityManager } from '@mikro-orm/postgresql';
import type { DomainEvent, DomainEventType, UserView } from '../shared/events';
import { User } from './user.entity';

/** A user as the read paths show it: every column but the password hash, as a plain snapshot (no ORM state). */
export type UserRecord = Pick<
  User,
  'id' | 'username' | 'email' | 'firstName' | 'lastName' | 'avatarUrl' | 'role' | 'isStaff' | 'score' | 'rank' | 'inGameIds' | 'lastSeenAt' | 'createdAt'
> &
  // Issue 18 (account deletion, password change; auth/account.service.ts): authenticate refuses deleted users and tokens older than a password change.
  Pick<User, 'deletedAt' | 'tokensValidAfter' | 'tokensKeptSession'> &
  // Issue 18 (uploaded avatars; avatar.service.ts): the avatar URLs are made from these without a query.
  Pick<User, 'avatarKey' | 'avatarThumbnailKey' | 'avatarVersion'> &
  // Issue 27 §5 (privacy; user.policy.ts): presence and read receipts are shown from these.
  Pick<User, 'presenceVisibility' | 'sendReadReceipts'>;

const FIELDS = [
  'id',
  'username',
  'email',
  'firstName',
  'lastName',
  'avatarUrl',
  'role',
  'isStaff',
  'score',
  'rank',
  'inGameIds',
  'lastSeenAt',
  'createdAt',
  // Issue 18 (see UserRecord).
  'deletedAt',
  'tokensValidAfter',
  'tokensKeptSession',
  // Issue 18 (avatars, see UserRecord).
  'avatarKey',
  'avatarThumbnailKey',
  'avatarVersion',
  // Issue 27 §5 (privacy, see UserRecord).
  'presenceVisibility',
  'sendReadReceipts',
] as const;

/** The plain snapshot of a user row (or of a record). */
const toRecord = (u: Partial<UserRecord>): UserRecord =>
  ({
    ...Object.fromEntries(FIELDS.map((f) => [f, u[f] ?? null])),
    // Issue 27 §5: the defaults of the columns when a snapshot predates them.
    presenceVisibility: u.presenceVisibility ?? 'CONTACTS',
    sendReadReceipts: u.sendReadReceipts ?? true,
  }) as unknown as UserRecord;

/** The snapshot a `user.changed` event carries of a user (no e-mail, no password hash; times as ISO strings). */
export function userViewOf(u: User | UserRecord): UserView {
  return {
    id: u.id,
    username: u.username,
    firstName: u.firstName ?? null,
    lastName: u.lastName ?? null,
    avatarUrl: u.avatarUrl ?? null,
    avatarKey: u.avatarKey ?? null,
    avatarThumbnailKey: u.avatarThumbnailKey ?? null,
    avatarVersion: u.avatarVersion ?? 0,
    role: u.role ?? null,
    isStaff: Boolean(u.isStaff),
    score: u.score ?? 0,
    rank: u.rank ?? null,
    inGameIds: u.inGameIds ?? [],
    lastSeenAt: u.lastSeenAt ? new Date(u.lastSeenAt).toISOString() : null,
    createdAt: new Date(u.createdAt).toISOString(),
    presenceVisibility: u.presenceVisibility ?? 'CONTACTS',
    sendReadReceipts: u.sendReadReceipts ?? true,
  };
}

/** A user record from an event's snapshot (`email` and the account-state columns are not carried: null), for rendering live payloads without SQL. */
export function userRecordOf(v: UserView): UserRecord {
  return toRecord({
    ...v,
    email: null,
    lastSeenAt: v.lastSeenAt ? new Date(v.lastSeenAt) : null,
    createdAt: new Date(v.createdAt),
    deletedAt: v.deletedAt ? new Date(v.deletedAt) : null /* issue 18: account deletion's tombstone (auth/account.service.ts) */,
  });
}

/** What the cache needs from the event bus: the events that change users, and whether it may trust that it hears them all. */
export interface UserEvents {
  on(type: DomainEventType, handler: (event: DomainEvent) => void): () => void;
  /** Called when the transport between instances returns after an outage (events were lost). */
  onResync(handler: (downSinceMs: number) => void): () => void;
  /** False while events from other instances may be lost. */
  healthy(): boolean;
}

/**
 * Users by id, read from PostgreSQL once and then from memory: the request path's token → actor
 * step, `me`, message senders in pages and live payloads (issue 12). Correct invalidation rather
 * than a guess: `user.changed` (staff rights, and profile changes: names, avatar) drops
 * the user on every instance, a presence OFFLINE event updates `lastSeenAt`, an outage of the
 * bus drops everything when it ends, and while the bus is down nothing is served from memory
 * (every read goes to PostgreSQL). A read that raced an invalidation is not stored. Entries live
 * at most `ttlMs` (default 60 000 ms) besides; at most `max` entries (default 50 000), oldest
 * first out. Account deletion (auth/account.service.ts) publishes `user.changed` too; the row stays as a tombstone (`deletedAt`).
 */
export class UserCache {
  private readonly entries = new Map<number, { at: number; user: UserRecord }>();
  /** Bumped by every invalidation: a read that began before one does not store what it read. */
  private generation = 0;
  private readonly offs: (() => void)[];

  constructor(
    private readonly events?: UserEvents,
    private readonly ttlMs = 60_000,
    private readonly max = 50_000,
  ) {
    this.offs = events
      ? [
          events.on('user.changed', (e) => {
            if (e.type === 'user.changed') this.forget(e.userId);
          }),
          events.on('presence', (e) => {
            if (e.type !== 'presence' || e.status !== 'OFFLINE') return;
            this.generation++;
            const hit = this.entries.get(e.userId);
            if (hit) hit.user = { ...hit.user, lastSeenAt: e.lastSeenAt ? new Date(e.lastSeenAt) : null };
          }),
          events.onResync(() => this.clear()),
        ]
      : [];
  }

  /** One user, or null when there is none. */
  async get(em: EntityManager, id: number): Promise<UserRecord | null> {
    const hit = this.fresh(id);
    if (hit) return hit;
    return (await this.load(em, [id]))[0];
  }

  /** The users of `ids` in order (null for unknown ids); the missing ones in one query. */
  async load(em: EntityManager, ids: readonly number[]): Promise<(UserRecord | null)[]> {
    const out: (UserRecord | null)[] = ids.map((id) => this.fresh(id));
    const missing = [...new Set(ids.filter((_, i) => out[i] === null))];
    if (!missing.length) return out;
    const generation = this.generation;
    const rows = await em.find(User, { id: { $in: missing } }, { fields: [...FIELDS] });
    const found = new Map<number, UserRecord>();
    const now = Date.now();
    for (const u of rows) {
      const user = toRecord(u);
      found.set(u.id, user);
      if (generation !== this.generation || (this.events && !this.events.healthy())) continue;
      this.entries.delete(u.id);
      this.entries.set(u.id, { at: now, user });
      if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
    }
    return ids.map((id, i) => out[i] ?? found.get(id) ?? null);
  }

  /** The invalidation count now: pass it to {@link store} with a user read after this call. */
  mark(): number {
    return this.generation;
  }

  /**
   * Remembers a user read elsewhere (a socket's login check reads the whole row anyway), unless
   * an invalidation happened since `mark` (the row may be older than it).
   */
  store(user: User | UserRecord, mark: number): void {
    if (mark !== this.generation || (this.events && !this.events.healthy())) return;
    this.entries.delete(user.id);
    this.entries.set(user.id, { at: Date.now(), user: toRecord(user) });
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Drops one user (their row changed). */
  forget(userId: number): void {
    this.generation++;
    this.entries.delete(userId);
  }

  /** Drops everything. */
  clear(): void {
    this.generation++;
    this.entries.clear();
  }

  close(): void {
    for (const off of this.offs) off();
    this.clear();
  }

  private fresh(id: number): UserRecord | null {
    if (this.events && !this.events.healthy()) return null;
    const hit = this.entries.get(id);
    if (!hit) return null;
    if (Date.now() - hit.at > this.ttlMs) {
      this.entries.delete(id);
      return null;
    }
    return hit.user;
  }
}
