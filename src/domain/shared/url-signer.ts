import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signs and checks the `exp` and `sig` query parameters of this server's download URLs
 * (attachments, avatars): `sig` is base64url HMAC-SHA-256 of `<parts joined by ":">:<exp>` under
 * a key derived from the server secret and a `label`, so URLs of one kind never open another's.
 * `exp` is in seconds since the epoch.
 */
export class UrlSigner {
  private readonly key: Buffer;

  /** @param secret the server secret (the JWT secret); @param label what the URLs are for, e.g. `media-url-v1`. */
  constructor(secret: Uint8Array, label: string) {
    this.key = createHmac('sha256', Buffer.from(secret)).update(label).digest();
  }

  /** The signature of `parts` expiring at `exp`. */
  sign(parts: readonly (string | number)[], exp: number): string {
    return createHmac('sha256', this.key)
      .update(`${parts.join(':')}:${exp}`)
      .digest('base64url');
  }

  /** True when `sig` signs `parts` with `exp`, whether or not `exp` has passed (constant-time compare). */
  signs(parts: readonly (string | number)[], exp: unknown, sig: unknown): boolean {
    const e = Number(exp);
    if (exp == null || exp === '' || !Number.isSafeInteger(e) || typeof sig !== 'string' || !sig) return false;
    const want = Buffer.from(this.sign(parts, e));
    const got = Buffer.from(sig);
    return want.length === got.length && timingSafeEqual(want, got);
  }

  /** True when `sig` signs `parts` with `exp` and `exp` has not passed. */
  verify(parts: readonly (string | number)[], exp: unknown, sig: unknown, now = Date.now()): boolean {
    return Number(exp) * 1000 >= now && this.signs(parts, exp, sig);
  }
}
