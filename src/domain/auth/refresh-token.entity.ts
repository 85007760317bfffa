import { OptionalProps, Entity, Index, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { User } from '../user/user.entity';

/**
 * One refresh token, stored as its SHA-256 hash. Tokens of one login share a family:
 * each refresh uses one up and issues the next; reusing a used one revokes the family (RFC 6819 §5.2.2.3),
 * except within REFRESH_REUSE_GRACE_S of its use (the same successor is answered: {@link successorSealed}).
 * A login made through seed 000's `POST /api/token/` does not rotate ({@link rotates} false:
 * SimpleJWT's default, the token stays valid until it expires or the login is revoked).
 */
@Entity({ tableName: 'refresh_tokens' })
export class RefreshToken {
  [OptionalProps]?: 'createdAt' | 'rotates';

  @PrimaryKey({ type: 'integer', autoincrement: true })
  id!: number;

  @ManyToOne(() => User, { deleteRule: 'cascade' })
  user!: User;

  @Index()
  @Property({ type: 'string', length: 36 })
  familyId!: string;

  /** base64url SHA-256 of the token. */
  @Unique()
  @Property({ type: 'string', length: 64 })
  tokenHash!: string;

  @Property({ type: 'datetime' })
  expiresAt!: Date;

  @Property({ type: 'datetime', nullable: true })
  usedAt?: Date | null;

  @Property({ type: 'datetime', nullable: true })
  revokedAt?: Date | null;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();

  /**
   * False for a login made through the legacy token path (seed 000, SimpleJWT's default
   * ROTATE_REFRESH_TOKENS=False): a refresh leaves the token valid and issues only an access token.
   */
  @Property({ type: 'boolean', default: true })
  rotates: boolean = true;

  /**
   * The pair this token was spent for, AES-256-GCM-sealed under a key derived from the token
   * itself (never stored), so only its holder can open it: a repeated refresh within
   * REFRESH_REUSE_GRACE_S answers the same pair. Null until spent (and for non-rotating tokens).
   */
  @Property({ type: 'text', nullable: true, hidden: true })
  successorSealed?: string | null;
}
