import type { Actor } from '../shared/actor';
import { ConversationKind, MemberRole, RoomVisibility, type Conversation } from './conversation.entity';
import type { Membership } from './membership.entity';

/**
 * Who may see and do what in a conversation: the one place these rules are decided (issue 14).
 * Small pure functions over what is known (actor, conversation, the actor's membership); the
 * services call them before acting, the adapters (GraphQL resolvers, REST presenters) call them
 * through {@link viewerAbilities}, and the SQL below says the same rules where a query must.
 * Not allowed to see answers NOT_FOUND in the services (no existence leak).
 * Sources: seed 002 (staff and SUPPORT threads), seed 003 (rooms, roles), seed 004 (staff see all).
 */

/** A membership that grants access: not left, not banned. */
export function isActive(m: Membership | null | undefined): m is Membership & { leftAt: null; isBanned: false } {
  return Boolean(m && !m.leftAt && !m.isBanned);
}

/** Members read; staff read everything (seed 004) including every SUPPORT thread (seed 002). */
export function canRead(actor: Actor, _c: Conversation, m: Membership | null | undefined): boolean {
  return canReadContent(actor, isActive(m));
}

/**
 * {@link canRead} from what is known: whether the actor is an active member. Content means
 * messages and members; a PUBLIC room's metadata is also shown to strangers ({@link canSeeMetadata}).
 */
export function canReadContent(actor: Actor | null | undefined, activeMember: boolean): boolean {
  return activeMember || Boolean(actor?.isStaff);
}

