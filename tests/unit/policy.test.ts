import { ConversationKind, MemberRole, RoomVisibility, type Conversation } from '../../src/domain/conversation/conversation.entity';
import {
  activeMembershipSql,
  readableConversationSql,
  canAddAs,
  canArchive,
  canAssignRoles,
  canManage,
  canRead,
  canReadContent,
  canSeeMetadata,
  canSend,
  followsByDefault,
  isActive,
  isArchived,
  listedConversationSql,
  outranks,
  unreadIsWholeThread,
  unreadMessageSql,
  viewerAbilities,
} from '../../src/domain/conversation/conversation.policy';
import type { Membership } from '../../src/domain/conversation/membership.entity';
import {
  canAttach,
  canDelete,
  canEdit,
  canPin,
  canPostNotice,
  isIn,
  isOwn,
  isReadByOthers,
  isSeenBy,
  isSystem,
  listsSeenBy,
  showsSeenBy,
  showsContent,
  showsReply,
  showsRevisions,
  withinEditWindow,
  type MessageFacts,
} from '../../src/domain/message/message.policy';
import type { Actor } from '../../src/domain/shared/actor';
import { deliversReadReceipt, presenceNeedsRelation, showsPresence, showsPrivacy } from '../../src/domain/user/user.policy';

/**
 * The policy predicates (issue 14), each as a table of actor x subject x expected. The same rules
 * are exercised end to end by the authorization matrix (tests/integration/security) and the
 * integration tests; here each rule is pinned where it is written.
 */

const user: Actor = { id: 1, username: 'u', isStaff: false };
const staff: Actor = { id: 9, username: 'staff', isStaff: true };
const conv = (kind: ConversationKind, visibility: RoomVisibility = RoomVisibility.PUBLIC) => ({ id: 100, kind, visibility }) as unknown as Conversation;
const member = (role: MemberRole = MemberRole.MEMBER, extra: Partial<Membership> = {}) =>
  ({ id: 5, role, leftAt: null, isBanned: false, isMuted: false, ...extra }) as unknown as Membership;
const left = member(MemberRole.MEMBER, { leftAt: new Date() });
const banned = member(MemberRole.MEMBER, { isBanned: true });
const muted = member(MemberRole.MEMBER, { isMuted: true });
const owner = member(MemberRole.OWNER);
const admin = member(MemberRole.ADMIN);
const { DIRECT, GROUP, ROOM, SUPPORT } = ConversationKind;

