import { createCipheriv, createDecipheriv, createHash, createSecretKey, randomBytes, randomUUID, webcrypto, type KeyObject } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import DataLoader from 'dataloader';
import { SignJWT, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import type { Actor } from '../shared/actor';
import { DomainError, badInput, conflict, isUniqueViolation, unauthenticated } from '../shared/errors';
import { validate, z } from '../shared/validate';
import { User } from '../user/user.entity';
import { usernameLookupKey, usernameSchema } from '../user/username';
import { applyUserAttributes, profileNamesSchema, userAttributesSchema, type UserAttributesInput } from '../user/profile';
import type { EventPublisher } from '../shared/events';
import type { RateLimiter } from '../shared/rate-limit';
import { RefreshToken } from './refresh-token.entity';
import { ReservedUsername } from './reserved-username.entity';
import type { UserCache, UserRecord } from '../user/user-cache';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, PasswordWorkCounter, hashPassword, needsRehash, verifyPassword } from './password';
import { executePrepared } from '../../db/prepared';

/** Token settings, from Config. */
export interface AuthOptions {
  /** The current HMAC key: signs every new access token (header `kid` = {@link jwtKeyId}). */
  jwtSecret: Uint8Array;
  /** Earlier keys, still accepted for the tokens they signed (JWT_PREVIOUS_SECRETS); never used to sign. */
  previousJwtSecrets?: Uint8Array[];
  issuer: string;
  audience: string;
  /** Seconds. */
  accessTokenTtlSec: number;
  /** Seconds. */
  refreshTokenTtlSec: number;
  /**
   * Seconds after a refresh during which the spent token, presented again, answers the same
   * successor pair instead of revoking the login (REFRESH_REUSE_GRACE_S; 0 or absent: off).
   */
  refreshReuseGraceSec?: number;
  /** Where `session.revoked` goes (logout, refresh-token reuse), so open sockets of that login close. */
  events?: EventPublisher;
  /** Failed logins per username+IP (issue 6). */
  limits?: RateLimiter;
  /** Users in memory: a verified token's user without a database round trip (issue 12). */
  users?: UserCache;
}

/** A verified access token: its user, when it expires, and the login (refresh-token family) it belongs to. */
export interface Session {
  actor: Actor;
  /** Expiry of the access token. */
  expiresAt: Date;
  /** The login's refresh-token family id (`sid` claim); null for tokens issued before it existed. */
  sessionId: string | null;
}

/** How a login's refresh tokens behave (see {@link AuthService.login}). */
export interface LoginOptions {
  /**
   * False: SimpleJWT's default (seed 000's `POST /api/token/`, ROTATE_REFRESH_TOKENS=False): the
   * refresh token is never spent, a refresh issues only a new access token and answers the same
   * refresh token, until it expires or the login is revoked. Default true: single use, rotated,
   * reuse detection.
   */
  rotates?: boolean;
}

/** What a successful register/login/refresh returns (contract: AuthPayload). */
export interface AuthResult {
  accessToken: string;
  refreshToken: string;
  accessTokenExpiresAt: Date;
  user: User;
}

/** The only algorithm accepted, and the JWT `typ` of access tokens (RFC 8725 §3.1, §3.11; RFC 9068). */
const ALG = 'HS256';
const ACCESS_TYP = 'at+jwt';

/**
 * Usernames of deleted accounts' tombstones: `deleted-user-<id>`, or `deleted-user-<id>-<8 hex>` where an older account holds the first (account.service.ts). Nobody
 * registers one (a live account could pass for a deleted one, or take the name a tombstone needs).
 */
export const DELETED_USERNAME = /^deleted-user-\d+(-[0-9a-f]{8})?$/i;

/** The password rule of registration, also for `changePassword`'s new password (OWASP ASVS 2.1.1: 8..256 characters). */
export const passwordSchema = z.string().min(PASSWORD_MIN_LENGTH).max(PASSWORD_MAX_LENGTH);

/** What `register` and `createUser` accept (username rule: {@link usernameSchema}; passwords: ./password.ts). */
export const registerSchema = profileNamesSchema.extend({
  username: usernameSchema.refine((u) => !DELETED_USERNAME.test(u), 'is reserved'),
  password: passwordSchema,
  email: z.string().trim().email().max(254).nullish(),
});
export type RegisterInput = z.input<typeof registerSchema>;

