import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Actor } from '../../domain/shared/actor';
import { activeMembershipSql, canReadContent, followsByDefault } from '../../domain/conversation/conversation.policy';
import type { DomainEvent } from '../../domain/shared/events';
import { DELIVERY_QUERY } from '../delivery/hub';
import type { EventBus } from './event-bus';
import type { UserRecord } from '../../domain/user/user-cache';

/**
 * What this instance knows about one user with open sockets: their rights as of now (the same
 * object is every socket's actor, so a staff change applies to operations already open), which
 * conversations they may read, and whom they blocked or are blocked by. Kept current by domain
 * events, so the per-event access check of a subscription is a lookup in memory.
 */
export class Viewer {
  /** conversationId -> active member there. Absent: unknown (ask PostgreSQL once), unless `complete`. */
  readonly member = new Map<number, boolean>();
  /** True once `member` lists every active membership (then absent means "not a member"). */
  complete = false;
  /** Users blocked either way; reloaded lazily after a block changes. */
  blocked?: Promise<Set<number>>;
  /** `blocked` once it resolved (`from` is the promise it came from: stale when `blocked` moved on). */
  blockedKnown?: { from: Promise<Set<number>>; set: Set<number> };
  /** Open sockets of this user on this instance. */
  sockets = 0;
  /** Bumped by every membership event of this user; answers read before an event yield to it. */
  version = 0;
  readonly changedAt = new Map<number, number>();
  loading?: Promise<void>;

  constructor(readonly actor: Actor) {}
}

const MAX_KINDS = 100_000;
/** How long a user's viewer outlives their last socket (a reconnect finds its memberships known), ms. */
const DORMANT_MS = 60_000;
/** Dormant viewers kept at most. */
const MAX_DORMANT = 20_000;

/**
 * The live audiences of this instance (issue 11, live authorization): one {@link Viewer} per user
 * with open sockets, maintained from `membership.changed` (join, leave, removal, ban),
 * `user.changed` (staff granted or revoked) and `contact.changed` (blocks). After the bus between
 * instances was down, {@link resync} re-reads every viewer's rights and memberships from
 * PostgreSQL, since events published elsewhere meanwhile were lost.
 * The rules are conversation.policy.ts's (readsAs, followsByDefault); this class only knows
 * the facts they need, from memory.
 */
export class AudienceRegistry {
  private readonly viewers = new Map<number, Viewer>();
  /** conversationId -> viewers known to be active members there (the reverse of Viewer.member's true entries). */
  private readonly membersOf = new Map<number, Set<Viewer>>();
  /** Viewers who are staff now (they may follow SUPPORT threads they are not members of). */
  private readonly staff = new Set<Viewer>();
  /**
   * Viewers whose last socket closed less than DORMANT_MS ago, oldest first: still kept current
   * by events (and by resync), so a reconnecting client's subscriptions start from memory.
   */
  private readonly dormant = new Map<number, { viewer: Viewer; at: number }>();
  /** Conversation kinds (they never change), for the staff rule on SUPPORT threads. */
  private readonly kinds = new Map<number, string>();
  private readonly offs: (() => void)[];

  constructor(
    bus: EventBus,
    private readonly rootEm: EntityManager,
    /** ContactService.blockedIds: the users blocked either way. */
    private readonly loadBlocked: (em: EntityManager, userId: number) => Promise<Set<number>>,
    private readonly logger?: Logger,
    /** UserCache.get: a user's record (privacy settings), memory after the first read; updatePrivacy drops it on every instance. */
    private readonly loadUser?: (em: EntityManager, userId: number) => Promise<UserRecord | null>,
  ) {
    this.offs = [
      bus.on('membership.changed', (e) => this.onMembership(e)),
      bus.on('user.changed', (e) => {
        // A profile change (issue 18) says nothing about rights: only setUserStaff's events set them.
        if (e.type !== 'user.changed' || e.profile) return;
        const v = this.known(e.userId);
        if (v) this.setStaff(v, e.isStaff);
      }),
      bus.on('contact.changed', (e) => {
        // A new connection changes no block: the blocked sets stay (no reload).
        if (e.type !== 'contact.changed' || e.connected) return;
        for (const id of e.userIds) {
          const v = this.known(id);
          if (v) v.blocked = undefined;
        }
      }),
    ];
  }

  /**
   * A socket of `actor` opened: returns the user's viewer (shared by their sockets; its `actor`
   * is the one to act with). The rights of the fresher load win. Pair with {@link detach}.
   */
  attach(actor: Actor): Viewer {
    let v = this.viewers.get(actor.id);
    if (!v) {
      const sleeping = this.dormant.get(actor.id);
      this.dormant.delete(actor.id);
      v = sleeping && Date.now() - sleeping.at < DORMANT_MS ? sleeping.viewer : new Viewer({ ...actor });
      this.viewers.set(actor.id, v);
      for (const [c, active] of v.member) if (active) this.setMember(v, c, true);
    }
    this.setStaff(v, actor.isStaff);
    v.sockets++;
    return v;
  }