describe('conversation policy', () => {
  it.each([
    ['an active membership', member(), true],
    ['a membership that was left', left, false],
    ['a banned membership', banned, false],
    ['a muted membership (still active)', muted, true],
    ['no membership', null, false],
  ])('isActive: %s → %s', (_what, m, expected) => {
    expect(isActive(m)).toBe(expected);
  });

  it.each([
    ['a member', user, member(), GROUP, true],
    ['a former member', user, left, GROUP, false],
    ['a banned member', user, banned, ROOM, false],
    ['a stranger', user, null, ROOM, false],
    ['staff outside a GROUP (seed 004)', staff, null, GROUP, true],
    ['staff outside a SUPPORT thread (seed 002)', staff, null, SUPPORT, true],
    ['staff outside a DIRECT chat (seed 004)', staff, null, DIRECT, true],
  ])('canRead: %s', (_what, actor, m, kind, expected) => {
    expect(canRead(actor, conv(kind), m)).toBe(expected);
    expect(canReadContent(actor, isActive(m))).toBe(expected);
  });

  it('canReadContent: nobody signed in reads nothing', () => {
    expect(canReadContent(null, false)).toBe(false);
    expect(canReadContent(undefined, false)).toBe(false);
  });

  it.each([
    [ROOM, RoomVisibility.PUBLIC, true],
    [ROOM, RoomVisibility.PRIVATE, false],
    [GROUP, RoomVisibility.PUBLIC, false],
    [DIRECT, RoomVisibility.PUBLIC, false],
    [SUPPORT, RoomVisibility.PUBLIC, false],
  ])('canSeeMetadata: %s %s → %s (seed 003: PUBLIC rooms before joining)', (kind, visibility, expected) => {
    expect(canSeeMetadata(conv(kind, visibility))).toBe(expected);
  });

  it.each([
    ['a member, any kind', user, GROUP, true, true],
    ['a stranger', user, ROOM, false, false],
    ['staff, SUPPORT threads (seed 002 staff_room)', staff, SUPPORT, false, true],
    ['staff, other kinds they are not in', staff, GROUP, false, false],
    ['staff, their own memberships', staff, DIRECT, true, true],
  ])('followsByDefault: %s', (_what, actor, kind, active, expected) => {
    expect(followsByDefault(actor, kind, active)).toBe(expected);
  });

  it.each([
    ['a member', user, member(), GROUP, true],
    ['a muted member', user, muted, GROUP, false],
    ['a former member', user, left, GROUP, false],
    ['a banned member', user, banned, ROOM, false],
    ['a stranger', user, null, ROOM, false],
    ['staff outside a SUPPORT thread (they answer, seed 002)', staff, null, SUPPORT, true],
    ['staff outside a GROUP (they read, but do not post)', staff, null, GROUP, false],
    ['muted staff in a group', staff, muted, GROUP, false],
  ])('canSend: %s', (_what, actor, m, kind, expected) => {
    expect(canSend(actor, conv(kind), m)).toBe(expected);
  });

  it.each([
    ['OWNER of a GROUP', user, owner, GROUP, true],
    ['ADMIN of a ROOM', user, admin, ROOM, true],
    ['MEMBER of a GROUP', user, member(), GROUP, false],
    ['a banned ADMIN', user, member(MemberRole.ADMIN, { isBanned: true }), GROUP, false],
    ['an OWNER who left', user, member(MemberRole.OWNER, { leftAt: new Date() }), ROOM, false],
    ['OWNER of a DIRECT chat (nothing to manage)', user, owner, DIRECT, false],
    ['OWNER of a SUPPORT thread (the customer)', user, owner, SUPPORT, false],
    ['staff outside a GROUP', staff, null, GROUP, true],
    ['staff in a DIRECT chat', staff, null, DIRECT, false],
  ])('canManage: %s', (_what, actor, m, kind, expected) => {
    expect(canManage(actor, conv(kind), m)).toBe(expected);
  });

  // Issue 28 item 8 (seed 003 is_active; contract archiveConversation: "OWNER/ADMIN or staff; not DIRECT").
  it.each([
    ['OWNER of a ROOM', user, owner, ROOM, true],
    ['ADMIN of a GROUP', user, admin, GROUP, true],
    ['MEMBER of a ROOM', user, member(), ROOM, false],
    ['an OWNER who left', user, member(MemberRole.OWNER, { leftAt: new Date() }), ROOM, false],
    ['the customer (OWNER) of a SUPPORT thread', user, owner, SUPPORT, false],
    ['staff outside a SUPPORT thread', staff, null, SUPPORT, true],
    ['staff outside a ROOM', staff, null, ROOM, true],
    ['staff in a DIRECT chat', staff, null, DIRECT, false],
    ['OWNER of a DIRECT chat', user, owner, DIRECT, false],
  ])('canArchive: %s', (_what, actor, m, kind, expected) => {
    expect(canArchive(actor, conv(kind), m)).toBe(expected);
  });

  it.each([
    ['active (archivedAt null)', null, false],
    ['archived', new Date(), true],
  ])('isArchived: %s', (_what, archivedAt, expected) => {
    expect(isArchived({ archivedAt })).toBe(expected);
  });

  // Issue 28 item 6: seed 003 message_type "system" (a notice in one's own name).
  it.each([
    ['OWNER of a ROOM', user, owner, ROOM, true],
    ['ADMIN of a ROOM', user, admin, ROOM, true],
    ['MEMBER of a ROOM', user, member(), ROOM, false],
    ['an ADMIN who left', user, member(MemberRole.ADMIN, { leftAt: new Date() }), ROOM, false],
    ['OWNER of a SUPPORT thread (the customer)', user, owner, SUPPORT, false],
    ['OWNER of a DIRECT chat', user, owner, DIRECT, false],
    ['staff in a ROOM', staff, member(), ROOM, true],
  ])('canPostNotice: %s', (_what, actor, m, kind, expected) => {
    expect(canPostNotice(actor, conv(kind), m)).toBe(expected);
  });

  it.each([
    ['OWNER over an ADMIN', user, owner, admin, true],
    ['OWNER over another OWNER', user, owner, member(MemberRole.OWNER), true],
    ['ADMIN over a MEMBER', user, admin, member(), true],
    ['ADMIN over another ADMIN', user, admin, member(MemberRole.ADMIN), false],
    ['ADMIN over an OWNER', user, admin, owner, false],
    ['MEMBER over a MEMBER', user, member(), member(), false],
    ['a banned OWNER', user, member(MemberRole.OWNER, { isBanned: true }), member(), false],
    ['staff over an OWNER', staff, null, owner, true],
  ])('outranks: %s', (_what, actor, m, target, expected) => {
    expect(outranks(actor, m, target)).toBe(expected);
  });

  it.each([
    ['OWNER', user, owner, GROUP, true],
    ['ADMIN', user, admin, GROUP, false],
    ['MEMBER', user, member(), ROOM, false],
    ['staff', staff, null, ROOM, true],
    ['OWNER of a DIRECT chat', user, owner, DIRECT, false],
  ])('canAssignRoles: %s', (_what, actor, m, kind, expected) => {
    expect(canAssignRoles(actor, conv(kind), m)).toBe(expected);
  });

  it.each([
    ['ADMIN adds a MEMBER', user, admin, MemberRole.MEMBER, true],
    ['ADMIN adds an ADMIN', user, admin, MemberRole.ADMIN, false],
    ['ADMIN adds an OWNER', user, admin, MemberRole.OWNER, false],
    ['OWNER adds an ADMIN', user, owner, MemberRole.ADMIN, true],
    ['MEMBER adds a MEMBER', user, member(), MemberRole.MEMBER, false],
    ['staff add an OWNER', staff, null, MemberRole.OWNER, true],
  ])('canAddAs: %s', (_what, actor, m, role, expected) => {
    expect(canAddAs(actor, conv(GROUP), m, role)).toBe(expected);
  });

  it.each([
    ['staff without a membership in SUPPORT', staff, null, SUPPORT, true],
    ['staff with a membership in SUPPORT', staff, member(), SUPPORT, false],
    ['staff without a membership in a GROUP', staff, null, GROUP, false],
    ['a customer without a membership', user, null, SUPPORT, false],
    ['nobody signed in', null, null, SUPPORT, false],
  ])('unreadIsWholeThread: %s', (_what, actor, m, kind, expected) => {
    expect(unreadIsWholeThread(actor, conv(kind), m)).toBe(expected);
  });

  it('viewerAbilities: asks the loader only for a signed-in viewer, and decides with the predicates', async () => {
    const asked: number[] = [];
    const loader = (m: Membership | null) => ({
      load: async (id: number) => {
        asked.push(id);
        return m;
      },
    });
    await expect(viewerAbilities(user, conv(GROUP), loader(member()))).resolves.toMatchObject({ readContent: true, unreadIsWholeThread: false });
    await expect(viewerAbilities(user, conv(ROOM), loader(null))).resolves.toMatchObject({ membership: null, readContent: false });
    await expect(viewerAbilities(staff, conv(SUPPORT), loader(null))).resolves.toMatchObject({ readContent: true, unreadIsWholeThread: true });
    expect(asked).toEqual([100, 100, 100]);
    await expect(viewerAbilities(null, conv(ROOM), loader(member()))).resolves.toMatchObject({ membership: null, readContent: false });
    expect(asked).toHaveLength(3);
  });

  it('the SQL fragments say the same rules', () => {
    expect(activeMembershipSql('m')).toBe('m."left_at" is null and not m."is_banned"');
    // Readable now (search): staff everything, anyone else the conversations of their active memberships.
    expect(readableConversationSql(staff, 'x.c')).toBe('true');
    expect(readableConversationSql(user, 'x.c')).toBe(
      `x.c = any(array(select rm."conversation_id" from "memberships" rm where rm."user_id" = ${user.id} and rm."left_at" is null and not rm."is_banned"))`,
    );
    expect(listedConversationSql(user)).toBe('m."id" is not null');
    expect(listedConversationSql(staff)).toBe(`(m."id" is not null or c."kind" = 'SUPPORT')`);
    expect(listedConversationSql(staff, false)).toBe('m."id" is not null');
    // Unread: after the read position, not deleted, not the reader's own (SYSTEM messages, sender null, count).
    expect(unreadMessageSql('msg', 'm')).toBe(
      'msg."seq" > m."last_read_seq" and msg."deleted_at" is null and msg."sender_id" is distinct from m."user_id" and not msg."thread_only"',
    );
  });
});