const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');

/** The pair a spent refresh token was exchanged for, as sealed in `refresh_tokens.successor_sealed`. */
interface Successor {
  accessToken: string;
  refreshToken: string;
  accessTokenExpiresAt: number;
}

/**
 * The key sealing a token's successor: SHA-256 over a fixed label and the raw token. The table
 * holds only SHA-256(token) (no label), from which this key cannot be derived, so a read of the
 * table does not open the successors; only a holder of the spent token does.
 */
const successorKey = (token: string) => createHash('sha256').update('chat-server refresh successor\0').update(token).digest();

/** AES-256-GCM of the successor pair under {@link successorKey}: base64url(iv 12 | tag 16 | ciphertext). */
function sealSuccessor(token: string, successor: Successor): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', successorKey(token), iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(successor), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

/** Opens {@link sealSuccessor}'s output; null when it does not open (never expected: the token hashed to this row). */
function openSuccessor(token: string, sealed: string): Successor | null {
  try {
    const raw = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', successorKey(token), raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')) as Successor;
  } catch {
    return null;
  }
}

/**
 * The `kid` of an HMAC key: 12 base64url characters (72 bits) of SHA-256 over a fixed label and
 * the key. Derived, so rotating needs no naming; one-way, so it tells nothing a signed token
 * does not already (the key is at least 32 bytes).
 */
export function jwtKeyId(key: Uint8Array): string {
  return createHash('sha256').update('chat-server jwt kid\0').update(key).digest('base64url').slice(0, 12);
}

/** What a verified access token says: its user, expiry, issue time (`iat`, ms) and login (`sid`). */
interface AccessClaims {
  userId: number;
  expiresAt: Date;
  issuedAt: number;
  sessionId: string | null;
}

/**
 * Whether a user's state still admits an access token: the account is not deleted, and the token
 * was not issued before a password change by another login (issue 18: the password change cuts
 * other sessions' access tokens too, not only their refresh tokens). Compared in ms (`iat_ms`;
 * tokens without it: `iat`, seconds).
 */
function admits(user: Pick<UserRecord, 'deletedAt' | 'tokensValidAfter' | 'tokensKeptSession'>, claims: AccessClaims): string | null {
  if (user.deletedAt) return 'Invalid access token';
  const after = user.tokensValidAfter ? new Date(user.tokensValidAfter).getTime() : 0;
  if (after && claims.issuedAt < after && claims.sessionId !== user.tokensKeptSession) return 'The password was changed; please log in again';
  return null;
}

/** Verified access tokens remembered at most (about 4 MB). */
const VERIFIED_MAX = 10_000;

/** One accepted signing key (imported once: jose would import raw bytes again on every call) and its id. */
interface SigningKey {
  kid: string;
  /**
   * The secret as a WebCrypto key, imported once: jose signs and verifies with WebCrypto, and a
   * `KeyObject` costs a conversion per call (measured: 108 to 198 µs of CPU per verification with
   * a KeyObject, 55 to 65 µs with the CryptoKey; a reconnect storm verifies every socket's token).
   */
  key: Promise<webcrypto.CryptoKey>;
}

