import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor, Scope } from '../shared/actor';
import { badInput, forbidden, notFound, parseId, unauthenticated } from '../shared/errors';
import { validate, z } from '../shared/validate';
import { applyUserAttributes, profileNamesSchema, userAttributesSchema, type UserAttributesInput } from './profile';
import type { UploadedFile } from '../attachment/attachment.service';
import { uploadError } from '../attachment/image-checks';
import type { AvatarService, AvatarVariant } from './avatar.service';
import { connectionFrom, decodeCursor, encodeCursor, pageSize, type Page } from '../shared/pagination';
import { stripControlChars } from '../shared/text';
import { User, type PresenceVisibility } from './user.entity';
import type { EventPublisher } from '../shared/events';
import { usernameLookupKey } from './username';
import { userViewOf, type UserCache, type UserRecord } from './user-cache';

/** How long last-seen writes wait to share one statement, in ms. */
const SEEN_BATCH_MS = 20;

/**
 * updateProfile's input (issue 18): `{ firstName?, lastName? }`, each a string, null or absent,
 * under registration's rule for names (profile.ts). Omitted: unchanged; null or empty: cleared.
 */
export type UpdateProfileInput = z.input<typeof profileNamesSchema>;

/** updatePrivacy's input (contract PrivacySettingsInput): omitted or null fields stay as they are. */
const privacySchema = z
  .object({
    presenceVisibility: z.enum(['EVERYONE', 'CONTACTS', 'NOBODY']).nullish(),
    sendReadReceipts: z.boolean().nullish(),
  })
  .strict();
export type PrivacyInput = z.input<typeof privacySchema>;

/** A user's privacy settings (contract PrivacySettings). */
export interface PrivacySettings {
  presenceVisibility: PresenceVisibility;
  sendReadReceipts: boolean;
}

/** The privacy settings of a user row or record (the columns' defaults when absent). */
export function privacyOf(u: { presenceVisibility?: PresenceVisibility | null; sendReadReceipts?: boolean | null }): PrivacySettings {
  return { presenceVisibility: u.presenceVisibility ?? 'CONTACTS', sendReadReceipts: u.sendReadReceipts ?? true };
}

/**
 * Reads users and lets each change their own profile. Any authenticated user may look up any
 * other (a chat directory). Staff and profile changes publish `user.changed` (with the row as
 * committed, delivered to `userUpdated` subscribers).
 */
export class UserService {
  /** Last-seen times waiting for their batch (userId -> time). */
  private readonly seen = new Map<number, Date>();
  private seenWrite?: Promise<void>;
  /** Profile writes of one user in flight on this instance, chained: their events go out in commit order. */
  private readonly writing = new Map<number, Promise<unknown>>();

  /** @param avatars avatar storage and URLs (the media route reads avatar files through it). */
  constructor(
    private readonly events?: EventPublisher,
    private readonly cache?: UserCache,
    readonly avatars?: AvatarService,
  ) {}

  /** The actor's own user (from the user cache when it has them). @throws NOT_FOUND when the account no longer exists. */
  async me(scope: Scope): Promise<UserRecord> {
    const user = this.cache ? await this.cache.get(scope.em, scope.actor.id) : await scope.em.findOne(User, { id: scope.actor.id });
    if (!user) throw notFound('User');
    return user;
  }

  /**
   * One user by id or username (exactly one of them); null when there is none, also for a name
   * no account can have (control characters, wrong charset). @throws BAD_USER_INPUT.
   */
  async find(scope: Scope, by: { id?: string | null; username?: string | null }): Promise<User | null> {
    if ((by.id == null) === (by.username == null)) throw badInput('Give exactly one of id and username');
    if (by.id != null) return scope.em.findOne(User, { id: parseId(by.id, 'id') });
    const usernameKey = usernameLookupKey(by.username);
    return usernameKey === null ? null : scope.em.findOne(User, { usernameKey });
  }