describe('message policy', () => {
  const msg = (facts: Partial<MessageFacts> = {}): MessageFacts => ({ kind: 'TEXT', senderId: user.id, deletedAt: null, conversationId: 100, ...facts });
  const others = msg({ senderId: 2 });
  const system = msg({ kind: 'SYSTEM', senderId: null });

  it.each([
    ['the sender, own message', user, msg(), true],
    ['someone else', user, others, false],
    ["staff, anyone's message (seed 004)", staff, others, true],
    ['staff, a SYSTEM message', staff, system, false],
  ])('canEdit: %s', (_what, actor, m, expected) => {
    expect(canEdit(actor, m)).toBe(expected);
  });

  it.each([
    ['the sender', user, msg(), member(), GROUP, true],
    ["a MEMBER, someone else's", user, others, member(), GROUP, false],
    ["an ADMIN of a GROUP, someone else's", user, others, admin, GROUP, true],
    ["an OWNER of a ROOM, someone else's", user, others, owner, ROOM, true],
    ["an OWNER of a DIRECT chat, the other's", user, others, owner, DIRECT, false],
    ['a banned ADMIN', user, others, member(MemberRole.ADMIN, { isBanned: true }), GROUP, false],
    ["staff, anyone's, in a DIRECT chat too (seed 004)", staff, others, null, DIRECT, true],
    ["staff in a GROUP, anyone's", staff, others, null, GROUP, true],
    ['an OWNER, a SYSTEM message', user, system, owner, GROUP, false],
  ])('canDelete: %s', (_what, actor, m, membership, kind, expected) => {
    expect(canDelete(actor, m, conv(kind), membership)).toBe(expected);
  });

  it.each([
    ['the sender', user, msg(), true],
    ['someone else', user, others, false],
    ["staff, someone else's (seed 004)", staff, others, true],
    ['staff, a SYSTEM message', staff, system, false],
  ])('canAttach: %s', (_what, actor, m, expected) => {
    expect(canAttach(actor, m)).toBe(expected);
  });

  it.each([
    [
      'nobody else read it',
      [
        { userId: 1, lastReadSeq: 9 },
        { userId: 2, lastReadSeq: 4 },
      ],
      false,
    ],
    ['another member read up to it', [{ userId: 2, lastReadSeq: 5 }], true],
    ['another member read past it', [{ userId: 3, lastReadSeq: 8 }], true],
    ['only the sender read it', [{ userId: 1, lastReadSeq: 5 }], false],
    ['only a member with read receipts off read it (issue 27 §5)', [{ userId: 2, lastReadSeq: 5, sendsReceipts: false }], false],
    [
      'a member with read receipts on (or no setting) read it',
      [
        { userId: 2, lastReadSeq: 5, sendsReceipts: true },
        { userId: 3, lastReadSeq: 4 },
      ],
      true,
    ],
    ['no members', [], false],
  ])('isReadByOthers: %s', (_what, readers, expected) => {
    expect(isReadByOthers({ senderId: 1, seq: 5 }, readers)).toBe(expected);
  });

  const reader = { userId: 2, lastReadSeq: 5, active: true, sendsReceipts: true, blockedWithViewer: false };
  it.each<[string, Partial<typeof reader>, boolean]>([
    ['an active member whose read position covers it', {}, true],
    ['read past it, no privacy setting stored', { lastReadSeq: 9, sendsReceipts: undefined }, true],
    ['read position before it', { lastReadSeq: 4 }, false],
    ['its sender', { userId: 1 }, false],
    ['read receipts off (privacy)', { sendsReceipts: false }, false],
    ['removed, departed or banned after reading', { active: false }, false],
    ['a block between the reader and the viewer, either way', { blockedWithViewer: true }, false],
  ])('isSeenBy (issue 32): %s', (_what, over, expected) => {
    expect(isSeenBy({ senderId: 1, seq: 5 }, { ...reader, ...over })).toBe(expected);
  });

  it('showsSeenBy: members only; listsSeenBy: up to SEEN_BY_MAX_MEMBERS active members', () => {
    expect(showsSeenBy(true)).toBe(true);
    expect(showsSeenBy(false)).toBe(false);
    expect(listsSeenBy(100, 100)).toBe(true);
    expect(listsSeenBy(101, 100)).toBe(false);
    expect(listsSeenBy(2, 0)).toBe(false);
  });

  it('isSystem, isOwn, showsContent, showsReply, isIn', () => {
    expect(isSystem(system)).toBe(true);
    expect(isSystem(msg())).toBe(false);
    expect(isOwn(user, msg())).toBe(true);
    expect(isOwn(user, others)).toBe(false);
    expect(showsContent(msg())).toBe(true);
    expect(showsContent(msg({ deletedAt: new Date().toISOString() }))).toBe(false);
    expect(showsReply(msg(), msg({ conversationId: 100 }))).toBe(true);
    expect(showsReply(msg(), msg({ conversationId: 101 }))).toBe(false);
    expect(showsReply(msg(), null)).toBe(false);
    expect(isIn(msg(), 100)).toBe(true);
    expect(isIn(msg(), 101)).toBe(false);
  });

  it.each([
    ['a MEMBER of a DIRECT chat', user, member(), DIRECT, true],
    ['a MEMBER of a GROUP', user, member(), GROUP, true],
    ['a MEMBER of a SUPPORT thread', user, member(), SUPPORT, true],
    ['a MEMBER of a ROOM', user, member(), ROOM, false],
    ['an ADMIN of a ROOM', user, admin, ROOM, true],
    ['an OWNER of a ROOM', user, owner, ROOM, true],
    ['a muted MEMBER of a GROUP (issue 13: muted changes nothing others see)', user, muted, GROUP, false],
    ['a member who left a GROUP', user, left, GROUP, false],
    ['a banned OWNER of a ROOM', user, member(MemberRole.OWNER, { isBanned: true }), ROOM, false],
    ['no membership', user, null, GROUP, false],
    ['staff without a membership, in a ROOM', staff, null, ROOM, true],
    ['staff without a membership, in a DIRECT chat', staff, null, DIRECT, true],
  ])('canPin (issue 31): %s', (_what, actor, membership, kind, expected) => {
    expect(canPin(actor, conv(kind), membership)).toBe(expected);
  });

  const sentAt = { createdAt: new Date(1_000_000).toISOString() };
  it.each([
    ['no window (default): an old message', user, null, 1_000_000 + 10 ** 9, true],
    ['within the window', user, 60, 1_000_000 + 59_000, true],
    ['at the window', user, 60, 1_000_000 + 60_000, true],
    ['past the window', user, 60, 1_000_000 + 60_001, false],
    ['staff past the window (moderation)', staff, 60, 1_000_000 + 10 ** 9, true],
  ])('withinEditWindow (issue 31): %s', (_what, actor, windowSec, now, expected) => {
    expect(withinEditWindow(actor, sentAt, windowSec, now)).toBe(expected);
  });

  it.each([
    ['anyone, a message not deleted', user, null, true],
    ['a viewer, a deleted message', user, new Date().toISOString(), false],
    ['staff, a deleted message', staff, new Date().toISOString(), true],
    ['nobody (no viewer), a deleted message', null, new Date().toISOString(), false],
  ])('showsRevisions (issue 31): %s', (_what, actor, deletedAt, expected) => {
    expect(showsRevisions(actor, { deletedAt })).toBe(expected);
  });
});

