import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { hash as argonHash, verify as argonVerify, type Options as ArgonOptions } from '@node-rs/argon2';
import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import type { Actor } from '../shared/actor';
import { DomainError, conflict, isUniqueViolation, unauthenticated } from '../shared/errors';
import { validate, z } from '../shared/validate';
import { User } from '../user/user.entity';
import type { EventPublisher } from '../shared/events';
import type { RateLimiter } from '../shared/rate-limit';
import { RefreshToken } from './refresh-token.entity';

/** Token settings, from Config. */
export interface AuthOptions {
  jwtSecret: Uint8Array;
  issuer: string;
  audience: string;
  /** Seconds. */
  accessTokenTtlSec: number;
  /** Seconds. */
  refreshTokenTtlSec: number;
  /** Where `session.revoked` goes (logout, refresh-token reuse), so open sockets of that login close. */
  events?: EventPublisher;
  /** Failed logins per username+IP (issue 6). */
  limits?: RateLimiter;
}

/** A verified access token: its user, when it expires, and the login (refresh-token family) it belongs to. */
export interface Session {
  actor: Actor;
  /** Expiry of the access token. */
  expiresAt: Date;
  /** The login's refresh-token family id (`sid` claim); null for tokens issued before it existed. */
  sessionId: string | null;
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
/** argon2id, OWASP's minimum profile (19 MiB, 2 passes). */
const ARGON: ArgonOptions = { algorithm: 2 /* Algorithm.Argon2id (a const enum) */, memoryCost: 19456, timeCost: 2, parallelism: 1 };

export const registerSchema = z.object({
  username: z.string().trim().min(3).max(32).regex(/^[A-Za-z0-9_.-]+$/, 'may contain only letters, digits, ".", "_" and "-"'),
  password: z.string().min(8).max(256),
  firstName: z.string().trim().max(150).nullish(),
  lastName: z.string().trim().max(150).nullish(),
  email: z.string().trim().email().max(254).nullish(),
});
export type RegisterInput = z.input<typeof registerSchema>;

const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');

/**
 * Accounts and tokens (RFC 8725 JWT best practice): short-lived HS256 access JWTs with
 * iss/aud/exp/iat/sub and typ "at+jwt"; opaque refresh tokens stored hashed, single use,
 * rotated, with reuse of a spent one revoking its whole family (RFC 6819 §5.2.2.3).
 */
export class AuthService {
  private dummyHash: Promise<string>;

  constructor(private readonly opts: AuthOptions) {
    // Verified against for unknown usernames, so a login takes as long either way.
    this.dummyHash = argonHash(randomBytes(16).toString('hex'), ARGON);
  }

  /** Creates an account and logs it in. @throws BAD_USER_INPUT on invalid fields, CONFLICT when the username is taken. */
  async register(em: EntityManager, input: RegisterInput): Promise<AuthResult> {
    return this.issue(em, await this.createUser(em, input), randomUUID());
  }

  /**
   * Creates an account without logging it in (`npm run create-user`); `isStaff` only from trusted
   * callers, never from `register`. @throws BAD_USER_INPUT on invalid fields, CONFLICT when the username is taken.
   */
  async createUser(em: EntityManager, input: RegisterInput, isStaff = false): Promise<User> {
    const data = validate(registerSchema, input);
    const user = em.create(User, {
      username: data.username,
      usernameKey: data.username.toLowerCase(),
      passwordHash: await argonHash(data.password, ARGON),
      firstName: data.firstName || null,
      lastName: data.lastName || null,
      email: data.email || null,
      isStaff,
    });
    try {
      await em.flush();
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('That username is taken');
      throw err;
    }
    return user;
  }

  /**
   * Logs in. `ip` (the client's address) keys the failed-login limit with the username.
   * @throws UNAUTHENTICATED on an unknown username or a wrong password (one message for both),
   *   RATE_LIMITED after RATE_LOGIN_FAILURES failures for that username+IP within 15 minutes.
   */
  async login(em: EntityManager, username: string, password: string, ip = 'unknown'): Promise<AuthResult> {
    const usernameKey = String(username ?? '').trim().toLowerCase();
    const limitKey = `${usernameKey}|${ip}`;
    await this.opts.limits?.check('login', limitKey);
    const user = await em.findOne(User, { usernameKey });
    const ok = await argonVerify(user?.passwordHash ?? (await this.dummyHash), String(password ?? '')).catch(() => false);
    if (!user || !ok) {
      await this.opts.limits?.consume('login', limitKey);
      throw unauthenticated('Invalid username or password');
    }
    await this.opts.limits?.reset('login', limitKey);
    return this.issue(em, user, randomUUID());
  }

