/**
 * The authorization matrix (issue 7): every GraphQL operation (Query, Mutation, Subscription,
 * read from the running schema) and every REST route (from the route registry) against every
 * caller role, through the real server (HTTP, graphql-ws), compared with the expected table
 * below. An operation or route without a row fails the test, so a new one cannot be forgotten.
 * Also: a hidden object and an absent one answer identically (NOT_FOUND, same message shape), and a
 * notification of a conversation the caller lost access to shows neither it nor its message.
 *
 * Fixtures (authz-support.ts): reads, and writes whose targets are new (messages, users), share
 * one world; a write runs its roles one after another, the allowed callers last (owner last of
 * all). Writes that change who is in a conversation get new conversations; block changes run
 * last, one after another. So one cell cannot disturb another.
 */
import { buildGraphQLSchema } from '../../../src/graphql/schema';
import { restRoutes } from '../../../src/rest';
import { gql, gqlOk, registerUser, type GqlResult, type TestUser } from '../../support/client';
import { startTestServer, type TestServer } from '../../support/test-server';
import {
  ROLES,
  addAttachmentCall,
  buildUsers,
  buildWorld,
  quickUser,
  gqlOutcome,
  inBatches,
  rest,
  restOutcome,
  row,
  sendAs,
  subscriptionOutcome,
  PNG_1X1,
  type Fixture,
  type Outcome,
  type Role,
  type World,
} from './authz-support';

jest.setTimeout(180_000);

/** What one cell knows: the world, the caller (none when anonymous) and the role's targets. */
interface Cell {
  w: World;
  role: Role;
  u?: TestUser;
  /** The target conversation (the blocked role: its blocked DIRECT). */
  conv: string;
  /** A message in it (group/room/direct: the owner's; support: the customer's; blocked: the blocker's). */
  msg: string;
  /** Another user the caller acts on: the owner (the member for the owner, the blocker for the blocked). */
  other: TestUser;
  /** A new message in the target conversation (the world's one for the blocked role, who cannot get a new one). */
  freshMsg(): Promise<string>;
  /** A new user added to the target conversation by the owner (group/room), for member-management cells. */
  victim(): Promise<TestUser>;
  /** A new user, in no conversation. */
  stranger(): Promise<{ id: string }>;
  /** A pending contact request to the member from a new user, one per operation. */
  request(): Promise<string>;
}

type Op = { fix?: Fixture; call(c: Cell): Promise<Outcome> };

const g = async (c: Cell, query: string, variables: Record<string, unknown> = {}): Promise<Outcome> =>
  gqlOutcome(await gql(c.w.server.url, query, variables, c.u?.token));
const r = async (c: Cell, method: string, path: string, body?: unknown): Promise<Outcome> =>
  restOutcome((await rest(c.w.server, method, path, c.u?.token, body)).status);
const s = (c: Cell, query: string, variables: Record<string, unknown> = {}): Promise<Outcome> => subscriptionOutcome(c.w.server, c.u?.token, query, variables);
/** A fresh login (refresh token) of the caller, or of the owner for the anonymous caller. */
const refreshOf = async (c: Cell): Promise<string> => {
  const u = c.u ?? c.w.users.owner;
  const d = await gql(c.w.server.url, `mutation($u: String!) { login(username: $u, password: "correct-horse-battery") { refreshToken } }`, { u: u.username });
  return d.data.login.refreshToken;
};
/** A new push device of the world's owner: its GraphQL id (issue 28 item 10). */
const ownerDevice = async (c: Cell): Promise<string> =>
  (
    await gqlOk(
      c.w.server.url,
      `mutation($t: String!) { registerPushDevice(input: {platform: FCM, fcmToken: $t}) { id } }`,
      { t: uniq() },
      c.w.users.owner.token,
    )
  ).registerPushDevice.id;
/** A new webhook created by the world's staff user (issue 34): its id. A public address literal (no DNS) subscribed only to user.deleted, which the matrix never causes (its deleteAccount has a wrong password): the matrix makes no outbound request. */
const staffWebhook = async (c: Cell): Promise<string> =>
  (
    await gqlOk(
      c.w.server.url,
      `mutation { createWebhook(url: "https://93.184.215.14/hook", eventTypes: ["user.deleted"]) { webhook { id } } }`,
      {},
      c.w.users.staff.token,
    )
  ).createWebhook.webhook.id;
const blockTarget = async (c: Cell) => (c.role === 'blocked' ? c.other.id : (await c.stranger()).id);
const uniq = () => `n${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`;

