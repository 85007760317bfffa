import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { removeKeys, type BlobStorage } from '../attachment/blob-storage';
import type { Scope } from '../shared/actor';
import { forbidden, retryOnDeadlock, unauthenticated } from '../shared/errors';
import type { EventPublisher, MessageView, UserView } from '../shared/events';
import { User } from '../user/user.entity';
import { userViewOf } from '../user/user-cache';
import { unindexAccount } from '../search/search.index';
import { changeMessages, recountThreads, rowToMessageView } from '../message/message.writer';
import { eraseMessagesOf } from '../message/message.service';
import { endPlacesOfErasedUser } from '../conversation/membership.service';
import type { AuthService } from './auth.service';
import { PushOutbox } from '../push/outbox';

/** Message events published per turn of the event loop after a deletion. */
const PUBLISH_SLICE = 200;

/** The username (and lookup key) of a deleted account's tombstone: `deleted-user-<id>` (never registrable: auth.service DELETED_USERNAME). */
export const deletedUsernameOf = (userId: number): string => `deleted-user-${userId}`;

/** Attempts of the deletion's transaction when it loses a deadlock (see AccountService.inTransaction). */
const ATTEMPTS = 3;

/** What one deletion changed, for the events and file removals after commit. */
interface Erased {
  /** The tombstone as committed (for `user.changed`: open clients show the deleted user at once). */
  tombstone: UserView;
  /** Avatar files (AvatarService's keys). */
  avatarKeys: (string | null)[];
  families: string[];
  messages: MessageView[];
  /** SYSTEM notices rewritten to name the tombstone. */
  notices: MessageView[];
  /** Issue 32: thread roots whose reply count changed (published as `message.updated`). */
  threadRoots: MessageView[];
  leftConversations: number[];
  contactPairs: [number, number][];
  fileKeys: string[];
}

/**
 * Account deletion (issue 18 item 5; GDPR art. 17 "right to erasure"). `deleteAccount` erases the
 * person and keeps the conversations others need:
 *
 * - **erased**: names, email, avatar (columns and files: AvatarService's, after commit), role, rank, score, in-game ids, last-seen
 *   time, the password hash, staff rights; every refresh token; contacts and blocks both ways;
 *   the user's notifications, and others' notifications about the user's messages (their
 *   invitations name `deleted-user-<id>` instead); the content,
 *   mentions, idempotency keys, edit history (issue 31) and attachments (rows and files) of every message they sent;
 *   nicknames; their places in groups, rooms and support threads (left, as if they had left).
 * - **kept**: the `users` row as a tombstone (`deletedAt` set, username and lookup key
 *   `deleted-user-<id>`, every personal column empty), so each of their messages keeps its place
 *   (seq) in the conversation as a deleted message (`isDeleted`, content "") with that sender;
 *   their side of DIRECT chats (membership kept, muted: the other person's chat keeps its two
 *   members and its title, and no notification is ever written for the tombstone); others'
 *   messages, including ones quoting or @mentioning them (those are the other people's records);
 *   SYSTEM notices, rewritten to name `deleted-user-<id>` instead ("deleted-user-7 added bob").
 * - **reserved**: the lower-case username, in `reserved_usernames` with no link to the tombstone,
 *   forever: nobody can register it and pass for the person others talked to.
 *
 * Groups and rooms where they were the only OWNER pass to the oldest ADMIN, else the oldest member
 * (the rule of leaving: MembershipService.handOverOwnership); with nobody left they stay ownerless.
 * A support thread of theirs stays with the staff (no heir: its owner is its customer).
 */
export class AccountService {
  constructor(
    private readonly auth: AuthService,
    private readonly events: EventPublisher,
    /** Where attachments and avatars are stored (one folder, UPLOAD_DIR). */
    private readonly storage: BlobStorage,
    private readonly logger?: Logger,
    /** Issue 34: the deletion's webhook events, queued in its transaction (nothing without webhooks). */
    private readonly outbox: PushOutbox = new PushOutbox(false),
  ) {}