describe('user privacy policy (issue 27 §5)', () => {
  const target = (presenceVisibility?: 'EVERYONE' | 'CONTACTS' | 'NOBODY') => ({ id: 2, presenceVisibility });
  it.each([
    ['oneself, NOBODY', 2, target('NOBODY'), false, false, true],
    ['oneself, even "blocked"', 2, target('NOBODY'), false, true, true],
    ['a stranger, EVERYONE', 1, target('EVERYONE'), false, false, true],
    ['a stranger, CONTACTS', 1, target('CONTACTS'), false, false, false],
    ['a stranger, no setting yet (default CONTACTS)', 1, target(), false, false, false],
    ['a contact or co-member, CONTACTS', 1, target('CONTACTS'), true, false, true],
    ['a contact or co-member, NOBODY', 1, target('NOBODY'), true, false, false],
    ['staff get no exception, NOBODY', 9, target('NOBODY'), true, false, false],
    ['blocked either way, EVERYONE', 1, target('EVERYONE'), true, true, false],
  ])('showsPresence: %s', (_what, viewer, t, related, blocked, expected) => {
    expect(showsPresence(viewer, t, { related, blocked })).toBe(expected);
  });

  it('presenceNeedsRelation: only for someone else with CONTACTS (or no setting)', () => {
    expect(presenceNeedsRelation(1, target('CONTACTS'))).toBe(true);
    expect(presenceNeedsRelation(1, target())).toBe(true);
    expect(presenceNeedsRelation(1, target('EVERYONE'))).toBe(false);
    expect(presenceNeedsRelation(1, target('NOBODY'))).toBe(false);
    expect(presenceNeedsRelation(2, target('CONTACTS'))).toBe(false);
  });

  it.each([
    ['another member, receipts on', 1, { id: 2, sendReadReceipts: true }, true],
    ['another member, no setting (default on)', 1, { id: 2 }, true],
    ['another member, receipts off', 1, { id: 2, sendReadReceipts: false }, false],
    ["the reader's own other session, receipts off", 2, { id: 2, sendReadReceipts: false }, true],
  ])('deliversReadReceipt: %s', (_what, viewer, reader, expected) => {
    expect(deliversReadReceipt(viewer, reader)).toBe(expected);
  });

  it.each([
    ['oneself', 2, 2, true],
    ['someone else', 1, 2, false],
    ['staff, someone else', 9, 2, false],
    ['nobody signed in', null, 2, false],
  ])('showsPrivacy: %s', (_what, viewer, userId, expected) => {
    expect(showsPrivacy(viewer, userId)).toBe(expected);
  });
});