// ------------------------------------------------------------------------------------------
// How each operation is called. Reads are called against the shared world; writes (Mutation and
// non-GET routes) each against a world of their own.
// ------------------------------------------------------------------------------------------
const GQL: Record<string, Op> = {
  // Query
  'Query.me': { call: (c) => g(c, `{ me { id } }`) },
  'Query.user': { call: (c) => g(c, `query($u: ID) { user(id: $u) { id } }`, { u: c.other.id }) },
  'Query.users': { call: (c) => g(c, `{ users(first: 5) { totalCount } }`) },
  'Query.conversations': { call: (c) => g(c, `{ conversations(first: 5) { totalCount } }`) },
  'Query.conversation': {
    fix: 'group',
    call: (c) => g(c, `query($c: ID!) { conversation(id: $c) { id members { id } page: members(first: 1, after: "1") { id } } }`, { c: c.conv }),
  },
  'Query.publicRooms': { call: (c) => g(c, `{ publicRooms(first: 5) { totalCount } }`) },
  'Query.supportConversation': { call: (c) => g(c, `{ supportConversation { id } }`) },
  'Query.searchMessages': {
    fix: 'group',
    call: (c) => g(c, `query($c: ID!) { searchMessages(query: "hello", conversationId: $c) { totalCount } }`, { c: c.conv }),
  },
  'Query.messages': { fix: 'group', call: (c) => g(c, `query($c: ID!) { messages(conversationId: $c, last: 5) { totalCount } }`, { c: c.conv }) },
  'Query.message': { fix: 'group', call: (c) => g(c, `query($m: ID!) { message(id: $m) { id } }`, { m: c.msg }) },
  'Query.messagesSince': { fix: 'group', call: (c) => g(c, `query($c: ID!) { messagesSince(conversationId: $c, afterSeq: 0) { id } }`, { c: c.conv }) },
  'Query.unreadSummary': { call: (c) => g(c, `{ unreadSummary { total byConversation(first: 5) { count } bySender(first: 5) { count } } }`) },
  'Query.contacts': { call: (c) => g(c, `{ contacts(first: 5) { id } }`) },
  'Query.notifications': { call: (c) => g(c, `{ notifications(first: 5) { totalCount } }`) },
  // Mutation
  'Mutation.register': {
    call: (c) => g(c, `mutation($u: String!) { register(input: {username: $u, password: "correct-horse-battery"}) { accessToken } }`, { u: uniq() }),
  },
  'Mutation.login': {
    call: (c) =>
      g(c, `mutation($u: String!) { login(username: $u, password: "correct-horse-battery") { accessToken } }`, { u: (c.u ?? c.w.users.owner).username }),
  },
  'Mutation.refreshToken': { call: async (c) => g(c, `mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }`, { t: await refreshOf(c) }) },
  'Mutation.logout': { call: async (c) => g(c, `mutation($t: String!) { logout(refreshToken: $t) }`, { t: await refreshOf(c) }) },
  'Mutation.openDirectChat': { call: (c) => g(c, `mutation($u: ID) { openDirectChat(userId: $u) { id } }`, { u: c.other.id }) },
  'Mutation.createGroup': { call: (c) => g(c, `mutation($u: ID!) { createGroup(input: {name: "x", memberIds: [$u]}) { id } }`, { u: c.other.id }) },
  'Mutation.createRoom': { call: (c) => g(c, `mutation { createRoom(input: {name: "x", visibility: PUBLIC}) { id } }`) },
  'Mutation.updateConversation': {
    fix: 'group',
    call: (c) => g(c, `mutation($c: ID!) { updateConversation(id: $c, input: {description: "d"}) { id } }`, { c: c.conv }),
  },
  'Mutation.joinRoom': { fix: 'room', call: (c) => g(c, `mutation($c: ID!) { joinRoom(id: $c) { id } }`, { c: c.conv }) },
  'Mutation.leaveConversation': { fix: 'group', call: (c) => g(c, `mutation($c: ID!) { leaveConversation(id: $c) }`, { c: c.conv }) },
  'Mutation.addMember': {
    fix: 'group',
    call: async (c) => g(c, `mutation($c: ID!, $u: ID!) { addMember(conversationId: $c, userId: $u) { id } }`, { c: c.conv, u: (await c.stranger()).id }),
  },
  'Mutation.removeMember': {
    fix: 'group',
    call: async (c) => g(c, `mutation($c: ID!, $u: ID!) { removeMember(conversationId: $c, userId: $u) }`, { c: c.conv, u: (await c.victim()).id }),
  },
  'Mutation.setMemberRole': {
    fix: 'group',
    call: async (c) =>
      g(c, `mutation($c: ID!, $u: ID!) { setMemberRole(conversationId: $c, userId: $u, role: ADMIN) { id } }`, { c: c.conv, u: (await c.victim()).id }),
  },
  'Mutation.muteMember': {
    fix: 'group',
    call: async (c) =>
      g(c, `mutation($c: ID!, $u: ID!) { muteMember(conversationId: $c, userId: $u, muted: true) { id } }`, { c: c.conv, u: (await c.victim()).id }),
  },
  'Mutation.banMember': {
    fix: 'group',
    call: async (c) =>
      g(c, `mutation($c: ID!, $u: ID!) { banMember(conversationId: $c, userId: $u, banned: true) { id } }`, { c: c.conv, u: (await c.victim()).id }),
  },
  'Mutation.setNickname': { fix: 'group', call: (c) => g(c, `mutation($c: ID!) { setNickname(conversationId: $c, nickname: "nick") { id } }`, { c: c.conv }) },
  'Mutation.sendMessage': {
    fix: 'group',
    call: (c) => g(c, `mutation($c: ID!) { sendMessage(input: {conversationId: $c, content: "hi"}) { id } }`, { c: c.conv }),
  },
  'Mutation.editMessage': {
    fix: 'group',
    call: async (c) => g(c, `mutation($m: ID!) { editMessage(id: $m, content: "edited") { id } }`, { m: await c.freshMsg() }),
  },
  'Mutation.deleteMessage': { fix: 'group', call: async (c) => g(c, `mutation($m: ID!) { deleteMessage(id: $m) { id } }`, { m: await c.freshMsg() }) },
  'Query.pinnedMessages': { fix: 'group', call: (c) => g(c, `query($c: ID!) { pinnedMessages(conversationId: $c) { id } }`, { c: c.conv }) },
  'Mutation.pinMessage': { fix: 'group', call: async (c) => g(c, `mutation($m: ID!) { pinMessage(id: $m, pinned: true) { id } }`, { m: await c.freshMsg() }) },
  'Mutation.forwardMessage': {
    fix: 'group',
    call: (c) => g(c, `mutation($m: ID!, $c: ID!) { forwardMessage(id: $m, toConversationId: $c) { id } }`, { m: c.msg, c: c.conv }),
  },
  // Issue 32: threads (reads of the world's message: its thread; following and reading are the caller's own state).
  'Query.threadReplies': { fix: 'group', call: (c) => g(c, `query($r: ID!) { threadReplies(rootId: $r) { totalCount } }`, { r: c.msg }) },
  'Query.threads': { fix: 'group', call: (c) => g(c, `query($c: ID) { threads(conversationId: $c, followingOnly: false) { totalCount } }`, { c: c.conv }) },
  'Mutation.followThread': { fix: 'group', call: (c) => g(c, `mutation($r: ID!) { followThread(rootId: $r, following: true) { isFollowing } }`, { r: c.msg }) },
  'Mutation.markThreadRead': { fix: 'group', call: (c) => g(c, `mutation($r: ID!) { markThreadRead(rootId: $r) { unreadReplyCount } }`, { r: c.msg }) },
  // Issue 31: reactions (idempotent, so every role may use the world's message).
  'Mutation.addReaction': { fix: 'group', call: (c) => g(c, `mutation($m: ID!) { addReaction(messageId: $m, emoji: "👍") { id } }`, { m: c.msg }) },
  'Mutation.removeReaction': { fix: 'group', call: (c) => g(c, `mutation($m: ID!) { removeReaction(messageId: $m, emoji: "👍") { id } }`, { m: c.msg }) },
  'Mutation.markRead': { fix: 'group', call: (c) => g(c, `mutation($c: ID!) { markRead(conversationId: $c) { id } }`, { c: c.conv }) },
  'Mutation.setTyping': { fix: 'group', call: (c) => g(c, `mutation($c: ID!) { setTyping(conversationId: $c, isTyping: true) }`, { c: c.conv }) },
  'Mutation.addAttachment': { fix: 'group', call: async (c) => gqlOutcome(await addAttachmentCall(c.w.server, c.u?.token, await c.freshMsg())) },
  'Mutation.requestContact': {
    call: async (c) => g(c, `mutation($u: ID!) { requestContact(userId: $u) { id } }`, { u: c.role === 'blocked' ? c.other.id : (await c.stranger()).id }),
  },
  'Mutation.acceptContact': {
    call: async (c) => g(c, `mutation($i: ID!) { acceptContact(id: $i) { id } }`, { i: c.role === 'blocked' ? c.w.blockRow : await c.request() }),
  },
  'Mutation.declineContact': {
    call: async (c) => g(c, `mutation($i: ID!) { declineContact(id: $i) { id } }`, { i: c.role === 'blocked' ? c.w.blockRow : await c.request() }),
  },
  // block/unblock: a new user as the target (the blocked caller: the blocker), so no other cell sees a block
  'Mutation.blockUser': { call: async (c) => g(c, `mutation($u: ID!) { blockUser(userId: $u) { id } }`, { u: await blockTarget(c) }) },
  'Mutation.unblockUser': { call: async (c) => g(c, `mutation($u: ID!) { unblockUser(userId: $u) }`, { u: await blockTarget(c) }) },
  'Mutation.setUserStaff': { call: (c) => g(c, `mutation($u: ID!) { setUserStaff(userId: $u, isStaff: false) { id } }`, { u: c.other.id }) },
  // Issue 28 item 9: the same value every time, so the world's users stay as they are for the other cells.
  'Mutation.setUserAttributes': {
    call: (c) => g(c, `mutation($u: ID!) { setUserAttributes(userId: $u, input: {rank: "matrix"}) { id rank } }`, { u: c.other.id }),
  },
  'Mutation.sendNotice': { call: (c) => g(c, `mutation($u: ID!) { sendNotice(userId: $u, title: "t", body: "b") { id } }`, { u: c.other.id }) },
  'Mutation.markNotificationRead': { call: (c) => g(c, `mutation($i: ID!) { markNotificationRead(id: $i) { id } }`, { i: c.w.memberNotification }) },
  'Mutation.markAllNotificationsRead': { call: (c) => g(c, `mutation { markAllNotificationsRead }`) },
  // --- issue 18 items 1-3: profile and avatar (the caller's own; every authenticated role) ---
  'Mutation.updateProfile': { call: (c) => g(c, `mutation { updateProfile(input: {firstName: "New"}) { id } }`) },
  'Mutation.setAvatar': { call: async (c) => gqlOutcome(await setAvatarCall(c.w.server, c.u?.token)) },
  'Mutation.removeAvatar': { call: (c) => g(c, `mutation { removeAvatar { id } }`) },
  'Subscription.userUpdated': { call: (c) => s(c, `subscription($u: [ID!]) { userUpdated(userIds: $u) { id } }`, { u: [c.other.id] }) },
  // --- end of issue 18 items 1-3 ---
  // Issue 27 §5: the caller's own settings, set to their defaults (no other cell sees a change).
  'Mutation.updatePrivacy': {
    call: (c) => g(c, `mutation { updatePrivacy(input: { sendReadReceipts: true, presenceVisibility: CONTACTS }) { sendReadReceipts presenceVisibility } }`),
  },
  // Issue 18 items 4-5 (password change, account deletion): about the caller only, so every signed-in role
  // gets as far as the password check. The world's users must stay as they are: changePassword with the
  // right current password and a new one breaking the rule (BAD_USER_INPUT naming newPassword, checked
  // first, counts nothing), deleteAccount with a wrong password (BAD_USER_INPUT naming password, one
  // failed attempt of the login limit's 10). The successes: tests/integration/accounts-security.test.ts.
  'Mutation.changePassword': { call: (c) => g(c, `mutation { changePassword(currentPassword: "correct-horse-battery", newPassword: "short") }`) },
  'Mutation.deleteAccount': { call: (c) => g(c, `mutation { deleteAccount(password: "not-the-password") }`) },
  // --- issue 28 items 8 and 10: archiving; push devices (the caller's own) ---
  'Mutation.archiveConversation': {
    fix: 'group',
    call: (c) => g(c, `mutation($c: ID!) { archiveConversation(id: $c, archived: true) { id isArchived } }`, { c: c.conv }),
  },
  'Query.pushDevices': { call: (c) => g(c, `{ pushDevices { id platform } }`) },
  'Query.webPushPublicKey': { call: (c) => g(c, `{ webPushPublicKey }`) },
  'Mutation.setNotificationLevel': {
    fix: 'group',
    call: (c) => g(c, `mutation($c: ID!) { setNotificationLevel(conversationId: $c, level: MENTIONS) { notificationLevel } }`, { c: c.conv }),
  },
  'Mutation.registerPushDevice': {
    call: (c) => g(c, `mutation($t: String!) { registerPushDevice(input: {platform: FCM, fcmToken: $t}) { id } }`, { t: uniq() }),
  },
  'Mutation.unregisterPushDevice': { call: async (c) => g(c, `mutation($i: ID!) { unregisterPushDevice(id: $i) }`, { i: await ownerDevice(c) }) },
  'Query.webhooks': { call: (c) => g(c, `{ webhooks { id url } }`) },
  'Mutation.createWebhook': {
    call: (c) => g(c, `mutation { createWebhook(url: "https://93.184.215.14/hook", eventTypes: ["user.deleted"]) { secret webhook { id } } }`),
  },
  'Mutation.updateWebhook': {
    call: async (c) => g(c, `mutation($i: ID!) { updateWebhook(id: $i, eventTypes: ["user.deleted"]) { id } }`, { i: await staffWebhook(c) }),
  },
  'Mutation.rotateWebhookSecret': {
    call: async (c) => g(c, `mutation($i: ID!) { rotateWebhookSecret(id: $i) { secret } }`, { i: await staffWebhook(c) }),
  },
  'Mutation.deleteWebhook': { call: async (c) => g(c, `mutation($i: ID!) { deleteWebhook(id: $i) }`, { i: await staffWebhook(c) }) },
  // --- end of issue 28 ---
  // Subscription
  'Subscription.messageAdded': { fix: 'group', call: (c) => s(c, `subscription($c: ID) { messageAdded(conversationId: $c) { id } }`, { c: c.conv }) },
  'Subscription.messageUpdated': { fix: 'group', call: (c) => s(c, `subscription($c: ID) { messageUpdated(conversationId: $c) { id } }`, { c: c.conv }) },
  'Subscription.messageEdited': { fix: 'group', call: (c) => s(c, `subscription($c: ID) { messageEdited(conversationId: $c) { id } }`, { c: c.conv }) },
  'Subscription.messageDeleted': {
    fix: 'group',
    call: (c) => s(c, `subscription($c: ID) { messageDeleted(conversationId: $c) { messageId } }`, { c: c.conv }),
  },
  'Subscription.typing': { fix: 'group', call: (c) => s(c, `subscription($c: ID!) { typing(conversationId: $c) { isTyping } }`, { c: c.conv }) },
  'Subscription.presence': { call: (c) => s(c, `subscription($u: [ID!]) { presence(userIds: $u) { status } }`, { u: [c.other.id] }) },
  'Subscription.readReceipt': { fix: 'group', call: (c) => s(c, `subscription($c: ID!) { readReceipt(conversationId: $c) { lastReadSeq } }`, { c: c.conv }) },
  'Subscription.notificationAdded': { call: (c) => s(c, `subscription { notificationAdded { id } }`) },
};