  /**
   * Users whose username or name contains `search` (case-insensitive), by username.
   * @throws BAD_USER_INPUT on a bad page size or cursor.
   */
  async search(scope: Scope, args: { search?: string | null; first?: number | null; after?: string | null }): Promise<Page<User>> {
    const size = pageSize(args.first, 20, 100, 'first');
    const where: Record<string, unknown> = { deletedAt: null /* issue 18: deleted accounts are in no directory */ };
    const q = args.search == null ? '' : stripControlChars(String(args.search)).trim();
    if (q) {
      const like = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      where.$or = [{ username: { $ilike: like } }, { firstName: { $ilike: like } }, { lastName: { $ilike: like } }];
    }
    const totalCount = await scope.em.count(User, where);
    const page: Record<string, unknown> = { ...where };
    if (args.after) {
      // A forged cursor could carry anything (a NUL was a database error): only a possible username key passes.
      const key = usernameLookupKey(decodeCursor(args.after, 'user', 'after', 1)[0]);
      if (key === null) throw badInput('after is not a valid cursor', 'after');
      page.usernameKey = { $gt: key };
    }
    const rows = await scope.em.find(User, page, { orderBy: { usernameKey: 'asc' }, limit: size + 1 });
    return connectionFrom(rows, size, (u) => encodeCursor('user', u.usernameKey), totalCount, Boolean(args.after));
  }

  /** Grants or withdraws staff rights. @throws FORBIDDEN unless the actor is staff; NOT_FOUND. */
  async setStaff(scope: Scope, userId: string, isStaff: boolean): Promise<User> {
    if (!scope.actor.isStaff) throw forbidden('Only staff can change staff rights');
    const id = parseId(userId, 'userId');
    const user = await scope.em.findOne(User, { id });
    if (!user || user.deletedAt /* issue 18: a deleted account gets no rights */) throw notFound('User');
    await scope.em.transactional(async (tx) => {
      // Issue 27: both rows locked in id order as the account deletion locks staff rows (FOR NO KEY
      // UPDATE), then read again: the actor still a live staff user, the user not deleted meanwhile
      // (a tombstone never gets staff rights back).
      const rows = await tx.execute<{ id: number; is_staff: boolean; deleted_at: Date | null }[]>(
        `select "id", "is_staff", "deleted_at" from "users" where "id" in (?, ?) order by "id" for no key update`,
        [scope.actor.id, id],
      );
      const me = rows.find((r) => Number(r.id) === scope.actor.id);
      if (!me || me.deleted_at) throw unauthenticated('This account was deleted');
      if (!me.is_staff) throw forbidden('Only staff can change staff rights');
      const target = rows.find((r) => Number(r.id) === id);
      if (!target || target.deleted_at) throw notFound('User');
      await tx.execute('update "users" set "is_staff" = ?, "updated_at" = now() where "id" = ?', [Boolean(isStaff), id]);
    });
    user.isStaff = Boolean(isStaff);
    this.cache?.forget(user.id);
    this.events?.publish({ type: 'user.changed', userId: user.id, isStaff: user.isStaff, user: userViewOf(user) });
    return user;
  }

  /**
   * Sets a user's application attributes (issue 28 item 9: seed 004's `role`, `score`, `rank`,
   * `in_game_ids`, seed 001's `role`): staff only; fields absent from `input` are unchanged
   * (rules: {@link userAttributesSchema}). One transaction under the user's row lock, then one
   * `user.changed` (caches dropped, userUpdated subscribers see the row).
   * @throws FORBIDDEN unless the actor is staff (checked first); BAD_USER_INPUT naming the field
   *   (nothing is changed); NOT_FOUND (no such user, or a deleted account).
   */
  async setAttributes(scope: Scope, userId: string, input: UserAttributesInput): Promise<User> {
    if (!scope.actor.isStaff) throw forbidden('Only staff can set user attributes (role, score, rank, inGameIds)');
    const id = parseId(userId, 'userId');
    const data = validate(userAttributesSchema, input ?? {});
    return this.writeProfile(
      scope,
      (u) => {
        applyUserAttributes(u, data);
        return [];
      },
      id,
    );
  }

