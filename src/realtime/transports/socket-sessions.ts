import type { Session } from '../../domain/auth/auth.service';
import type { EventBus } from '../state/event-bus';
import { CloseCode, type GateSocket } from './sockets';

/** graphql-ws close code for an authentication failure (the protocol's 4403 Forbidden); the table is sockets.ts {@link CloseCode}. */
export const CLOSE_FORBIDDEN = CloseCode.FORBIDDEN;

/**
 * How long a revoked login is remembered, in ms: a socket whose login check passed just before
 * the revocation and that is added after its event arrived is closed on adding (the check and the
 * adding are apart by a rate-limit round trip, milliseconds; a minute covers any stall).
 */
export const REVOKED_MEMORY_MS = 60_000;

/**
 * The authenticated sockets of this instance by login: a socket closes with 4403 when its access
 * token expires, and when its login is revoked on any instance (`session.revoked`: logout,
 * refresh-token reuse, a password change, a deleted account), so a revoked user stops receiving.
 * A login revoked in the last {@link REVOKED_MEMORY_MS} opens no socket either: `session.revoked`
 * can arrive between a socket's login check and its adding here (a revocation racing a connect).
 */
export class SocketSessions {
  private readonly bySession = new Map<string, Set<GateSocket>>();
  private readonly timers = new Map<GateSocket, NodeJS.Timeout>();
  private readonly sessionOf = new Map<GateSocket, string>();
  /** Logins revoked recently (session id -> time revoked, ms), oldest first. */
  private readonly revoked = new Map<string, number>();
  private readonly off: () => void;

  constructor(
    bus: EventBus,
    private readonly now: () => number = Date.now,
  ) {
    this.off = bus.on('session.revoked', (e) => {
      if (e.type !== 'session.revoked') return;
      this.remember(e.sessionId);
      this.closeSession(e.sessionId, 'Forbidden: logged out');
    });
  }

  /**
   * Tracks an authenticated socket until it closes. Answers false, and closes it (4403), when its
   * login was revoked since its check.
   */
  add(socket: GateSocket, session: Session): boolean {
    if (session.sessionId && this.revoked.has(session.sessionId)) {
      socket.close(CLOSE_FORBIDDEN, 'Forbidden: logged out');
      return false;
    }
    const ms = session.expiresAt.getTime() - Date.now();
    const timer = setTimeout(() => socket.close(CLOSE_FORBIDDEN, 'Forbidden: access token expired'), Math.max(0, Math.min(ms, 2 ** 31 - 1)));
    timer.unref();
    this.timers.set(socket, timer);
    if (session.sessionId) {
      let set = this.bySession.get(session.sessionId);
      if (!set) this.bySession.set(session.sessionId, (set = new Set()));
      set.add(socket);
      this.sessionOf.set(socket, session.sessionId);
    }
    // `on`: remove() is idempotent, and a once() wrapper is more objects kept per socket.
    socket.on('close', () => this.remove(socket));
    return true;
  }

  /** Closes every socket of a login on this instance. */
  closeSession(sessionId: string, reason: string): void {
    for (const socket of [...(this.bySession.get(sessionId) ?? [])]) socket.close(CLOSE_FORBIDDEN, reason);
  }

  /**
   * Closes (4403) the sockets of every login that `live` no longer lists (after an outage of the
   * bus, when `session.revoked` events from other instances may have been lost).
   */
  async recheck(live: (sessionIds: string[]) => Promise<Set<string>>): Promise<void> {
    const ids = [...this.bySession.keys()];
    if (!ids.length) return;
    const alive = await live(ids);
    for (const id of ids) if (!alive.has(id)) this.closeSession(id, 'Forbidden: logged out');
  }

  close(): void {
    this.off();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.bySession.clear();
    this.sessionOf.clear();
    this.revoked.clear();
  }

  /** Remembers a revoked login for {@link REVOKED_MEMORY_MS}, forgetting those older (the map stays small: revocations are rare). */
  private remember(sessionId: string): void {
    const now = this.now();
    for (const [id, at] of this.revoked) {
      if (now - at < REVOKED_MEMORY_MS) break;
      this.revoked.delete(id);
    }
    this.revoked.delete(sessionId);
    this.revoked.set(sessionId, now);
  }

  private remove(socket: GateSocket): void {
    clearTimeout(this.timers.get(socket));
    this.timers.delete(socket);
    const id = this.sessionOf.get(socket);
    this.sessionOf.delete(socket);
    if (!id) return;
    const set = this.bySession.get(id);
    set?.delete(socket);
    if (set && set.size === 0) this.bySession.delete(id);
  }
}