/** What a stranger may see of a conversation without reading it: a PUBLIC room's metadata (seed 003 room details before joining). */
export function canSeeMetadata(c: Pick<Conversation, 'kind' | 'visibility'>): boolean {
  return c.kind === ConversationKind.ROOM && c.visibility === RoomVisibility.PUBLIC;
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

/**
 * An archived conversation (seed 003 `is_active: false`) is read-only: its history stays readable,
 * but it takes no sends, joins, member additions, edits or attachments (and reactions, when they come).
 */
export function isArchived(c: Pick<Conversation, 'archivedAt'>): boolean {
  return c.archivedAt != null;
}

/** What every refusal of an archived conversation says (the same in every dialect). */
export const ARCHIVED_MESSAGE =
  'This conversation is archived (inactive): its history is readable, but it takes no new messages, members or edits until an owner, an admin or staff reactivates it';

/**
 * Archiving and reactivating (seed 003 `is_active`; contract `archiveConversation`): an OWNER or
 * ADMIN of a GROUP or ROOM, or staff for any conversation but a DIRECT one (a SUPPORT thread: staff only).
 */
export function canArchive(actor: Actor, c: Conversation, m: Membership | null | undefined): boolean {
  if (c.kind === ConversationKind.DIRECT) return false;
  return actor.isStaff || canManage(actor, c, m);
}

/** Only an OWNER (or staff) hands out OWNER or touches another OWNER/ADMIN. */
export function outranks(actor: Actor, m: Membership | null | undefined, target: Membership): boolean {
  if (actor.isStaff) return true;
  if (!isActive(m)) return false;
  if (m.role === MemberRole.OWNER) return true;
  return m.role === MemberRole.ADMIN && target.role === MemberRole.MEMBER;
}

/** Changing members' roles: an OWNER of a GROUP or ROOM, or staff. */
export function canAssignRoles(actor: Actor, c: Conversation, m: Membership | null | undefined): boolean {
  return canManage(actor, c, m) && (actor.isStaff || m?.role === MemberRole.OWNER);
}

/** Adding a member with `role`: a manager adds MEMBERs; only an OWNER (or staff) adds OWNERs or ADMINs. */
export function canAddAs(actor: Actor, c: Conversation, m: Membership | null | undefined, role: MemberRole): boolean {
  return role === MemberRole.MEMBER ? canManage(actor, c, m) : canAssignRoles(actor, c, m);
}

/**
 * Staff in a SUPPORT thread they have never opened (no membership yet): every message counts as
 * unread for them, their own aside (seed 002 staff inbox). Members count from their read position.
 */
export function unreadIsWholeThread(actor: Actor | null | undefined, c: Pick<Conversation, 'kind'>, m: Membership | null | undefined): boolean {
  return !m && Boolean(actor?.isStaff) && c.kind === ConversationKind.SUPPORT;
}

/** What an adapter shows of a conversation for its viewer, decided here (Outline's presented policies). */
export interface ConversationAbilities {
  /** The viewer's active membership, or null (staff outside, a stranger to a PUBLIC room). */
  membership: Membership | null;
  /** Messages and members are shown ({@link canReadContent}). */
  readContent: boolean;
  /** The unread count is the whole thread's ({@link unreadIsWholeThread}). */
  unreadIsWholeThread: boolean;
}

/**
 * The viewer's abilities on a conversation from the request's loaders (one batched membership
 * lookup), for GraphQL field resolvers and REST presenters alike.
 */
export async function viewerAbilities(
  actor: Actor | null | undefined,
  c: Conversation,
  memberships: { load(conversationId: number): Promise<Membership | null> },
): Promise<ConversationAbilities> {
  const membership = actor ? await memberships.load(c.id) : null;
  return { membership, readContent: canReadContent(actor, isActive(membership)), unreadIsWholeThread: unreadIsWholeThread(actor, c, membership) };
}

/* The same rules in SQL, for the queries that must say them (one fragment each). */

/** SQL: membership row `alias` grants access (as {@link isActive}). */
export function activeMembershipSql(alias: string): string {
  return `${alias}."left_at" is null and not ${alias}."is_banned"`;
}

/**
 * SQL: the actor may read the messages of the conversation whose id is `conversationId` (an SQL
 * expression) now, as {@link canReadContent}: staff every conversation, anyone else through an
 * active membership (a removed, banned or departed member no longer). Search (issue 33) uses it.
 * Written as `= any(array(<the actor's readable conversation ids>))`, not as a correlated
 * `exists`: the ids are read once, so PostgreSQL can intersect the bitmap of those conversations'
 * messages (btree) with the search index's (GIN) instead of repeating the GIN lookup per
 * conversation or fetching every match of a common word (bench/README.md, search).
 */
export function readableConversationSql(actor: Actor, conversationId: string): string {
  if (canReadContent(actor, false)) return 'true';
  return `${conversationId} = any(array(select rm."conversation_id" from "memberships" rm where rm."user_id" = ${Number(actor.id)} and ${activeMembershipSql('rm')}))`;
}

/** ORM filter: an active membership (as {@link isActive}). */
export const ACTIVE_MEMBERSHIP = { leftAt: null, isBanned: false } as const;

/**
 * SQL: message `msg` is unread for the user of membership `m` (same conversation assumed): after
 * the read position, not deleted, not the user's own (SYSTEM messages count), in the main timeline
 * (issue 32: a reply shown only in its thread counts in the thread's unread, not here).
 */
export function unreadMessageSql(msg: string, m: string): string {
  return `${msg}."seq" > ${m}."last_read_seq" and ${msg}."deleted_at" is null and ${msg}."sender_id" is distinct from ${m}."user_id" and not ${msg}."thread_only"`;
}

/**
 * SQL: the viewer sees conversation `c` in their lists, given `m`, their active membership joined
 * with {@link activeMembershipSql} (null when none): a member, and staff every SUPPORT thread
 * (seed 002). `supportForStaff` false leaves the SUPPORT threads out (a list of other kinds).
 */
export function listedConversationSql(actor: Actor, supportForStaff = true): string {
  return actor.isStaff && supportForStaff ? `(m."id" is not null or c."kind" = 'SUPPORT')` : `m."id" is not null`;
}
