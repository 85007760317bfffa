/**
 * Who is watching a conversation live on this instance: the open `messageAdded` subscriptions
 * per user, for one conversation or for all of theirs. A member who watches a conversation gets
 * its messages live and needs no MESSAGE notification for them (seed 003 notifications).
 */
export class ConversationWatchers {
  /** userId -> (conversationId, or 0 for "all my conversations") -> open subscriptions. */
  private readonly byUser = new Map<number, Map<number, number>>();

  /** Registers one live subscription; returns its release function (idempotent). */
  watch(userId: number, conversationId: number | null): () => void {
    const key = conversationId ?? 0;
    let perUser = this.byUser.get(userId);
    if (!perUser) this.byUser.set(userId, (perUser = new Map()));
    perUser.set(key, (perUser.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const m = this.byUser.get(userId);
      if (!m) return;
      const n = (m.get(key) ?? 1) - 1;
      if (n > 0) m.set(key, n); else m.delete(key);
      if (m.size === 0) this.byUser.delete(userId);
    };
  }

  /** True when `userId` has a live subscription covering `conversationId`. */
  isWatching(userId: number, conversationId: number): boolean {
    const m = this.byUser.get(userId);
    return Boolean(m && (m.has(conversationId) || m.has(0)));
  }

  /** The users who watch `conversationId` live (through it or through "all"). */
  watchersOf(conversationId: number): number[] {
    const out: number[] = [];
    for (const [userId, m] of this.byUser) if (m.has(conversationId) || m.has(0)) out.push(userId);
    return out;
  }
}