  /**
   * Changes the actor's own names (`firstName`, `lastName`; registration's rules, see
   * {@link profileSchema}); publishes one `user.changed`. Nothing else of a profile is self-set:
   * `role`, `score`, `rank` and `inGameIds` belong to the applications (seed 004 calls its User
   * model read-only). @throws BAD_USER_INPUT naming the field (nothing is changed); NOT_FOUND.
   */
  async updateProfile(scope: Scope, input: UpdateProfileInput): Promise<User> {
    const data = validate(profileNamesSchema, input ?? {});
    return this.writeProfile(scope, (u) => {
      if (data.firstName !== undefined) u.firstName = data.firstName || null;
      if (data.lastName !== undefined) u.lastName = data.lastName || null;
      return [];
    });
  }

  /**
   * Changes the actor's own privacy settings (issue 27 §5; contract `updatePrivacy`): each field
   * given replaces the stored one, an omitted or null one stays. Publishes one `user.changed`
   * (every instance's user cache drops the user, so presence and read receipts follow at once).
   * @throws BAD_USER_INPUT (not an object, an unknown visibility, a non-boolean), NOT_FOUND.
   */
  async updatePrivacy(scope: Scope, input: PrivacyInput): Promise<PrivacySettings> {
    const data = validate(privacySchema, input ?? {});
    const user = await this.writeProfile(scope, (u) => {
      if (data.presenceVisibility != null) u.presenceVisibility = data.presenceVisibility;
      if (data.sendReadReceipts != null) u.sendReadReceipts = data.sendReadReceipts;
      return [];
    });
    return privacyOf(user);
  }

  /**
   * Sets the actor's avatar from an uploaded image (avatar.service.ts: images only, sniffed,
   * UPLOAD_MAX_BYTES and UPLOAD_MAX_PIXELS, a 150x150 thumbnail), replacing the previous one,
   * whose files are deleted once the new one is committed; bumps `avatarVersion` (new URLs),
   * clears the legacy `avatarUrl`, publishes one `user.changed`. A refused upload changes nothing.
   * @throws BAD_USER_INPUT (`file`), PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE; NOT_FOUND.
   */
  async setAvatar(scope: Scope, file: UploadedFile | Promise<UploadedFile>): Promise<User> {
    const avatars = this.requireAvatars();
    const upload = await Promise.resolve(file).catch((err) => {
      throw uploadError(err, 'file');
    });
    const stored = await avatars.store(upload);
    try {
      return await this.writeProfile(scope, (u) => {
        const old = [u.avatarKey, u.avatarThumbnailKey];
        u.avatarKey = stored.key;
        u.avatarThumbnailKey = stored.thumbnailKey;
        u.avatarVersion = (u.avatarVersion ?? 0) + 1;
        u.avatarUrl = null;
        return old;
      });
    } catch (err) {
      await avatars.discard([stored.key, stored.thumbnailKey]);
      throw err;
    }
  }

  /**
   * Removes the actor's avatar (its files deleted after the commit) and the legacy `avatarUrl`;
   * publishes one `user.changed`. Without either there is nothing to do: no write, no event.
   * @throws NOT_FOUND.
   */
  async removeAvatar(scope: Scope): Promise<User | UserRecord> {
    const current = await this.me(scope);
    if (!current.avatarKey && !current.avatarThumbnailKey && !current.avatarUrl) return current;
    return this.writeProfile(scope, (u) => {
      const old = [u.avatarKey, u.avatarThumbnailKey];
      if (!old[0] && !old[1] && !u.avatarUrl) return [];
      u.avatarKey = null;
      u.avatarThumbnailKey = null;
      u.avatarUrl = null;
      u.avatarVersion = (u.avatarVersion ?? 0) + 1;
      return old;
    });
  }

  /**
   * What `GET /media/avatars/<userId>/<version>[/thumbnail]` serves: the storage key of a user's
   * current avatar (or thumbnail), when `version` is its current one and the request carries a
   * valid signature of it (`exp`, `sig` from User.avatarUrl) or comes from an authenticated actor
   * (any authenticated user may see any user, so any may see their avatar). From the user cache.
   * @throws NOT_FOUND for everything else (a replaced or removed avatar, a bad signature).
   */
  async avatarMedia(
    em: EntityManager,
    actor: Actor | null,
    userId: number,
    version: number,
    variant: AvatarVariant,
    signed: { exp?: unknown; sig?: unknown },
  ): Promise<{ key: string }> {
    const avatars = this.requireAvatars();
    const u = this.cache ? await this.cache.get(em, userId) : await em.findOne(User, { id: userId });
    const key = variant === 'thumbnail' ? u?.avatarThumbnailKey : u?.avatarKey;
    if (!u || !key || u.avatarVersion !== version) throw notFound('Avatar');
    if (!actor && !avatars.verifyUrl(userId, version, variant, signed.exp, signed.sig)) throw notFound('Avatar');
    return { key };
  }