  /**
   * Deletes the actor's own account after checking `password` (AuthService.confirmPassword: the
   * failed-login limit of login applies). All data changes in ONE transaction that first locks,
   * in id order, the user's row and every live staff user's row: two deletions of the same user
   * run one after the other (the second finds a tombstone), and of the last two staff users
   * exactly one succeeds. After commit: `user.changed` (every instance's user cache drops the
   * user; authenticate refuses a deleted user, so access tokens die at once), `session.revoked`
   * per login (every socket of the user closes with 4403, on every instance), `membership.changed`
   * for each conversation left, `contact.changed` for each pair, `message.deleted` for each erased
   * message; then the files are removed (a failure is logged, the deletion stands). With webhooks
   * enabled, the transaction also queues their events (PushOutbox.accountErased: `message.deleted`,
   * `message.updated` of the rewritten notices, `member.removed`, `user.deleted`; issue 34).
   * @throws BAD_USER_INPUT (`password` wrong), RATE_LIMITED, FORBIDDEN (the last staff user),
   *   UNAUTHENTICATED (the account is already deleted, e.g. by a concurrent call).
   */
  async deleteAccount(scope: Scope, password: string, ip = 'unknown'): Promise<boolean> {
    await this.auth.confirmPassword(scope.em, scope.actor.id, password, 'password', ip);
    const erased = await this.inTransaction(scope.em, (tx) => this.erase(tx, scope.actor.id));
    const userId = scope.actor.id;
    this.events.publish({ type: 'user.changed', userId, isStaff: false, user: erased.tombstone });
    for (const sessionId of erased.families) this.events.publish({ type: 'session.revoked', sessionId, userId });
    for (const conversationId of erased.leftConversations) this.events.publish({ type: 'membership.changed', conversationId, userId, active: false });
    for (const userIds of erased.contactPairs) this.events.publish({ type: 'contact.changed', userIds });
    // A prolific user's messages are many events: published in slices with a turn of the event
    // loop between, so other requests and deliveries are not held while they fan out.
    const changes = [
      ...erased.messages.map((message) => ({ type: 'message.deleted' as const, conversationId: message.conversationId, message })),
      ...erased.notices.map((message) => ({ type: 'message.edited' as const, conversationId: message.conversationId, message })),
      ...erased.threadRoots.map((message) => ({ type: 'message.updated' as const, conversationId: message.conversationId, message })),
    ];
    for (let i = 0; i < changes.length; i += PUBLISH_SLICE) {
      if (i > 0) await new Promise<void>((r) => setImmediate(r));
      for (const e of changes.slice(i, i + PUBLISH_SLICE)) this.events.publish(e);
    }
    await removeKeys(this.storage, [...erased.fileKeys, ...erased.avatarKeys], (err, key) => {
      this.logger?.warn({ err, key }, 'account deletion: a stored file could not be removed');
    });
    return true;
  }

  /**
   * Runs `work` in one transaction, again (at most {@link ATTEMPTS} times in all) when PostgreSQL
   * chose it as a deadlock's victim: the deletion locks the user's row before the conversations it
   * renumbers, a send of the same user (or a write naming them) the other way round.
   */
  private async inTransaction<T>(em: EntityManager, work: (tx: EntityManager) => Promise<T>): Promise<T> {
    return retryOnDeadlock(
      () => em.transactional(work),
      ATTEMPTS,
      (attempt) => this.logger?.info({ attempt }, 'account deletion: deadlock, trying again'),
    );
  }

