import type { EntityManager } from '@mikro-orm/postgresql';
import { activeMembershipSql } from '../../domain/conversation/conversation.policy';
import { DELIVERY_QUERY } from '../delivery/hub';

/** How long a conversation's answer is kept, ms (membership changes move a room across the line rarely). */
const TTL_MS = 10_000;
/** Conversations remembered at most (the oldest answer is dropped first). */
const MAX_ENTRIES = 10_000;

/**
 * Issue 32: which conversations are "large" — above SEEN_BY_MAX_MEMBERS active members — so that
 * their read receipts are coalesced by the delivery hub (DeliveryOptions.coalesceReceipts). One
 * count query per conversation per {@link TTL_MS}, shared by concurrent askers (1000 members
 * reading at once ask once), asked only when someone on this instance listens to the receipts;
 * answered from memory in between. The query counts as delivery SQL (DELIVERY_QUERY).
 */
export class LargeConversations {
  private readonly known = new Map<number, { large: boolean | Promise<boolean>; at: number }>();

  constructor(
    private readonly rootEm: EntityManager,
    /** SEEN_BY_MAX_MEMBERS: above it a conversation is large. */
    private readonly maxMembers: number,
  ) {}

  /** Whether `conversationId` has more than `maxMembers` active members: a boolean from memory, or a promise while it is counted. */
  isLarge(conversationId: number): boolean | Promise<boolean> {
    const hit = this.known.get(conversationId);
    if (hit && (hit.large instanceof Promise || Date.now() - hit.at < TTL_MS)) return hit.large;
    const counting = this.rootEm
      .fork({ loggerContext: DELIVERY_QUERY })
      .execute<{ n: string | number }[]>(`select count(*) as "n" from "memberships" m where m."conversation_id" = ? and ${activeMembershipSql('m')}`, [
        conversationId,
      ])
      .then(
        ([row]) => {
          const large = Number(row?.n ?? 0) > this.maxMembers;
          this.known.set(conversationId, { large, at: Date.now() });
          return large;
        },
        (err) => {
          this.known.delete(conversationId);
          throw err;
        },
      );
    this.known.delete(conversationId);
    if (this.known.size >= MAX_ENTRIES) this.known.delete(this.known.keys().next().value!);
    this.known.set(conversationId, { large: counting, at: Date.now() });
    return counting;
  }
}