  /** The avatar URLs of a user (avatar.service.ts urlsOf); both null when avatars are not configured. */
  avatarUrlsOf(u: Parameters<AvatarService['urlsOf']>[0]): { url: string | null; thumbnailUrl: string | null } {
    return this.avatars ? this.avatars.urlsOf(u) : { url: u.avatarUrl ?? null, thumbnailUrl: null };
  }

  /** The avatar service. @throws when the service was built without one (a wiring error, not input). */
  private requireAvatars(): AvatarService {
    if (!this.avatars) throw new Error('UserService was built without an AvatarService');
    return this.avatars;
  }

  /**
   * One profile write of user `id` (default: the actor): `change` edits the row, locked, in a transaction, and answers
   * the storage keys it freed (deleted after the commit). Then the user cache drops the user and
   * one `user.changed` carries the row as committed. Writes of one user on this instance run one
   * after another, so their events leave in commit order (a burst of edits ends with the last one
   * everywhere). @throws NOT_FOUND when the account is gone.
   */
  private writeProfile(scope: Scope, change: (u: User) => (string | null | undefined)[], id = scope.actor.id): Promise<User> {
    const run = (this.writing.get(id) ?? Promise.resolve())
      .catch(() => undefined)
      .then(async () => {
        let freed: (string | null | undefined)[] = [];
        const user = await scope.em.transactional(async (tx) => {
          // FOR NO KEY UPDATE, not FOR UPDATE: a profile write changes no key, so it must not wait
          // for (nor queue ahead of) the KEY SHARE locks that inserts referencing the user take (a
          // message revision's editor, a reaction's user). FOR UPDATE did, and on PostgreSQL four
          // such transactions formed a deadlock (CI's PostgreSQL+Redis run: an edit by staff and a
          // profile write). The row is read after the lock, in a statement of its own (READ COMMITTED).
          await tx.execute('select "id" from "users" where "id" = ? for no key update', [id]);
          const u = await tx.findOne(User, { id });
          if (!u || (u as { deletedAt?: Date | null }).deletedAt) throw notFound('User');
          freed = change(u);
          await tx.flush();
          return u;
        });
        this.cache?.forget(user.id);
        this.events?.publish({ type: 'user.changed', userId: user.id, isStaff: user.isStaff, user: userViewOf(user), profile: true });
        await this.avatars?.discard(freed);
        return user;
      });
    this.writing.set(id, run);
    void run
      .catch(() => undefined)
      .then(() => {
        if (this.writing.get(id) === run) this.writing.delete(id);
      });
    return run;
  }

  /**
   * Records when a user was last seen (presence going OFFLINE). Resolves once written: the
   * users that went offline within {@link SEEN_BATCH_MS} are written by one statement (after a
   * restart or a network cut, thousands go offline at once).
   */
  touchLastSeen(em: EntityManager, userId: number, at: Date): Promise<void> {
    this.seen.set(userId, at);
    return (this.seenWrite ??= new Promise<void>((r) => setTimeout(r, SEEN_BATCH_MS)).then(() => this.flushLastSeen(em)));
  }

  /** Writes the pending last-seen times now (also at shutdown, before the database closes). */
  async flushLastSeen(em: EntityManager): Promise<void> {
    this.seenWrite = undefined;
    if (!this.seen.size) return;
    const batch = [...this.seen].map(([id, at]) => ({ id, at: at.toISOString() }));
    this.seen.clear();
    await em.execute(
      `update "users" u set "last_seen_at" = v.at from jsonb_to_recordset(?::jsonb) as v(id int, at timestamptz) where u."id" = v.id and u."deleted_at" is null /* issue 18: a deleted account keeps no last-seen time */`,
      [JSON.stringify(batch)],
    );
  }
}
