import type { EntityManager } from '@mikro-orm/postgresql';
import type { DomainEvent } from '../domain/shared/events';
import { User } from '../domain/user/user.entity';
import type { EventBus } from './event-bus';

/** The public fields of a user that subscription payloads show (contract type User). */
export type PublicProfile = Pick<User, 'id' | 'username' | 'firstName' | 'lastName' | 'avatarUrl' | 'role' | 'isStaff' | 'score' | 'rank' | 'lastSeenAt'>;

const FIELDS = ['id', 'username', 'firstName', 'lastName', 'avatarUrl', 'role', 'isStaff', 'score', 'rank', 'lastSeenAt'] as const;

/**
 * Public profiles of recent senders and mentioned users, for realtime delivery only: a hot room's
 * senders are read from PostgreSQL once, not once per event. Entries are plain snapshots (no ORM
 * state) and live at most `ttlMs` (lastSeenAt may be that stale in a live payload); a
 * `user.changed` event drops that user, and an outage of the bus drops everything.
 * At most `max` entries, the oldest dropped first.
 */
export class ProfileCache {
  private readonly entries = new Map<number, { at: number; profile: PublicProfile }>();
  private readonly offs: (() => void)[];

  constructor(bus: EventBus, private readonly ttlMs = 60_000, private readonly max = 10_000) {
    this.offs = [
      bus.on('user.changed', (e: DomainEvent) => { if (e.type === 'user.changed') this.entries.delete(e.userId); }),
      bus.onResync(() => this.entries.clear()),
    ];
  }

  /** The profiles of `ids` in order (null for unknown users); reads the missing ones in one query. */
  async load(em: EntityManager, ids: readonly number[]): Promise<(PublicProfile | null)[]> {
    const now = Date.now();
    const missing: number[] = [];
    for (const id of ids) {
      const hit = this.entries.get(id);
      if (!hit || now - hit.at > this.ttlMs) missing.push(id);
    }
    if (missing.length) {
      const rows = await em.find(User, { id: { $in: missing } }, { fields: [...FIELDS] });
      for (const u of rows) {
        const profile = Object.fromEntries(FIELDS.map((f) => [f, u[f] ?? null])) as unknown as PublicProfile;
        this.entries.delete(u.id);
        this.entries.set(u.id, { at: now, profile });
        if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
      }
    }
    return ids.map((id) => this.entries.get(id)?.profile ?? null);
  }

  close(): void {
    for (const off of this.offs) off();
    this.entries.clear();
  }
}