/** An HS256 secret as a non-extractable WebCrypto HMAC key for signing and verifying. */
function importHmacKey(secret: KeyObject): Promise<webcrypto.CryptoKey> {
  return webcrypto.subtle.importKey('raw', secret.export(), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
}

/** One {@link AuthService.liveSession} lookup: the user and login of a token, read with `em`. */
interface LiveLookup {
  em: EntityManager;
  userId: number;
  sessionId: string | null;
}

/** A users row with whether the login is live, and the lookup's place in its batch. */
type LiveRow = { live: boolean; i: number } & Record<string, unknown>;

/**
 * Accounts and tokens (RFC 8725 JWT best practice): short-lived HS256 access JWTs with
 * iss/aud/exp/iat/sub and typ "at+jwt"; opaque refresh tokens stored hashed, single use,
 * rotated, with reuse of a spent one revoking its whole family (RFC 6819 §5.2.2.3) after
 * REFRESH_REUSE_GRACE_S; logins through seed 000's token path keep one refresh token (SimpleJWT).
 */
export class AuthService {
  /** The current key first, then the previous ones (JWT key rotation, RFC 7515 §4.1.4 `kid`). */
  private readonly keys: SigningKey[];
  /** Access tokens verified lately and their claims (see verifyAccessTokenClaims). */
  private readonly verified = new Map<string, AccessClaims>();

  /** Password verifications this instance completed, by argon2 parameters (metric `chat_password_verifications`). */
  readonly passwordWork = new PasswordWorkCounter();

  constructor(private readonly opts: AuthOptions) {
    const all = [opts.jwtSecret, ...(opts.previousJwtSecrets ?? [])].map((key) => ({ kid: jwtKeyId(key), key: importHmacKey(createSecretKey(key)) }));
    this.keys = all.filter((k, i) => all.findIndex((o) => o.kid === k.kid) === i);
  }

  /**
   * Creates an account and logs it in. `ip` (the client's address) counts toward
   * RATE_REGISTRATIONS_PER_HOUR_IP new accounts an hour (issue 13: no address makes accounts
   * without end); every attempt counts, so a flood of bad ones is refused too.
   * @throws BAD_USER_INPUT on invalid fields, CONFLICT when the username is taken, RATE_LIMITED.
   */
  async register(em: EntityManager, input: RegisterInput, ip = 'unknown'): Promise<AuthResult> {
    await this.opts.limits?.consume('register', ip);
    return this.startSession(em, await this.createUser(em, input));
  }

  /**
   * Creates an account without logging it in (`npm run create-user`); `isStaff` only from trusted
   * callers, never from `register`; likewise `attributes` (role, score, rank, inGameIds: the rules of
   * setUserAttributes, `userAttributesSchema`). @throws BAD_USER_INPUT on invalid fields, CONFLICT when the username is taken.
   */
  async createUser(em: EntityManager, input: RegisterInput, isStaff = false, attributes: UserAttributesInput = {}): Promise<User> {
    const data = validate(registerSchema, input);
    const attrs = validate(userAttributesSchema, attributes);
    const passwordHash = await hashPassword(data.password);
    const usernameKey = data.username.toLowerCase();
    try {
      // The insert first, then the reservation check, in one transaction: a deletion committing
      // meanwhile holds the old key's index entry until its commit (the insert waits for it), and
      // by then its reservation is visible to the check (READ COMMITTED reads a new snapshot).
      return await em.transactional(async (tx) => {
        const user = tx.create(User, {
          username: data.username,
          usernameKey,
          passwordHash,
          firstName: data.firstName || null,
          lastName: data.lastName || null,
          email: data.email || null,
          isStaff,
        });
        applyUserAttributes(user, attrs);
        await tx.flush();
        if (await tx.count(ReservedUsername, { usernameKey })) throw conflict('That username is taken');
        return user;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('That username is taken');
      throw err;
    }
  }

  /**
   * Logs in. `ip` (the client's address) keys the failed-login limit with the username.
   * An unknown username (or one no account can have) is verified against a dummy hash with the
   * same argon2id parameters (verifyPassword(null, ...)), so both failures cost the same and say
   * the same. A hash weaker than today's parameters is replaced by a fresh one on success.
   * The attempt is counted before the password is checked, atomically (issue 13: a burst of
   * concurrent guesses read a limit that was counted only after each failure), so at most
   * RATE_LOGIN_FAILURES guesses are ever checked per username+IP in 15 minutes; a success gives
   * the count back (it starts over).
   * `options.rotates` false makes a login whose refresh token is never spent (seed 000's token
   * path, {@link LoginOptions}).
   * @throws UNAUTHENTICATED on an unknown username or a wrong password (one message for both),
   *   RATE_LIMITED after RATE_LOGIN_FAILURES failures for that username+IP within 15 minutes.
   */
  async login(em: EntityManager, username: string, password: string, ip = 'unknown', options: LoginOptions = {}): Promise<AuthResult> {
    const usernameKey = usernameLookupKey(username);
    const limitKey = `${
      usernameKey ??
      String(username ?? '')
        .trim()
        .toLowerCase()
        .slice(0, 64)
    }|${ip}`;
    await this.opts.limits?.consume('login', limitKey);
    const found = usernameKey === null ? null : await em.findOne(User, { usernameKey });
    // A deleted account's tombstone has no password: the dummy hash's work, the same answer.
    const user = found?.deletedAt ? null : found;
    const candidate = String(password ?? '');
    const ok = await verifyPassword(user?.passwordHash ?? null, candidate, this.passwordWork);
    if (!user || !ok) throw unauthenticated('Invalid username or password');
    await this.opts.limits?.reset('login', limitKey);
    if (needsRehash(user.passwordHash)) user.passwordHash = await hashPassword(candidate);
    return this.issue(em, user, randomUUID(), options.rotates ?? true);
  }

  /**
   * Spends a refresh token and issues a new pair in the same family.
   * - A token of a non-rotating login ({@link LoginOptions}) is not spent: a new access token and
   *   the same refresh token.
   * - A spent token presented again within REFRESH_REUSE_GRACE_S of its use answers the same
   *   successor pair it was exchanged for (two tabs refreshing at once; Auth0's reuse interval),
   *   unless the login was revoked meanwhile. Later, it is reuse: the family is revoked.
   * @throws UNAUTHENTICATED when the token is unknown, expired, revoked or already spent
   * (outside the grace period a spent one also revokes every token of its family).
   */
  async refresh(em: EntityManager, refreshToken: string): Promise<AuthResult> {
    const presented = String(refreshToken ?? '');
    const tokenHash = sha256(presented);
    // Spend and issue in one transaction under the token's row lock: of two concurrent refreshes
    // one wins; the other waits, sees the token spent (and, within the grace period, its sealed
    // successor, already committed by then).
    const outcome = await em.transactional(async (tx) => {
      // The token's row alone is locked, in a statement of its own: a FOR UPDATE on the query that
      // joins the user locked the user's row too, which blocks every insert referencing the user
      // (their KEY SHARE) and took part in a deadlock on PostgreSQL. The row is read after the lock.
      await tx.execute('select "id" from "refresh_tokens" where "token_hash" = ? for update', [tokenHash]);
      const row = await tx.findOne(RefreshToken, { tokenHash }, { populate: ['user'] });
      if (!row || row.revokedAt || row.expiresAt <= new Date()) return { error: 'Invalid refresh token' } as const;
      const user = row.user as User;
      if (!row.rotates) {
        const access = await this.signAccess(user, row.familyId);
        return { result: { ...access, refreshToken: presented, user } } as const;
      }
      if (row.usedAt) {
        const graceMs = (this.opts.refreshReuseGraceSec ?? 0) * 1000;
        const successor =
          graceMs > 0 && Date.now() - row.usedAt.getTime() <= graceMs && row.successorSealed ? openSuccessor(presented, row.successorSealed) : null;
        if (successor) {
          return {
            result: {
              accessToken: successor.accessToken,
              refreshToken: successor.refreshToken,
              accessTokenExpiresAt: new Date(successor.accessTokenExpiresAt),
              user,
            },
          } as const;
        }
        await this.revokeFamily(tx, row.familyId);
        return { error: 'Refresh token reuse detected; please log in again', revoked: { sessionId: row.familyId, userId: user.id } } as const;
      }
      row.usedAt = new Date();
      const result = await this.issue(tx, user, row.familyId);
      if (this.opts.refreshReuseGraceSec) {
        row.successorSealed = sealSuccessor(presented, {
          accessToken: result.accessToken,
          refreshToken: result.refreshToken,
          accessTokenExpiresAt: result.accessTokenExpiresAt.getTime(),
        });
        await tx.flush();
      }
      return { result } as const;
    });
    if ('error' in outcome) {
      if ('revoked' in outcome && outcome.revoked) this.opts.events?.publish({ type: 'session.revoked', ...outcome.revoked });
      throw unauthenticated(outcome.error);
    }
    return outcome.result;
  }

  /** Revokes the refresh token's whole family. Unknown tokens are ignored (logout is idempotent). */
  async logout(em: EntityManager, refreshToken: string): Promise<boolean> {
    const row = await em.findOne(RefreshToken, { tokenHash: sha256(String(refreshToken ?? '')) });
    if (row) {
      await this.revokeFamily(em, row.familyId);
      this.opts.events?.publish({ type: 'session.revoked', sessionId: row.familyId, userId: (row.user as User).id });
    }
    return true;
  }

  /**
   * Verifies an access token (pinned algorithm HS256, a key chosen by `kid`, issuer, audience,
   * typ at+jwt, exp, nbf when present) and loads its user.
   * @throws UNAUTHENTICATED on any failure, including a deleted user.
   */
  async authenticate(em: EntityManager, token: string): Promise<Actor> {
    return (await this.session(em, token)).actor;
  }

  /**
   * Like {@link authenticate}, with the token's expiry and login. The user comes from the user
   * cache when there is one (memory in the steady state, current rights: see UserCache).
   * @throws UNAUTHENTICATED.
   */
  async session(em: EntityManager, token: string): Promise<Session> {
    const claims = await this.verifyAccessTokenClaims(token);
    const user = this.opts.users
      ? await this.opts.users.get(em, claims.userId)
      : await em.findOne(User, { id: claims.userId }, { fields: ['id', 'username', 'isStaff', 'deletedAt', 'tokensValidAfter', 'tokensKeptSession'] });
    if (!user) throw unauthenticated('Invalid access token');
    const refusal = admits(user, claims);
    if (refusal) throw unauthenticated(refusal);
    return {
      actor: { id: user.id, username: user.username, isStaff: user.isStaff, sessionId: claims.sessionId },
      expiresAt: claims.expiresAt,
      sessionId: claims.sessionId,
    };
  }

  /**
   * Starts a new login (a new refresh-token family) for a user whose identity is already
   * established (register, login; the benchmark's fixture users). Returns the token pair.
   */
  async startSession(em: EntityManager, user: User): Promise<AuthResult> {
    return this.issue(em, user, randomUUID());
  }

  /**
   * The logins among `sessionIds` that are still live: their refresh-token family has a token
   * that is not revoked (logout and reuse revoke the whole family).
   */
  async liveSessions(em: EntityManager, sessionIds: readonly string[]): Promise<Set<string>> {
    if (!sessionIds.length) return new Set();
    const rows = await em.execute<{ family_id: string }[]>(
      `select distinct "family_id" from "refresh_tokens" where "family_id" in (${sessionIds.map(() => '?').join(', ')}) and "revoked_at" is null`,
      [...sessionIds],
    );
    return new Set(rows.map((r) => r.family_id));
  }

  /**
   * Like {@link session}, for opening a socket: the login must also still be live (not logged
   * out, no refresh-token reuse), checked in the same statement as the user lookup.
   * @throws UNAUTHENTICATED.
   */
  async liveSession(em: EntityManager, token: string): Promise<Session> {
    const claims = await this.verifyAccessTokenClaims(token, false);
    const mark = this.opts.users?.mark() ?? 0;
    const row = await this.liveRows.load({ em, userId: claims.userId, sessionId: claims.sessionId ?? null });
    if (!row) throw unauthenticated('Invalid access token');
    if (!row.live) throw unauthenticated('This login was logged out');
    const { live: _live, i: _i, ...columns } = row;
    const user = em.map(User, columns);
    const refusal = admits(user, claims);
    if (refusal) throw unauthenticated(refusal);
    // The row is read anyway: the socket's later HTTP requests (a catch-up) find the user in memory.
    this.opts.users?.store(user, mark);
    return {
      actor: { id: user.id, username: user.username, isStaff: Boolean(user.isStaff), sessionId: claims.sessionId },
      expiresAt: claims.expiresAt,
      sessionId: claims.sessionId,
    };
  }

  /**
   * The user rows and login liveness that {@link liveSession} asks for, gathered over one turn of
   * the event loop (at most 500) into one statement: a reconnect storm of 2000 sockets asks a
   * few dozen statements instead of 2000. Each row: the user's columns, `live`, and `i` (its place).
   */
  private readonly liveRows = new DataLoader<LiveLookup, LiveRow | null, string>(
    async (keys) => {
      // Bound parameter, a prepared statement (issue 35): one text, parsed once per connection.
      const rows = await executePrepared<LiveRow[]>(
        keys[0].em,
        `select v."i", u.*, (v."sid" is null or exists (select 1 from "refresh_tokens" r where r."family_id" = v."sid" and r."revoked_at" is null)) as live
           from json_to_recordset(?::json) as v("i" int, "uid" int, "sid" varchar) join "users" u on u."id" = v."uid"`,
        [JSON.stringify(keys.map((k, i) => ({ i, uid: k.userId, sid: k.sessionId })))],
      );
      const byPlace = new Map(rows.map((r) => [Number(r.i), r]));
      return keys.map((_, i) => byPlace.get(i) ?? null);
    },
    { cache: false, maxBatchSize: 500, batchScheduleFn: (run) => setImmediate(run) },
  );

  /** Returns the user id (`sub`) of a valid access token. @throws UNAUTHENTICATED. */
  async verifyAccessToken(token: string): Promise<number> {
    return (await this.verifyAccessTokenClaims(token)).userId;
  }

  /**
   * The claims of a valid access token. jose's checks run once per token: a token that passed
   * them is remembered (at most {@link VERIFIED_MAX}, oldest out) until it expires, since nothing
   * but its expiry can change its validity (a logout revokes the refresh tokens, not access tokens
   * over HTTP; sockets check the login separately). A repeated request skips the HMAC. A socket
   * verifies its token once (`remember` false: thousands of idle sockets keep no copy of it here).
   */
  private async verifyAccessTokenClaims(token: string, remember = true): Promise<AccessClaims> {
    const hit = this.verified.get(token);
    if (hit) {
      if (hit.expiresAt.getTime() > Date.now()) return hit;
      this.verified.delete(token);
      throw unauthenticated('Access token expired');
    }
    try {
      const payload = await this.verifySignedClaims(String(token ?? ''));
      const id = /^[1-9]\d{0,15}$/.test(String(payload.sub)) ? Number(payload.sub) : NaN;
      if (!Number.isSafeInteger(id)) throw unauthenticated('Invalid access token');
      const claims = {
        userId: id,
        expiresAt: new Date(Number(payload.exp) * 1000),
        issuedAt: typeof payload.iat_ms === 'number' ? payload.iat_ms : Number(payload.iat) * 1000,
        sessionId: typeof payload.sid === 'string' ? payload.sid : null,
      };
      if (remember) this.verified.set(token, claims);
      if (this.verified.size > VERIFIED_MAX) this.verified.delete(this.verified.keys().next().value!);
      return claims;
    } catch (err) {
      if (err instanceof DomainError) throw err;
      if (err instanceof joseErrors.JWTExpired) throw unauthenticated('Access token expired');
      throw unauthenticated('Invalid access token');
    }
  }

  /**
   * jose's checks with the key the token names: its `kid` must be one of ours (current or
   * previous); a token without `kid` (issued before kids existed) is checked with the current key
   * only. jose rejects any alg but HS256 (`none`, RS256, HS512, ...) before a key is chosen, then
   * checks the signature, typ, iss, aud, exp, nbf, and the presence of sub/exp/iat.
   */
  private async verifySignedClaims(token: string): Promise<JWTPayload> {
    const { payload } = await jwtVerify(
      token,
      (header) => {
        const found = header.kid === undefined ? this.keys[0] : this.keys.find((k) => k.kid === header.kid);
        if (!found) throw unauthenticated('Invalid access token');
        return found.key;
      },
      {
        algorithms: [ALG],
        issuer: this.opts.issuer,
        audience: this.opts.audience,
        typ: ACCESS_TYP,
        requiredClaims: ['sub', 'exp', 'iat'],
      },
    );
    return payload;
  }

  /** A new access token of `user` in login `familyId` (claims: see verifySignedClaims), and its expiry. */
  private async signAccess(user: User, familyId: string): Promise<{ accessToken: string; accessTokenExpiresAt: Date }> {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + this.opts.accessTokenTtlSec;
    // `iat_ms`: the issue time in ms (private claim), so a password change cuts exactly the tokens issued before it.
    const accessToken = await new SignJWT({ sid: familyId, iat_ms: Date.now() })
      .setProtectedHeader({ alg: ALG, typ: ACCESS_TYP, kid: this.keys[0].kid })
      .setSubject(String(user.id))
      .setIssuer(this.opts.issuer)
      .setAudience(this.opts.audience)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(await this.keys[0].key);
    return { accessToken, accessTokenExpiresAt: new Date(exp * 1000) };
  }

  /** A new access token and a new stored refresh token in login `familyId` (`rotates`: see {@link LoginOptions}). */
  private async issue(em: EntityManager, user: User, familyId: string, rotates = true): Promise<AuthResult> {
    const access = await this.signAccess(user, familyId);
    const refreshToken = randomBytes(32).toString('base64url');
    em.create(RefreshToken, {
      user,
      familyId,
      tokenHash: sha256(refreshToken),
      expiresAt: new Date(Date.now() + this.opts.refreshTokenTtlSec * 1000),
      rotates,
    });
    await em.flush();
    return { ...access, refreshToken, user };
  }

  private async revokeFamily(em: EntityManager, familyId: string): Promise<void> {
    await em.nativeUpdate(RefreshToken, { familyId, revokedAt: null }, { revokedAt: new Date() });
  }

  /**
   * Checks the password of the signed-in user `userId` for a sensitive operation (changePassword,
   * deleteAccount), under the failed-login limit of login: the attempt is counted first, on the
   * same key as `login(username)` from the same address (`<username key>|<ip>`), so guessing here
   * is exactly as limited as guessing there, and both share one count; a success gives it back.
   * Returns the user (a managed entity of `em`).
   * @throws BAD_USER_INPUT naming `field` on a wrong password (the caller is authenticated, so not
   *   UNAUTHENTICATED: a client must not take it for an expired token), UNAUTHENTICATED when the
   *   account no longer exists, RATE_LIMITED after RATE_LOGIN_FAILURES failures in 15 minutes.
   */
  async confirmPassword(em: EntityManager, userId: number, password: string, field: string, ip = 'unknown'): Promise<User> {
    const user = await em.findOne(User, { id: userId });
    if (!user || user.deletedAt) throw unauthenticated('Invalid access token');
    const limitKey = `${user.usernameKey}|${ip}`;
    await this.opts.limits?.consume('login', limitKey);
    if (!(await verifyPassword(user.passwordHash, String(password ?? ''), this.passwordWork))) throw badInput('The password is incorrect', field);
    await this.opts.limits?.reset('login', limitKey);
    return user;
  }

  /**
   * Changes the signed-in user's password (issue 18 item 4). `newPassword` follows the rule of
   * registration ({@link passwordSchema}); `currentPassword` is checked by {@link confirmPassword}
   * (the failed-login limit applies). On success, in one transaction: the new argon2id hash, every
   * OTHER refresh-token family of the user revoked (the caller's login, `sessionId`, stays), and
   * `tokensValidAfter` = now so the other logins' access tokens are refused over HTTP too (the
   * caller's keep working). After commit: `session.revoked` per revoked login (their sockets close
   * with 4403 on every instance) and `user.changed` (every instance's user cache drops the user).
   * @throws BAD_USER_INPUT (`newPassword` breaks the rule; `currentPassword` wrong), RATE_LIMITED, UNAUTHENTICATED.
   */
  async changePassword(
    em: EntityManager,
    actor: Actor,
    sessionId: string | null,
    currentPassword: string,
    newPassword: string,
    ip = 'unknown',
  ): Promise<boolean> {
    const next = validate(z.object({ newPassword: passwordSchema }), { newPassword }).newPassword;
    const user = await this.confirmPassword(em, actor.id, currentPassword, 'currentPassword', ip);
    const passwordHash = await hashPassword(next);
    const revoked = await em.transactional(async (tx) => {
      const now = new Date();
      const revoke = () =>
        tx.execute<{ family_id: string }[]>(
          `update "refresh_tokens" set "revoked_at" = ? where "user_id" = ? and "revoked_at" is null and (?::varchar is null or "family_id" <> ?) returning "family_id"`,
          [now, user.id, sessionId, sessionId],
        );
      // Twice: a refresh in flight holds its token's row, which the first statement waits for;
      // the token it then inserts is not in that statement's snapshot, but is in the second's.
      const families = [...(await revoke()), ...(await revoke())];
      // Read after the waits: an access token that refresh issued meanwhile is older than this.
      await tx.nativeUpdate(User, { id: user.id, deletedAt: null }, { passwordHash, tokensValidAfter: new Date(), tokensKeptSession: sessionId });
      return [...new Set(families.map((r) => r.family_id))];
    });
    // `profile`: this event only empties caches; its isStaff was read before the hash and must not set rights.
    this.opts.events?.publish({ type: 'user.changed', userId: user.id, isStaff: user.isStaff, profile: true });
    for (const family of revoked) this.opts.events?.publish({ type: 'session.revoked', sessionId: family, userId: user.id });
    return true;
  }
}
