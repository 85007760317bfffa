import type { EventPublisher } from '../domain/shared/events';

/**
 * Who is online: a user is ONLINE while at least one of their sockets is open on this instance,
 * OFFLINE once the last closes (then `onOffline` records lastSeenAt). Publishes a presence
 * event on each change.
 */
export class PresenceTracker {
  private readonly sockets = new Map<number, number>();

  constructor(
    private readonly events: EventPublisher,
    private readonly onOffline: (userId: number, at: Date) => Promise<void>,
  ) {}

  /** A socket of `userId` opened. */
  connected(userId: number): void {
    const n = (this.sockets.get(userId) ?? 0) + 1;
    this.sockets.set(userId, n);
    if (n === 1) this.events.publish({ type: 'presence', userId, status: 'ONLINE', lastSeenAt: null });
  }

  /** A socket of `userId` closed. */
  async disconnected(userId: number): Promise<void> {
    const n = (this.sockets.get(userId) ?? 0) - 1;
    if (n > 0) { this.sockets.set(userId, n); return; }
    this.sockets.delete(userId);
    const at = new Date();
    await this.onOffline(userId, at).catch(() => undefined);
    if (!this.sockets.has(userId)) this.events.publish({ type: 'presence', userId, status: 'OFFLINE', lastSeenAt: at.toISOString() });
  }

  isOnline(userId: number): boolean {
    return (this.sockets.get(userId) ?? 0) > 0;
  }
}