/** setAvatar (issue 18) as a GraphQL multipart request with a 1x1 PNG. */
async function setAvatarCall(server: TestServer, token: string | undefined): Promise<GqlResult> {
  const f = new FormData();
  f.append('operations', JSON.stringify({ query: 'mutation($f: Upload!) { setAvatar(file: $f) { id } }', variables: { f: null } }));
  f.append('map', JSON.stringify({ 0: ['variables.f'] }));
  f.append('0', new Blob([PNG_1X1], { type: 'image/png' }), 'dot.png');
  const res = await fetch(server.url, {
    method: 'POST',
    body: f,
    headers: { 'apollo-require-preflight': 'true', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });
  return { status: res.status, ...((await res.json()) as Omit<GqlResult, 'status'>) };
}

const uname = (c: Cell) => c.other.username;
const form = (fields: Record<string, string>, file?: string) => {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  if (file) f.append(file, new Blob([PNG_1X1], { type: 'image/png' }), 'dot.png');
  return f;
};

const REST: Record<string, Op> = {
  'GET /openapi.json': { call: (c) => r(c, 'get', '/openapi.json') },
  // tokens
  'POST /token': { call: (c) => r(c, 'post', '/token', { username: (c.u ?? c.w.users.owner).username, password: 'correct-horse-battery' }) },
  'POST /token/refresh': { call: async (c) => r(c, 'post', '/token/refresh', { refresh: await refreshOf(c) }) },
  'POST /accounts/logout': { call: async (c) => r(c, 'post', '/accounts/logout', { refresh: await refreshOf(c) }) },
  'POST /accounts/register': { call: (c) => r(c, 'post', '/accounts/register', { username: uniq(), password: 'correct-horse-battery' }) },
  // seed 000 (direct chats by username: the owner<->member DIRECT; blocked: with the blocker)
  'GET /chat/history/:username': { fix: 'direct', call: (c) => r(c, 'get', `/chat/history/${uname(c)}`) },
  'GET /chat/unread/count': { call: (c) => r(c, 'get', '/chat/unread/count') },
  'POST /chat/mark-read/:username': { fix: 'direct', call: (c) => r(c, 'post', `/chat/mark-read/${uname(c)}`) },
  'GET /chat/recent-conversations': { call: (c) => r(c, 'get', '/chat/recent-conversations') },
  'GET /accounts/connections/users': { call: (c) => r(c, 'get', '/accounts/connections/users') },
  'POST /accounts/connections/request/:user_id': {
    call: async (c) => r(c, 'post', `/accounts/connections/request/${c.role === 'blocked' ? c.other.id : (await c.stranger()).id}`),
  },
  'POST /accounts/connections/accept/:connection_id': {
    call: async (c) => r(c, 'post', `/accounts/connections/accept/${c.role === 'blocked' ? c.w.blockRow : await c.request()}`),
  },
  'POST /accounts/connections/decline/:connection_id': {
    call: async (c) => r(c, 'post', `/accounts/connections/decline/${c.role === 'blocked' ? c.w.blockRow : await c.request()}`),
  },
  'POST /accounts/connections/block/:user_id': { call: async (c) => r(c, 'post', `/accounts/connections/block/${await blockTarget(c)}`) },
  'POST /accounts/connections/unblock/:user_id': { call: async (c) => r(c, 'post', `/accounts/connections/unblock/${await blockTarget(c)}`) },
  // seed 001 (the group)
  'GET /chats': { call: (c) => r(c, 'get', '/chats') },
  'POST /chats': { call: (c) => r(c, 'post', '/chats', { name: 'x', members: [Number(c.other.id)] }) },
  'POST /chats/create_direct_chat': { call: (c) => r(c, 'post', '/chats/create_direct_chat', { user_id: Number(c.other.id) }) },
  'GET /chats/:id': { fix: 'group', call: (c) => r(c, 'get', `/chats/${c.conv}`) },
  'POST /chats/:id/add_member': { fix: 'group', call: async (c) => r(c, 'post', `/chats/${c.conv}/add_member`, { user_id: Number((await c.stranger()).id) }) },
  'POST /chats/:id/remove_member': {
    fix: 'group',
    call: async (c) => r(c, 'post', `/chats/${c.conv}/remove_member`, { user_id: Number((await c.victim()).id) }),
  },
  'POST /chats/:id/leave_group': { fix: 'group', call: (c) => r(c, 'post', `/chats/${c.conv}/leave_group`) },
  'GET /chats/:id/messages': { fix: 'group', call: (c) => r(c, 'get', `/chats/${c.conv}/messages`) },
  'POST /chats/:id/send-message': { fix: 'group', call: (c) => r(c, 'post', `/chats/${c.conv}/send-message`, form({ content: 'hi' })) },
  // seed 002 (the member's support thread)
  'GET /chat/conversations/my_conversation': { call: (c) => r(c, 'get', '/chat/conversations/my_conversation') },
  'GET /chat/conversations/:id': { fix: 'support', call: (c) => r(c, 'get', `/chat/conversations/${c.conv}`) },
  'GET /chat/conversations/:id/messages': { fix: 'support', call: (c) => r(c, 'get', `/chat/conversations/${c.conv}/messages`) },
  'POST /chat/conversations/:id/send_message': { fix: 'support', call: (c) => r(c, 'post', `/chat/conversations/${c.conv}/send_message`, { noi_dung: 'hi' }) },
  'GET /chat/conversations': { call: (c) => r(c, 'get', '/chat/conversations') },
  // seed 003 (the public room)
  'GET /chat/rooms': { call: (c) => r(c, 'get', '/chat/rooms') },
  'POST /chat/rooms': { call: (c) => r(c, 'post', '/chat/rooms', { name: 'x', room_type: 'public' }) },
  'GET /chat/rooms/:id': { fix: 'room', call: (c) => r(c, 'get', `/chat/rooms/${c.conv}`) },
  'POST /chat/rooms/:id/join': { fix: 'room', call: (c) => r(c, 'post', `/chat/rooms/${c.conv}/join`) },
  'POST /chat/rooms/:id/leave': { fix: 'room', call: (c) => r(c, 'post', `/chat/rooms/${c.conv}/leave`) },
  'GET /chat/rooms/:id/members': { fix: 'room', call: (c) => r(c, 'get', `/chat/rooms/${c.conv}/members`) },
  'GET /chat/rooms/:id/messages': { fix: 'room', call: (c) => r(c, 'get', `/chat/rooms/${c.conv}/messages`) },
  'POST /chat/rooms/:id/messages': { fix: 'room', call: (c) => r(c, 'post', `/chat/rooms/${c.conv}/messages`, { content: 'hi' }) },
  'POST /chat/messages/:id/read': { fix: 'room', call: (c) => r(c, 'post', `/chat/messages/${c.msg}/read`) },
  'DELETE /chat/messages/:id/delete': { fix: 'room', call: async (c) => r(c, 'delete', `/chat/messages/${await c.freshMsg()}/delete`) },
  'GET /chat/notifications': { call: (c) => r(c, 'get', '/chat/notifications') },
  'POST /chat/notifications/:id/read': { call: (c) => r(c, 'post', `/chat/notifications/${c.w.memberNotification}/read`) },
  // seed 004 (the group, its messages)
  'GET /conversations': { call: (c) => r(c, 'get', '/conversations') },
  'GET /conversations/:id': { fix: 'group', call: (c) => r(c, 'get', `/conversations/${c.conv}`) },
  'POST /messages': { call: (c) => r(c, 'post', '/messages', { content: 'hi', recipient_id: Number(c.other.id) }) },
  'GET /conversations/:id/messages': { fix: 'group', call: (c) => r(c, 'get', `/conversations/${c.conv}/messages`) },
  'POST /conversations/:cid/messages/:mid/attachments': {
    fix: 'group',
    call: async (c) => r(c, 'post', `/conversations/${c.conv}/messages/${await c.freshMsg()}/attachments`, form({}, 'file')),
  },
  // issue 28: seed 003 is_active and uploads, seed 002's messages viewset and fcm-django devices
  'PATCH /chat/rooms/:id': { fix: 'room', call: (c) => r(c, 'patch', `/chat/rooms/${c.conv}`, { is_active: false }) },
  'POST /chat/upload': { call: (c) => r(c, 'post', '/chat/upload', form({}, 'file')) },
  'GET /chat/messages': { call: (c) => r(c, 'get', '/chat/messages') },
  'GET /chat/messages/:id': { fix: 'group', call: (c) => r(c, 'get', `/chat/messages/${c.msg}`) },
  'GET /devices': { call: (c) => r(c, 'get', '/devices') },
  'POST /devices': { call: (c) => r(c, 'post', '/devices', { registration_id: uniq(), type: 'android' }) },
  'DELETE /devices/:registration_id': {
    call: async (c) => {
      const token = uniq();
      await gqlOk(
        c.w.server.url,
        `mutation($t: String!) { registerPushDevice(input: {platform: FCM, fcmToken: $t}) { id } }`,
        { t: token },
        c.w.users.owner.token,
      );
      return r(c, 'delete', `/devices/${token}`);
    },
  },
  // shared 001/004
  'GET /messages/:id': { fix: 'group', call: (c) => r(c, 'get', `/messages/${c.msg}`) },
  'PUT /messages/:id': { fix: 'group', call: async (c) => r(c, 'put', `/messages/${await c.freshMsg()}`, { content: 'edited' }) },
  'PATCH /messages/:id': { fix: 'group', call: async (c) => r(c, 'patch', `/messages/${await c.freshMsg()}`, { content: 'edited' }) },
  'DELETE /messages/:id': { fix: 'group', call: async (c) => r(c, 'delete', `/messages/${await c.freshMsg()}`) },
};

// ------------------------------------------------------------------------------------------
// The expected table. Columns (ROLES order):
//   anonymous nonMember member removed banned owner staff blocked
// Letters: A ALLOW, U UNAUTHENTICATED, N NOT_FOUND, F FORBIDDEN, B BAD_USER_INPUT, C CONFLICT.
// ------------------------------------------------------------------------------------------
const EXPECTED: Record<string, string> = {
  //                                    anon nonM memb remv bann ownr staf blkd
  'Query.me': 'U    A    A    A    A    A    A    A',
  'Query.user': 'U    A    A    A    A    A    A    A',
  'Query.users': 'U    A    A    A    A    A    A    A',
  'Query.conversations': 'U    A    A    A    A    A    A    A',
  'Query.conversation': 'U    N    A    N    N    A    A    A',
  'Query.publicRooms': 'U    A    A    A    A    A    A    A',
  'Query.supportConversation': 'U    A    A    A    A    A    A    A', // staff: null (no thread of their own)
  'Query.messages': 'U    N    A    N    N    A    A    A',
  'Query.searchMessages': 'U    N    A    N    N    A    A    A', // in: a conversation: as its history
  'Query.message': 'U    N    A    N    N    A    A    A',
  'Query.messagesSince': 'U    N    A    N    N    A    A    A',
  'Query.unreadSummary': 'U    A    A    A    A    A    A    A',
  'Query.contacts': 'U    A    A    A    A    A    A    A',
  'Query.notifications': 'U    A    A    A    A    A    A    A',

  'Mutation.register': 'A    A    A    A    A    A    A    A',
  'Mutation.login': 'A    A    A    A    A    A    A    A',
  'Mutation.refreshToken': 'A    A    A    A    A    A    A    A',
  'Mutation.logout': 'A    A    A    A    A    A    A    A',
  'Mutation.openDirectChat': 'U    A    A    A    A    A    A    F', // with the owner (owner: with the member; blocked: with the blocker)
  'Mutation.createGroup': 'U    A    A    A    A    A    A    F', // blocked: the blocker is no one they may add
  'Mutation.createRoom': 'U    A    A    A    A    A    A    A',
  'Mutation.updateConversation': 'U    N    F    N    N    A    A    F', // blocked: a DIRECT cannot be edited
  'Mutation.joinRoom': 'U    A    A    A    F    A    A    N', // PUBLIC room: removed may come back, banned may not; blocked: a DIRECT is no room
  'Mutation.leaveConversation': 'U    N    A    N    N    A    B    B', // staff: not a member; blocked: a DIRECT
  'Mutation.addMember': 'U    N    F    N    N    A    A    F',
  'Mutation.removeMember': 'U    N    F    N    N    A    A    F',
  'Mutation.setMemberRole': 'U    N    F    N    N    A    A    F',
  'Mutation.muteMember': 'U    N    F    N    N    A    A    N', // blocked: the target is no member of the DIRECT (looked up before the manage check)
  'Mutation.banMember': 'U    N    F    N    N    A    A    F',
  'Mutation.setNickname': 'U    N    A    N    N    A    B    A', // staff: no membership to name
  'Mutation.sendMessage': 'U    N    A    N    N    A    F    F', // staff answer SUPPORT only; blocked: refused in the DIRECT
  'Mutation.editMessage': 'U    N    F    N    N    A    A    F', // the owner's message (blocked: the blocker's)
  'Mutation.deleteMessage': 'U    N    F    N    N    A    A    F',
  'Query.pinnedMessages': 'U    N    A    N    N    A    A    A',
  'Query.threadReplies': 'U    N    A    N    N    A    A    A', // issue 32: who reads the conversation reads its threads
  'Query.threads': 'U    N    A    N    N    A    A    A',
  'Mutation.followThread': 'U    N    A    N    N    A    A    A',
  'Mutation.markThreadRead': 'U    N    A    N    N    A    A    A',
  'Mutation.pinMessage': 'U    N    A    N    N    A    A    A', // issue 31: any member of a GROUP (and of the DIRECT: a block does not stop pins), staff anywhere
  'Mutation.forwardMessage': 'U    N    A    N    N    A    F    F', // into the same conversation: the send rules (staff send in SUPPORT only; blocked: refused in the DIRECT)
  'Mutation.markRead': 'U    N    A    N    N    A    B    A', // staff: quiet membership in SUPPORT only
  'Mutation.setTyping': 'U    N    A    N    N    A    F    A', // blocked: allowed, hidden from the blocker
  'Mutation.addAttachment': 'U    N    F    N    N    A    A    F', // sender, or staff (seed 004: exempt from ownership checks)
  'Mutation.requestContact': 'U    A    A    A    A    A    A    F', // to a new user (blocked: to the blocker)
  'Mutation.acceptContact': 'U    N    A    N    N    N    N    N', // addressee only; blocked: the block row stays invisible
  'Mutation.declineContact': 'U    N    A    N    N    N    N    N',
  'Mutation.blockUser': 'U    A    A    A    A    A    A    A',
  'Mutation.unblockUser': 'U    A    A    A    A    A    A    A', // blocked -> blocker: false, the blocker's block stays
  'Mutation.setUserStaff': 'U    F    F    F    F    F    A    F',
  'Mutation.setUserAttributes': 'U    F    F    F    F    F    A    F', // issue 28 item 9: staff only
  'Mutation.sendNotice': 'U    F    F    F    F    F    A    F',
  'Mutation.markNotificationRead': 'U    N    A    N    N    N    N    N', // the member's notification
  'Mutation.markAllNotificationsRead': 'U    A    A    A    A    A    A    A',
  // --- issue 18 items 1-3 ---
  'Mutation.updateProfile': 'U    A    A    A    A    A    A    A',
  'Mutation.setAvatar': 'U    A    A    A    A    A    A    A', // a 1x1 PNG
  'Mutation.removeAvatar': 'U    A    A    A    A    A    A    A',
  'Subscription.userUpdated': 'U    A    A    A    A    A    A    A', // explicit userIds; the audience and blocks filter per event
  // --- end of issue 18 items 1-3 ---
  'Mutation.updatePrivacy': 'U    A    A    A    A    A    A    A', // issue 27 §5: the caller's own settings
  // Issue 18 items 4-5: B = reached the password check (see the callers above)
  'Mutation.changePassword': 'U    B    B    B    B    B    B    B',
  'Mutation.deleteAccount': 'U    B    B    B    B    B    B    B',

  // --- issue 28 items 8 and 10 ---
  'Mutation.archiveConversation': 'U    N    F    N    N    A    A    B', // OWNER/ADMIN or staff; blocked: a DIRECT cannot be archived
  'Query.pushDevices': 'U    A    A    A    A    A    A    A',
  'Query.webPushPublicKey': 'A    A    A    A    A    A    A    A', // public (a browser subscribes with it before signing in)
  'Mutation.setNotificationLevel': 'U    N    A    N    N    A    F    A', // one's own membership: staff may read the group but are not in it
  'Mutation.registerPushDevice': 'U    A    A    A    A    A    A    A', // a new FCM token each
  'Mutation.unregisterPushDevice': 'U    N    N    N    N    A    N    N', // the owner's device: nobody else's to remove (staff neither)
  'Query.webhooks': 'U    F    F    F    F    F    A    F', // issue 34: staff only
  'Mutation.createWebhook': 'U    F    F    F    F    F    A    F',
  'Mutation.updateWebhook': 'U    F    F    F    F    F    A    F',
  'Mutation.rotateWebhookSecret': 'U    F    F    F    F    F    A    F',
  'Mutation.deleteWebhook': 'U    F    F    F    F    F    A    F',
  // --- end of issue 28 ---

  // Issue 31: reacting needs what a send needs (staff: SUPPORT only; blocked: refused in the DIRECT);
  // removing one's own needs only to see the message (a removal of nothing changes nothing).
  'Mutation.addReaction': 'U    N    A    N    N    A    F    F',
  'Mutation.removeReaction': 'U    N    A    N    N    A    A    A',
  'Subscription.messageUpdated': 'U    N    A    N    N    A    A    A',
  'Subscription.messageAdded': 'U    N    A    N    N    A    A    A',
  'Subscription.messageEdited': 'U    N    A    N    N    A    A    A',
  'Subscription.messageDeleted': 'U    N    A    N    N    A    A    A',
  'Subscription.typing': 'U    N    A    N    N    A    A    A',
  'Subscription.presence': 'U    A    A    A    A    A    A    A', // explicit userIds; blocked pairs are filtered per event
  'Subscription.readReceipt': 'U    N    A    N    N    A    A    A',
  'Subscription.notificationAdded': 'U    A    A    A    A    A    A    A',

  'GET /openapi.json': 'A    A    A    A    A    A    A    A',
  'POST /token': 'A    A    A    A    A    A    A    A',
  'POST /token/refresh': 'A    A    A    A    A    A    A    A',
  'POST /accounts/logout': 'A    A    A    A    A    A    A    A',
  'POST /accounts/register': 'A    A    A    A    A    A    A    A',
  'GET /chat/history/:username': 'U    A    A    A    A    A    A    F', // opens the DIRECT on first use; refused across a block (rest-compat)
  'GET /chat/unread/count': 'U    A    A    A    A    A    A    A',
  'POST /chat/mark-read/:username': 'U    A    A    A    A    A    A    A',
  'GET /chat/recent-conversations': 'U    A    A    A    A    A    A    A',
  'GET /accounts/connections/users': 'U    A    A    A    A    A    A    A',
  'POST /accounts/connections/request/:user_id': 'U    A    A    A    A    A    A    F',
  'POST /accounts/connections/accept/:connection_id': 'U    N    A    N    N    N    N    N',
  'POST /accounts/connections/decline/:connection_id': 'U    N    A    N    N    N    N    N',
  'POST /accounts/connections/block/:user_id': 'U    A    A    A    A    A    A    A',
  'POST /accounts/connections/unblock/:user_id': 'U    A    A    A    A    A    A    A',
  'GET /chats': 'U    A    A    A    A    A    A    A',
  'POST /chats': 'U    A    A    A    A    A    A    F', // blocked: the blocker is no one they may add
  'POST /chats/create_direct_chat': 'U    A    A    A    A    A    A    F',
  'GET /chats/:id': 'U    N    A    N    N    A    A    A',
  'POST /chats/:id/add_member': 'U    N    F    N    N    A    A    F',
  'POST /chats/:id/remove_member': 'U    N    F    N    N    A    A    F',
  'POST /chats/:id/leave_group': 'U    N    A    N    N    A    B    B',
  'GET /chats/:id/messages': 'U    N    A    N    N    A    A    A',
  // 403 for non-members as rest-compat says ("403 non-member"), for an absent chat too (no existence leak)
  'POST /chats/:id/send-message': 'U    F    A    F    F    A    F    F',
  'GET /chat/conversations/my_conversation': 'U    A    A    A    A    A    N    A', // staff have no thread of their own
  'GET /chat/conversations/:id': 'U    N    A    N    N    N    A    A', // as its messages (issue 19: the seed's router implies it)
  'GET /chat/conversations/:id/messages': 'U    N    A    N    N    N    A    A', // the member's SUPPORT thread (owner: another customer)
  'POST /chat/conversations/:id/send_message': 'U    N    A    N    N    N    A    F',
  'GET /chat/conversations': 'U    A    A    A    A    A    A    A',
  'GET /chat/rooms': 'U    A    A    A    A    A    A    A',
  'POST /chat/rooms': 'U    A    A    A    A    A    A    A',
  'GET /chat/rooms/:id': 'U    A    A    A    A    A    A    A', // a PUBLIC room is visible to all, banned included (members list too)
  'POST /chat/rooms/:id/join': 'U    A    A    A    B    A    A    F', // rest-compat: 400 banned, 403 not public
  'POST /chat/rooms/:id/leave': 'U    N    A    N    N    A    B    B',
  'GET /chat/rooms/:id/members': 'U    N    A    N    N    A    A    A',
  'GET /chat/rooms/:id/messages': 'U    N    A    N    N    A    A    A',
  'POST /chat/rooms/:id/messages': 'U    N    A    N    N    A    F    F',
  'POST /chat/messages/:id/read': 'U    N    A    N    N    A    B    A',
  'DELETE /chat/messages/:id/delete': 'U    N    F    N    N    A    A    F',
  'GET /chat/notifications': 'U    A    A    A    A    A    A    A',
  'POST /chat/notifications/:id/read': 'U    N    A    N    N    N    N    N',
  'GET /conversations': 'U    A    A    A    A    A    A    A',
  'GET /conversations/:id': 'U    N    A    N    N    A    A    A',
  'POST /messages': 'U    A    A    A    A    A    A    F',
  'GET /conversations/:id/messages': 'U    N    A    N    N    A    A    A',
  'POST /conversations/:cid/messages/:mid/attachments': 'U    N    F    N    N    A    A    F',
  'PATCH /chat/rooms/:id': 'U    N    F    N    N    A    A    B', // is_active false: OWNER/ADMIN or staff; blocked: a DIRECT
  'POST /chat/upload': 'U    A    A    A    A    A    A    A', // a 1x1 PNG, the caller's own
  'GET /chat/messages': 'U    A    A    A    A    A    A    A', // what the caller may list
  'GET /chat/messages/:id': 'U    N    A    N    N    A    A    A', // as GET /messages/:id
  'GET /devices': 'U    A    A    A    A    A    A    A',
  'POST /devices': 'U    A    A    A    A    A    A    A', // a new registration_id each
  'DELETE /devices/:registration_id': 'U    N    N    N    N    A    N    N', // the owner's device
  'GET /messages/:id': 'U    N    A    N    N    A    A    A',
  'PUT /messages/:id': 'U    N    F    N    N    A    A    F',
  'PATCH /messages/:id': 'U    N    F    N    N    A    A    F',
  'DELETE /messages/:id': 'U    N    F    N    N    A    A    F',
};

// ------------------------------------------------------------------------------------------

let server: TestServer;
/** The world shared by reads, most writes and the hidden-vs-absent check. */
let world: World;
beforeAll(async () => {
  server = await startTestServer();
  world = await buildWorld(server);
}, 120_000);
afterAll(async () => {
  await server?.close();
});

/** The operations the running schema serves, as `Type.field`. */
function schemaOperations(): string[] {
  const schema = buildGraphQLSchema();
  return [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].flatMap((t) =>
    t ? Object.keys(t.getFields()).map((f) => `${t.name}.${f}`) : [],
  );
}
/** The REST routes the registry serves, as `METHOD path`. */
const routeKeys = () => restRoutes().map((x) => `${x.method.toUpperCase()} ${x.path}`);

/** The cell of `role` for operation `key` working on `fix`; `memo` keeps one contact request per operation. */
function cellOf(w: World, role: Role, fix: Fixture | undefined, key: string, memo: Map<string, Promise<string>>): Cell {
  const blocked = role === 'blocked';
  const target = blocked ? 'blockedDirect' : (fix ?? 'group');
  const conv = w.conv[target];
  const other = blocked ? w.users.blocker : role === 'owner' ? w.users.member : w.users.owner;
  const author = blocked ? w.users.blocker : target === 'support' ? w.users.member : w.users.owner;
  return {
    w,
    role,
    conv,
    msg: w.msg[target],
    other,
    u: role === 'anonymous' ? undefined : w.users[role],
    freshMsg: async () => (blocked ? w.msg.blockedDirect : sendAs(w, author, conv, 'target')),
    stranger: () => quickUser(w.server, 'strgr'),
    victim: async () => {
      const v = await quickUser(w.server, 'victm');
      if (!blocked && (target === 'group' || target === 'room')) {
        await gqlOk(w.server.url, `mutation($c: ID!, $u: ID!) { addMember(conversationId: $c, userId: $u) { id } }`, { c: conv, u: v.id }, w.users.owner.token);
      }
      return v as TestUser;
    },
    request: () => {
      if (!memo.has(key)) {
        memo.set(
          key,
          registerUser(w.server.url, 'reqst').then(
            async (requester) =>
              (await gqlOk(w.server.url, `mutation($u: ID!) { requestContact(userId: $u) { id } }`, { u: w.users.member.id }, requester.token)).requestContact
                .id,
          ),
        );
      }
      return memo.get(key)!;
    },
  };
}

/** Writes that change who belongs to a conversation: each gets new conversations. */
const OWN_WORLD = [
  'Mutation.leaveConversation',
  'Mutation.joinRoom',
  'POST /chats/:id/leave_group',
  'POST /chat/rooms/:id/join',
  'POST /chat/rooms/:id/leave',
  // issue 28: archiving makes the conversation read-only for every later cell
  'Mutation.archiveConversation',
  'PATCH /chat/rooms/:id',
];
/** Writes that change blocks: run last, one after another, in this order. */
const LAST = ['Mutation.unblockUser', 'POST /accounts/connections/unblock/:user_id', 'Mutation.blockUser', 'POST /accounts/connections/block/:user_id'];
const isRead = (key: string) => key.startsWith('Query.') || key.startsWith('Subscription.') || key.startsWith('GET ');
/** Writes run their roles in this order: refusals first, the allowed callers last, the owner last of all. */
const WRITE_ORDER: Role[] = ['anonymous', 'nonMember', 'removed', 'banned', 'blocked', 'member', 'staff', 'owner'];

describe('authorization matrix', () => {
  test('every GraphQL operation and REST route has a caller and a row in the expected table', () => {
    const ops = schemaOperations();
    const routes = routeKeys();
    expect({ gqlWithoutCaller: ops.filter((k) => !GQL[k]), restWithoutCaller: routes.filter((k) => !REST[k]) }).toEqual({
      gqlWithoutCaller: [],
      restWithoutCaller: [],
    });
    expect({ withoutRow: [...ops, ...routes].filter((k) => !EXPECTED[k]) }).toEqual({ withoutRow: [] });
    expect({ stale: Object.keys(EXPECTED).filter((k) => !ops.includes(k) && !routes.includes(k)) }).toEqual({ stale: [] });
  });

  test('every (operation, role) cell answers as the table says', async () => {
    const ops: [string, Op][] = [...schemaOperations().map((k) => [k, GQL[k]] as [string, Op]), ...routeKeys().map((k) => [k, REST[k]] as [string, Op])].filter(
      ([, op]) => op,
    );
    const actual: Record<string, Record<Role, Outcome>> = {};
    const put = (key: string, role: Role, o: Outcome) => {
      (actual[key] ??= {} as Record<Role, Outcome>)[role] = o;
    };

    const memo = new Map<string, Promise<string>>();
    const runWrite = async (w: World, k: string, op: Op) => {
      for (const role of WRITE_ORDER) put(k, role, await op.call(cellOf(w, role, op.fix, k, memo)).catch((e) => `THREW(${e})`));
    };
    const t0 = Date.now();
    // 1. Reads: the shared world, every cell in parallel batches.
    const reads = ops.filter(([k]) => isRead(k));
    await inBatches(
      reads.flatMap(([k, op]) =>
        ROLES.map((role) => async () => put(k, role, await op.call(cellOf(world, role, op.fix, k, memo)).catch((e) => `THREW(${e})`))),
      ),
      10,
    );
    const t1 = Date.now();
    // 2. Writes that change nothing another cell depends on (targets are new messages, new users): the same world.
    const writes = ops.filter(([k]) => !isRead(k) && !OWN_WORLD.includes(k) && !LAST.includes(k));
    await inBatches(
      writes.map(
        ([k, op]) =>
          () =>
            runWrite(world, k, op),
      ),
      10,
    );
    const t2 = Date.now();
    // 3. Writes that change who is in a conversation: new conversations (same users) each.
    await inBatches(
      ops
        .filter(([k]) => OWN_WORLD.includes(k))
        .map(
          ([k, op]) =>
            async () =>
              runWrite(await buildWorld(server, world.base), k, op),
        ),
      3,
    );
    const t3 = Date.now();
    // 4. Blocks, one operation after another, unblocking first (the blocked caller targets the blocker).
    for (const k of LAST) {
      const op = ops.find(([x]) => x === k)?.[1];
      if (op) await runWrite(world, k, op);
    }
    if (process.env.AUTHZ_DUMP) console.log(`phases ms: reads ${t1 - t0}, writes ${t2 - t1}, own worlds ${t3 - t2}, blocks ${Date.now() - t3}`);

    const lines = ops.map(
      ([k]) =>
        `  '${k}': '${ROLES.map((role) => {
          const o = actual[k][role];
          const l = Object.entries({ A: 'ALLOW', U: 'UNAUTHENTICATED', N: 'NOT_FOUND', F: 'FORBIDDEN', B: 'BAD_USER_INPUT', C: 'CONFLICT' }).find(
            ([, v]) => v === o,
          )?.[0];
          return l ?? o;
        }).join(' ')}',`,
    );
    if (process.env.AUTHZ_DUMP) console.log(`actual table:\n${lines.join('\n')}`);
    const cells = ops.length * ROLES.length;
    console.log(`authorization matrix: ${cells} (operation, role) cells checked (${ops.length} operations/routes x ${ROLES.length} roles)`);
    const differences = ops.flatMap(([k]) =>
      EXPECTED[k]
        ? ROLES.filter((role) => row(EXPECTED[k])[role] !== actual[k][role]).map(
            (role) => `${k} as ${role}: expected ${row(EXPECTED[k])[role]}, got ${actual[k][role]}`,
          )
        : [],
    );
    expect(differences).toEqual([]);
  });

  test('User.privacy: every role sees its own settings and null for every other user, staff included (issue 27 §5)', async () => {
    const everyone = Object.values(world.users);
    const got: string[] = [];
    for (const role of ROLES) {
      const u = role === 'anonymous' ? undefined : world.users[role];
      for (const target of everyone) {
        const res = await gql(
          server.url,
          `query($id: ID!) { user(id: $id) { id privacy { sendReadReceipts presenceVisibility } } }`,
          { id: target.id },
          u?.token,
        );
        const want = !u ? 'UNAUTHENTICATED' : target.id === u.id ? '{"sendReadReceipts":true,"presenceVisibility":"CONTACTS"}' : 'null';
        const was = res.errors?.length ? String(res.errors[0].extensions?.code) : JSON.stringify(res.data.user.privacy);
        if (was !== want) got.push(`${role} -> ${target.username}: expected ${want}, got ${was}`);
      }
    }
    expect(got).toEqual([]);
  });

  test('Message.seenBy and seenCount per role (issue 32): members only, never the sender, removed/banned readers or across a block', async () => {
    // Users of their own (the matrix's cells changed blocks between the world's users).
    const { users } = await buildUsers(server);
    const { owner, member, removed, banned, blocker, blocked } = users;
    const q = (u: TestUser, query: string, v: Record<string, unknown>) => gqlOk(server.url, query, v, u.token);
    // A group of its own: everyone reads the owner's message, then removed and banned lose their membership.
    const c = (
      await q(owner, `mutation($u: [ID!]!) { createGroup(input: {name: "seen", memberIds: $u}) { id } }`, {
        u: [member, removed, banned, blocker, blocked].map((u) => u.id),
      })
    ).createGroup.id;
    const m = (await q(owner, `mutation($c: ID!) { sendMessage(input: {conversationId: $c, content: "seen?"}) { id } }`, { c })).sendMessage.id;
    for (const u of [member, removed, banned, blocker, blocked]) await q(u, `mutation($c: ID!) { markRead(conversationId: $c) { id } }`, { c });
    await q(owner, `mutation($c: ID!, $u: ID!) { removeMember(conversationId: $c, userId: $u) }`, { c, u: removed.id });
    await q(owner, `mutation($c: ID!, $u: ID!) { banMember(conversationId: $c, userId: $u, banned: true) { id } }`, { c, u: banned.id });
    const names = (...us: TestUser[]) => us.map((u) => u.username).sort();
    // role -> the outcome, or the readers it sees (seenCount the same number).
    const expected: Record<Role, Outcome | string[]> = {
      anonymous: 'UNAUTHENTICATED',
      nonMember: 'NOT_FOUND',
      member: names(member, blocker, blocked),
      removed: 'NOT_FOUND',
      banned: 'NOT_FOUND',
      owner: names(member, blocker, blocked),
      staff: [], // reads the group without a membership: no one's reading is shown to them
      blocked: names(member, blocked), // not the blocker (either way)
    };
    const got: Record<string, unknown> = {};
    for (const role of ROLES) {
      const u = role === 'anonymous' ? undefined : users[role];
      const res = await gql(
        server.url,
        `query($m: ID!) { message(id: $m) { seenCount seenBy(first: 100) { totalCount edges { node { username } } } } }`,
        { m },
        u?.token,
      );
      const o = gqlOutcome(res);
      if (o !== 'ALLOW' || !res.data?.message) got[role] = o === 'ALLOW' ? 'NOT_FOUND' : o;
      else {
        const list = res.data.message.seenBy.edges.map((e: any) => e.node.username).sort();
        got[role] = res.data.message.seenCount === list.length && res.data.message.seenBy.totalCount === list.length ? list : { list, ...res.data.message };
      }
    }
    expect(got).toEqual(expected);
  });

  test('a hidden object answers exactly like an absent one (NOT_FOUND, same message shape)', async () => {
    const w = world;
    const outsider = w.users.nonMember.token;
    const absent = '987654321';
    const shape = (res: GqlResult, id: string) => ({
      data: res.data,
      errors: res.errors?.map((e) => ({ message: e.message.split(id).join('<id>'), code: e.extensions?.code, path: e.path })),
    });
    const pairs: [string, string, string][] = [
      ['conversation', `query($i: ID!) { conversation(id: $i) { id } }`, w.conv.group],
      ['message', `query($i: ID!) { message(id: $i) { id } }`, w.msg.group],
      ['messages', `query($i: ID!) { messages(conversationId: $i, first: 1) { totalCount } }`, w.conv.room],
      ['sendMessage', `mutation($i: ID!) { sendMessage(input: {conversationId: $i, content: "x"}) { id } }`, w.conv.support],
      ['editMessage', `mutation($i: ID!) { editMessage(id: $i, content: "x") { id } }`, w.msg.direct],
      ['addReaction', `mutation($i: ID!) { addReaction(messageId: $i, emoji: "👍") { id } }`, w.msg.group],
      ['joinRoom (banned)', `mutation($i: ID!) { joinRoom(id: $i) { id } }`, w.conv.group],
    ];
    for (const [name, query, hidden] of pairs) {
      const a = shape(await gql(server.url, query, { i: hidden }, outsider), hidden);
      const b = shape(await gql(server.url, query, { i: absent }, outsider), absent);
      expect({ name, hidden: a }).toEqual({ name, hidden: b });
      expect({ name, code: a.errors?.[0]?.code }).toEqual({ name, code: 'NOT_FOUND' });
    }
    // [method, path with the hidden id, body, the status both answer]
    const restPairs: [string, string, unknown, number][] = [
      ['get', `/chats/${w.conv.group}`, undefined, 404],
      ['get', `/conversations/${w.conv.group}`, undefined, 404],
      ['get', `/chat/rooms/${w.conv.group}`, undefined, 404],
      ['get', `/chat/conversations/${w.conv.support}/messages`, undefined, 404],
      ['get', `/messages/${w.msg.group}`, undefined, 404],
      ['get', `/chat/rooms/${w.conv.group}/messages`, undefined, 404],
      ['post', `/chat/rooms/${w.conv.group}/messages`, { content: 'x' }, 404],
      ['post', `/chat/conversations/${w.conv.support}/send_message`, { noi_dung: 'x' }, 404],
      ['patch', `/messages/${w.msg.direct}`, { content: 'x' }, 404],
      // seed 001 answers 403 to a non-member, and to an absent chat alike (rest-compat: "403 non-member")
      ['post', `/chats/${w.conv.group}/send-message`, { content: 'x' }, 403],
      // seed 003: "403 private" (a group is no public room), for an absent room too
      ['post', `/chat/rooms/${w.conv.group}/join`, undefined, 403],
    ];
    const norm = (x: { status: number; body: any }, id: string) => ({
      status: x.status,
      body: JSON.parse(
        JSON.stringify(x.body ?? null)
          .split(id)
          .join('<id>'),
      ),
    });
    for (const [method, path, body, status] of restPairs) {
      const hiddenId = path.match(/\d+/)![0];
      const a = norm(await rest(server, method, path, outsider, body), hiddenId);
      const b = norm(await rest(server, method, path.replace(hiddenId, absent), outsider, body), absent);
      expect({ method, path, ...a }).toEqual({ method, path, ...b });
      expect({ method, path, status: a.status }).toEqual({ method, path, status });
    }
  });

  test('a notification of a conversation the caller lost access to shows neither it nor its message (GraphQL and REST)', async () => {
    // removed and banned got a ROOM_INVITE of the group before they lost access.
    for (const who of ['removed', 'banned'] as const) {
      const u = world.users[who];
      const g1 = await gqlOk(server.url, `{ notifications(first: 20) { edges { node { kind conversation { id } message { id } } } } }`, {}, u.token);
      const invites = g1.notifications.edges.map((e: any) => e.node).filter((n: any) => n.kind === 'ROOM_INVITE');
      expect({ who, graphql: invites.length > 0 && invites.every((n: any) => n.conversation === null && n.message === null) }).toEqual({ who, graphql: true });
      // Was a hole: the seed 003 list showed the group (name, member_count, updated_at) to a removed or banned member.
      const r1 = await rest(server, 'get', '/chat/notifications', u.token);
      const roomInvites = (r1.body as any[]).filter((n) => n.notification_type === 'room_invite');
      expect({ who, rest: roomInvites.length > 0 && roomInvites.every((n) => n.room === null && n.message === null) }).toEqual({ who, rest: true });
    }
    // a member still sees theirs
    const m = await gqlOk(server.url, `{ notifications(first: 100) { edges { node { conversation { id } message { id } } } } }`, {}, world.users.member.token);
    expect(m.notifications.edges.some((e: any) => e.node.conversation !== null && e.node.message !== null)).toBe(true);
    const r2 = await rest(server, 'get', '/chat/notifications', world.users.member.token);
    expect((r2.body as any[]).some((n) => n.room !== null && n.message !== null)).toBe(true);
  });
});