  /** A socket of the viewer closed; the last one forgets the viewer. */
  detach(v: Viewer): void {
    if (--v.sockets > 0) return;
    if (this.viewers.get(v.actor.id) !== v) return;
    this.viewers.delete(v.actor.id);
    this.staff.delete(v);
    for (const c of v.member.keys()) this.unindex(v, c);
    const now = Date.now();
    this.dormant.delete(v.actor.id);
    this.dormant.set(v.actor.id, { viewer: v, at: now });
    for (const [id, d] of this.dormant) {
      if (now - d.at < DORMANT_MS && this.dormant.size <= MAX_DORMANT) break;
      this.dormant.delete(id);
    }
  }

  /**
   * The ids of users with open sockets here who may follow `conversationId` by default: its
   * active members known to this instance, and staff. A superset of those whose `follows` is
   * true for a viewer with complete memberships (the hub narrows "every conversation"
   * subscribers to these instead of asking every one of them).
   */
  followersOf(conversationId: number): number[] {
    const out: number[] = [];
    const members = this.membersOf.get(conversationId);
    if (members) for (const v of members) out.push(v.actor.id);
    for (const v of this.staff) if (!members?.has(v)) out.push(v.actor.id);
    return out;
  }

  /** The viewer of a user with open sockets here, if any. */
  viewerOf(userId: number): Viewer | undefined {
    return this.viewers.get(userId);
  }

  /** Number of tracked viewers (tests, metrics). */
  size(): number {
    return this.viewers.size;
  }

  /** Records what an access check at subscription start found (active member or not). */
  noteMembership(v: Viewer, conversationId: number, active: boolean, versionBefore: number): void {
    if ((v.changedAt.get(conversationId) ?? 0) <= versionBefore) this.setMember(v, conversationId, active);
  }

  /**
   * May the viewer read this conversation's events now (staff, or an active member)? From memory;
   * the first question about a conversation the viewer has not been seen in costs one query.
   */
  canRead(v: Viewer, conversationId: number): boolean | Promise<boolean> {
    // Staff read without being members: no membership to look up.
    if (canReadContent(v.actor, false)) return true;
    return this.isMember(v, conversationId);
  }

  /** Does the viewer follow this conversation by default (conversation.policy.ts followsByDefault)? */
  follows(v: Viewer, conversationId: number): boolean | Promise<boolean> {
    const member = this.isMember(v, conversationId);
    if (member === true || !v.actor.isStaff) return member;
    const kind = this.kinds.get(conversationId);
    const decide = (m: boolean, k: string | undefined) => followsByDefault(v.actor, k, m);
    if (kind !== undefined) return member instanceof Promise ? member.then((m) => decide(m, kind)) : decide(member, kind);
    return Promise.all([member, this.kindOf(conversationId)]).then(([m, k]) => decide(m, k));
  }

  /** Records a conversation's kind read elsewhere (an access check at subscription start): kinds never change. */
  noteKind(conversationId: number, kind: string): void {
    if (this.kinds.size >= MAX_KINDS) this.kinds.clear();
    this.kinds.set(conversationId, kind);
  }

  /** A conversation's kind (DIRECT, GROUP, ROOM, SUPPORT; kinds never change): from memory, else one query. */
  conversationKind(conversationId: number): string | undefined | Promise<string | undefined> {
    return this.kinds.get(conversationId) ?? this.kindOf(conversationId);
  }

  /** Loads every active membership of the viewer once (subscriptions without a conversationId). */
  ensureComplete(v: Viewer): Promise<void> {
    if (v.complete) return Promise.resolve();
    return (v.loading ??= this.loadAll(v).finally(() => {
      v.loading = undefined;
    }));
  }

  /**
   * A user's record (its privacy settings) from the user cache: memory after the first read (one
   * query then, not labelled as delivery's, as the adapters' reads of it were not).
   */
  userRecord(userId: number): Promise<UserRecord | null> {
    return this.loadUser ? this.loadUser(this.rootEm.fork(), userId) : Promise.resolve(null);
  }

  /** Users the viewer blocked or is blocked by (one query, then memory until a block changes). */
  blockedIds(v: Viewer): Promise<Set<number>> {
    if (!v.blocked) {
      const from: Promise<Set<number>> = this.loadBlocked(this.em(), v.actor.id).then(
        (set) => {
          if (v.blocked === from) v.blockedKnown = { from, set };
          return set;
        },
        (err) => {
          if (v.blocked === from) v.blocked = undefined;
          throw err;
        },
      );
      v.blocked = from;
    }
    return v.blocked;
  }

  /** The users blocked either way when already known in memory (else undefined: ask {@link blockedIds}). */
  blockedNow(v: Viewer): Set<number> | undefined {
    const known = v.blockedKnown;
    return known && known.from === v.blocked ? known.set : undefined;
  }