  /**
   * Spends a refresh token and issues a new pair in the same family.
   * @throws UNAUTHENTICATED when the token is unknown, expired, revoked or already spent
   * (a spent one also revokes every token of its family).
   */
  async refresh(em: EntityManager, refreshToken: string): Promise<AuthResult> {
    const tokenHash = sha256(String(refreshToken ?? ''));
    // Spend and issue in one transaction under the token's row lock: of two concurrent refreshes
    // one wins; the other waits, sees the token spent, and revokes the family including the
    // winner's fresh token (already committed by then).
    const outcome = await em.transactional(async (tx) => {
      const row = await tx.findOne(RefreshToken, { tokenHash }, { populate: ['user'], lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!row || row.revokedAt || row.expiresAt <= new Date()) return { error: 'Invalid refresh token' } as const;
      if (row.usedAt) {
        await this.revokeFamily(tx, row.familyId);
        return { error: 'Refresh token reuse detected; please log in again', revoked: { sessionId: row.familyId, userId: row.user.id } } as const;
      }
      row.usedAt = new Date();
      return { result: await this.issue(tx, row.user, row.familyId) } as const;
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
   * Verifies an access token (pinned algorithm, issuer, audience, typ, expiry) and loads its user.
   * @throws UNAUTHENTICATED on any failure, including a deleted user.
   */
  async authenticate(em: EntityManager, token: string): Promise<Actor> {
    return (await this.session(em, token)).actor;
  }

  /** Like {@link authenticate}, with the token's expiry and login (for sockets, which close at expiry and on logout). @throws UNAUTHENTICATED. */
  async session(em: EntityManager, token: string): Promise<Session> {
    const claims = await this.verifyAccessTokenClaims(token);
    const user = await em.findOne(User, { id: claims.userId }, { fields: ['id', 'username', 'isStaff'] });
    if (!user) throw unauthenticated('Invalid access token');
    return { actor: { id: user.id, username: user.username, isStaff: user.isStaff }, expiresAt: claims.expiresAt, sessionId: claims.sessionId };
  }

  /** Returns the user id (`sub`) of a valid access token. @throws UNAUTHENTICATED. */
  async verifyAccessToken(token: string): Promise<number> {
    return (await this.verifyAccessTokenClaims(token)).userId;
  }

  private async verifyAccessTokenClaims(token: string): Promise<{ userId: number; expiresAt: Date; sessionId: string | null }> {
    try {
      const { payload } = await jwtVerify(token, this.opts.jwtSecret, {
        algorithms: [ALG],
        issuer: this.opts.issuer,
        audience: this.opts.audience,
        typ: ACCESS_TYP,
        requiredClaims: ['sub', 'exp', 'iat'],
      });
      const id = Number(payload.sub);
      if (!Number.isSafeInteger(id) || id <= 0) throw unauthenticated('Invalid access token');
      return { userId: id, expiresAt: new Date(Number(payload.exp) * 1000), sessionId: typeof payload.sid === 'string' ? payload.sid : null };
    } catch (err) {
      if (err instanceof DomainError) throw err;
      if (err instanceof joseErrors.JWTExpired) throw unauthenticated('Access token expired');
      throw unauthenticated('Invalid access token');
    }
  }

  private async issue(em: EntityManager, user: User, familyId: string): Promise<AuthResult> {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + this.opts.accessTokenTtlSec;
    const accessToken = await new SignJWT({ sid: familyId })
      .setProtectedHeader({ alg: ALG, typ: ACCESS_TYP })
      .setSubject(String(user.id))
      .setIssuer(this.opts.issuer)
      .setAudience(this.opts.audience)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(this.opts.jwtSecret);
    const refreshToken = randomBytes(32).toString('base64url');
    em.create(RefreshToken, {
      user,
      familyId,
      tokenHash: sha256(refreshToken),
      expiresAt: new Date(Date.now() + this.opts.refreshTokenTtlSec * 1000),
    });
    await em.flush();
    return { accessToken, refreshToken, accessTokenExpiresAt: new Date(exp * 1000), user };
  }

  private async revokeFamily(em: EntityManager, familyId: string): Promise<void> {
    await em.nativeUpdate(RefreshToken, { familyId, revokedAt: null }, { revokedAt: new Date() });
  }
}
