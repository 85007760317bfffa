import type { PresenceVisibility } from './user.entity';

/**
 * Privacy rules of a user (issue 27 §5; contract `PrivacySettings`). Pure functions: the callers
 * bring the facts (the viewer, the target's settings, whether they are related, blocks).
 */

/** The facts about a target user the presence rule reads. */
export interface PresenceTarget {
  id: number;
  presenceVisibility?: PresenceVisibility | null;
}

/**
 * Whether `viewerId` may see `target`'s presence (ONLINE/OFFLINE) and last-seen time: always their
 * own; never across a block (either way); otherwise by the target's `presenceVisibility`:
 * EVERYONE, CONTACTS (the default: `related`, i.e. an accepted contact or a co-member, someone
 * sharing a conversation) or NOBODY. Staff get no exception.
 */
export function showsPresence(viewerId: number, target: PresenceTarget, facts: { related: boolean; blocked: boolean }): boolean {
  if (viewerId === target.id) return true;
  if (facts.blocked) return false;
  switch (target.presenceVisibility ?? 'CONTACTS') {
    case 'EVERYONE':
      return true;
    case 'CONTACTS':
      return facts.related;
    default:
      return false;
  }
}

/** True when the rule needs to know whether viewer and target are related (so callers ask only then). */
export function presenceNeedsRelation(viewerId: number, target: PresenceTarget): boolean {
  return viewerId !== target.id && (target.presenceVisibility ?? 'CONTACTS') === 'CONTACTS';
}

/**
 * Whether a read receipt of `reader` reaches `viewerId`: always the reader's own sessions; others
 * only while the reader sends read receipts (`sendReadReceipts`, default true).
 */
export function deliversReadReceipt(viewerId: number, reader: { id: number; sendReadReceipts?: boolean | null }): boolean {
  return viewerId === reader.id || reader.sendReadReceipts !== false;
}

/** Whether `viewerId` sees `userId`'s privacy settings (contract `User.privacy`): their own only. */
export function showsPrivacy(viewerId: number | null | undefined, userId: number): boolean {
  return viewerId != null && viewerId === userId;
}
