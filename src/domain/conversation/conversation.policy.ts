import type { Actor } from '../shared/actor';
import { ConversationKind, MemberRole, type Conversation } from './conversation.entity';
import type { Membership } from './membership.entity';

/**
 * Who may do what to a conversation: small pure functions, one place.
 * Not allowed to see answers NOT_FOUND in the services (no existence leak).
 */

/** A membership that grants access: not left, not banned. */
export function isActive(m: Membership | null | undefined): m is Membership & { leftAt: null; isBanned: false } {
  return Boolean(m && !m.leftAt && !m.isBanned);
}

/** Members read; staff read everything (seed 004) including every SUPPORT thread (seed 002). */
export function canRead(actor: Actor, _c: Conversation, m: Membership | null | undefined): boolean {
  return readsAs(actor, isActive(m));
}

/** {@link canRead} from what is known: whether the actor is an active member. */
export function readsAs(actor: Actor, activeMember: boolean): boolean {
  return activeMember || actor.isStaff;
}

/**
 * Whether the actor follows a conversation's events by default (subscriptions without a
 * conversationId): active members, and staff for every SUPPORT thread (seed 002 `staff_room`).
 */
export function followsByDefault(actor: Actor, kind: string | undefined, activeMember: boolean): boolean {
  return activeMember || (actor.isStaff && kind === ConversationKind.SUPPORT);
}

/** Members send unless muted; staff answer SUPPORT threads without being members (seed 002). */
export function canSend(actor: Actor, c: Conversation, m: Membership | null | undefined): boolean {
  if (isActive(m)) return !m.isMuted;
  return actor.isStaff && c.kind === ConversationKind.SUPPORT;
}

/** OWNER/ADMIN of a GROUP or ROOM manage members; staff moderate everything. */
export function canManage(actor: Actor, c: Conversation, m: Membership | null | undefined): boolean {
  if (c.kind !== ConversationKind.GROUP && c.kind !== ConversationKind.ROOM) return false;
  if (actor.isStaff) return true;
  return isActive(m) && (m.role === MemberRole.OWNER || m.role === MemberRole.ADMIN);
}

/** Only an OWNER (or staff) hands out OWNER or touches another OWNER/ADMIN. */
export function outranks(actor: Actor, m: Membership | null | undefined, target: Membership): boolean {
  if (actor.isStaff) return true;
  if (!isActive(m)) return false;
  if (m.role === MemberRole.OWNER) return true;
  return m.role === MemberRole.ADMIN && target.role === MemberRole.MEMBER;
}