  /**
   * Re-reads every viewer's staff flag and memberships from PostgreSQL (after an outage of the
   * bus between instances: bans, removals and staff changes made elsewhere meanwhile apply now).
   */
  async resync(): Promise<void> {
    const list = [...this.viewers.values(), ...[...this.dormant.values()].map((d) => d.viewer)];
    if (!list.length) return;
    const ids = list.map((v) => v.actor.id);
    const versions = new Map(list.map((v) => [v, v.version]));
    const em = this.em();
    const marks = ids.map(() => '?').join(', ');
    const [users, rows] = await Promise.all([
      em.execute<{ id: number; is_staff: boolean }[]>(`select "id", "is_staff" from "users" where "id" in (${marks})`, ids, 'all', DELIVERY_QUERY),
      em.execute<{ user_id: number; conversation_id: number }[]>(
        `select m."user_id", m."conversation_id" from "memberships" m where m."user_id" in (${marks}) and ${activeMembershipSql('m')}`,
        ids,
        'all',
        DELIVERY_QUERY,
      ),
    ]);
    const staff = new Map(users.map((u) => [Number(u.id), Boolean(u.is_staff)]));
    const active = new Map<number, Set<number>>();
    for (const r of rows) {
      let s = active.get(Number(r.user_id));
      if (!s) active.set(Number(r.user_id), (s = new Set()));
      s.add(Number(r.conversation_id));
    }
    for (const v of list) {
      this.setStaff(v, staff.get(v.actor.id) ?? false);
      v.blocked = undefined;
      const mine = active.get(v.actor.id) ?? new Set<number>();
      const before = versions.get(v)!;
      const keys = v.complete ? new Set([...v.member.keys(), ...mine]) : new Set(v.member.keys());
      for (const c of keys) this.noteMembership(v, c, mine.has(c), before);
    }
    this.logger?.info({ viewers: list.length }, 'live audiences re-checked against the database');
  }

  close(): void {
    for (const off of this.offs) off();
    this.viewers.clear();
    this.dormant.clear();
    this.membersOf.clear();
    this.staff.clear();
  }

  /** Every write of Viewer.member goes here, so membersOf stays its exact reverse. */
  private setMember(v: Viewer, conversationId: number, active: boolean): void {
    v.member.set(conversationId, active);
    if (this.viewers.get(v.actor.id) !== v) return;
    if (!active) {
      this.unindex(v, conversationId);
      return;
    }
    let set = this.membersOf.get(conversationId);
    if (!set) this.membersOf.set(conversationId, (set = new Set()));
    set.add(v);
  }

  private unindex(v: Viewer, conversationId: number): void {
    const set = this.membersOf.get(conversationId);
    if (!set) return;
    set.delete(v);
    if (!set.size) this.membersOf.delete(conversationId);
  }

  private setStaff(v: Viewer, isStaff: boolean): void {
    v.actor.isStaff = isStaff;
    if (isStaff && this.viewers.get(v.actor.id) === v) this.staff.add(v);
    else this.staff.delete(v);
  }

  /** A fork whose queries are logged as realtime delivery's (DELIVERY_QUERY). */
  private em(): EntityManager {
    return this.rootEm.fork({ loggerContext: DELIVERY_QUERY });
  }

  private isMember(v: Viewer, conversationId: number): boolean | Promise<boolean> {
    const known = v.member.get(conversationId);
    if (known !== undefined) return known;
    if (v.complete) return false;
    const before = v.version;
    return this.em()
      .execute<{ n: number }[]>(
        `select 1 as n from "memberships" m where m."conversation_id" = ? and m."user_id" = ? and ${activeMembershipSql('m')}`,
        [conversationId, v.actor.id],
        'all',
        DELIVERY_QUERY,
      )
      .then((rows) => {
        this.noteMembership(v, conversationId, rows.length > 0, before);
        return v.member.get(conversationId) ?? rows.length > 0;
      });
  }

  private async kindOf(conversationId: number): Promise<string | undefined> {
    const [row] = await this.em().execute<{ kind: string }[]>('select "kind" from "conversations" where "id" = ?', [conversationId], 'all', DELIVERY_QUERY);
    if (row) {
      if (this.kinds.size >= MAX_KINDS) this.kinds.clear();
      this.kinds.set(conversationId, row.kind);
    }
    return row?.kind;
  }

  private async loadAll(v: Viewer): Promise<void> {
    const before = v.version;
    const rows = await this.em().execute<{ conversation_id: number }[]>(
      `select m."conversation_id" from "memberships" m where m."user_id" = ? and ${activeMembershipSql('m')}`,
      [v.actor.id],
      'all',
      DELIVERY_QUERY,
    );
    const mine = new Set(rows.map((r) => Number(r.conversation_id)));
    for (const c of new Set([...v.member.keys(), ...mine])) this.noteMembership(v, c, mine.has(c), before);
    v.complete = true;
  }

  /** The viewer of a user with open sockets here, or whose last one closed lately. */
  private known(userId: number): Viewer | undefined {
    return this.viewers.get(userId) ?? this.dormant.get(userId)?.viewer;
  }

  private onMembership(e: DomainEvent): void {
    if (e.type !== 'membership.changed') return;
    const v = this.known(e.userId);
    if (!v) return;
    v.version++;
    v.changedAt.set(e.conversationId, v.version);
    this.setMember(v, e.conversationId, e.active);
  }
}