  /** The data changes of {@link deleteAccount}, inside its transaction `tx`. */
  private async erase(tx: EntityManager, userId: number): Promise<Erased> {
    // Locks first, always in id order (no deadlock between two deletions): the user and every live
    // staff user. NO KEY UPDATE: two deletions wait for each other, writes that merely reference
    // a staff user (their sends take KEY SHARE through the foreign keys) do not wait for it.
    const locked = await tx.execute<{ id: number; is_staff: boolean; deleted_at: Date | null }[]>(
      `select "id", "is_staff", "deleted_at" from "users" where "id" = ? or ("is_staff" and "deleted_at" is null) order by "id" for no key update`,
      [userId],
    );
    const me = locked.find((r) => Number(r.id) === userId);
    if (!me || me.deleted_at) throw unauthenticated('This account was deleted');
    if (me.is_staff && locked.filter((r) => r.is_staff && !r.deleted_at).length <= 1) {
      throw forbidden('You are the last staff user: give another user staff rights (setUserStaff) before deleting this account');
    }
    const [row] = await tx.execute<Record<string, unknown>[]>('select * from "users" where "id" = ?', [userId]);
    const now = new Date();
    // The tombstone's name: deleted-user-<id>, unless an account registered before such names were
    // refused (DELETED_USERNAME) holds it; then deleted-user-<id>-<8 hex> (also never registrable).
    const base = deletedUsernameOf(userId);
    const [{ taken }] = await tx.execute<{ taken: boolean }[]>('select exists (select 1 from "users" where "username_key" = ? and "id" <> ?) as taken', [
      base,
      userId,
    ]);
    const tombstone = taken ? `${base}-${randomBytes(4).toString('hex')}` : base;

    // Twice: a refresh in flight holds its token's row, which the first statement waits for; the
    // token it then inserts is not in that statement's snapshot, but is in the second's.
    const dropTokens = () => tx.execute<{ family_id: string }[]>('delete from "refresh_tokens" where "user_id" = ? returning "family_id"', [userId]);
    const families = [...(await dropTokens()), ...(await dropTokens())].map((r) => r.family_id);
    const contacts = await tx.execute<{ requester_id: number; addressee_id: number }[]>(
      'delete from "contacts" where "requester_id" = ? or "addressee_id" = ? returning "requester_id", "addressee_id"',
      [userId, userId],
    );
    await tx.execute('delete from "notifications" where "user_id" = ? or "message_id" in (select "id" from "messages" where "sender_id" = ?)', [
      userId,
      userId,
    ]);

    // Attachments of their messages and their uploads never sent: rows now, bytes after commit unless another row shares them (a seed-003 link to this server's media).
    const files = await tx.execute<{ storage_key: string | null; thumbnail_key: string | null }[]>(
      `delete from "attachments" where "message_id" in (select "id" from "messages" where "sender_id" = ?)
          or ("message_id" is null and "uploader_id" = ?) returning "storage_key", "thumbnail_key"`,
      [userId, userId],
    );
    const candidates = [...new Set(files.flatMap((f) => [f.storage_key, f.thumbnail_key]).filter((k): k is string => Boolean(k)))];
    const shared = candidates.length
      ? new Set(
          (
            await tx.execute<{ key: string }[]>(
              `with k as (select jsonb_array_elements_text(?::jsonb) as key)
         select a."storage_key" as "key" from "attachments" a join k on k.key = a."storage_key"
         union select a."thumbnail_key" from "attachments" a join k on k.key = a."thumbnail_key"`,
              [JSON.stringify(candidates)],
            )
          ).map((r) => r.key),
        )
      : new Set<string>();

    // Their messages become deleted ones, each with its own next change number (MessageService's bulk delete).
    const messages = await eraseMessagesOf(tx, userId, now);
    // Issue 32: the threads they replied in count their replies again.
    const threadRoots = await recountThreads(
      tx,
      messages.flatMap((m) => (m.thread_root_id != null ? [Number(m.thread_root_id)] : [])),
    );
    // Issue 31: the earlier versions of their messages go too (for staff as well).
    await tx.execute('delete from "message_revisions" where "message_id" in (select "id" from "messages" where "sender_id" = ?)', [userId]);

    // SYSTEM notices of her conversations that name her ("alice added bob", "alice left") name the
    // tombstone instead, each with its own next change number too (clients see them as edited).
    const named = `(^|[^A-Za-z0-9_.-])${String(row.username).replace(/\./g, '\\.')}(?![A-Za-z0-9_-])`;
    const notices = await changeMessages(
      tx,
      `"kind" = 'SYSTEM' and "deleted_at" is null and "content" ~ ? and "conversation_id" in (select "conversation_id" from "memberships" where "user_id" = ?)`,
      `"content" = regexp_replace(m."content", ?, ?, 'g')`,
      [named, userId, named, `\\1${tombstone}`],
    );

    // Search (issue 33): her messages leave the index; the notices just rewritten are indexed again.
    await unindexAccount(tx, userId, notices);

    // Invitations she sent ("alice added you to Book club") name the tombstone too.
    await tx.execute(
      `update "notifications" set "title" = regexp_replace("title", ?, ?, 'g') where "kind" = 'ROOM_INVITE' and "title" ~ ?
          and "conversation_id" in (select "conversation_id" from "memberships" where "user_id" = ?)`,
      [named, `\\1${tombstone}`, named, userId],
    );

    // Groups, rooms, support threads: left, an only OWNER handing over first (MembershipService's rule). DIRECT: kept, muted.
    const leftConversations = await endPlacesOfErasedUser(tx, userId, now);

    // The tombstone, and the reserved name.
    await tx.execute(
      `update "users" set "username" = ?, "username_key" = ?, "email" = null, "first_name" = null, "last_name" = null, "avatar_url" = null,
              "avatar_key" = null, "avatar_thumbnail_key" = null, "avatar_version" = "avatar_version" + 1, "role" = null, "is_staff" = false, "score" = 0, "rank" = null, "in_game_ids" = '[]'::jsonb, "last_seen_at" = null,
              "password_hash" = '!deleted', "tokens_valid_after" = null, "tokens_kept_session" = null, "deleted_at" = ?, "updated_at" = ?
        where "id" = ?`,
      [tombstone, tombstone, now, now, userId],
    );
    await tx.execute('insert into "reserved_usernames" ("username_key", "reserved_at") values (?, ?) on conflict do nothing', [String(row.username_key), now]);

    const [after] = await tx.execute<Record<string, unknown>[]>('select * from "users" where "id" = ?', [userId]);
    const erased = { messages: messages.map(rowToMessageView), notices: notices.map(rowToMessageView), leftConversations };
    // Issue 34: the webhook events of all this, in this transaction (no dual write).
    await this.outbox.accountErased(tx, { userId, at: now, ...erased });
    return {
      tombstone: { ...userViewOf(tx.map(User, after)), deletedAt: now.toISOString() },
      avatarKeys: [row.avatar_key as string | null, row.avatar_thumbnail_key as string | null],
      families: [...new Set(families)],
      ...erased,
      threadRoots,
      contactPairs: contacts.map((c) => [Number(c.requester_id), Number(c.addressee_id)] as [number, number]),
      fileKeys: candidates.filter((k) => !shared.has(k)),
    };
  }
}
