import type { UserRecord } from '../../domain/user/user-cache';
import { z } from 'zod';
import type { AuthResult } from '../../domain/auth/auth.service';

/** `{access, refresh}` (seed 000 token endpoints, SimpleJWT shape). */
export const tokenPairSchema = z.object({ access: z.string(), refresh: z.string() });

/** The user `POST /api/accounts/register/` answers with. */
export const registeredUserSchema = z.object({
  id: z.number().int(),
  username: z.string(),
  email: z.string().nullable(),
  first_name: z.string(),
  last_name: z.string(),
});

/** An AuthResult as `{access, refresh}`. */
export function presentTokens(r: AuthResult): z.output<typeof tokenPairSchema> {
  return { access: r.accessToken, refresh: r.refreshToken };
}

/** A new account as `{id, username, email, first_name, last_name}`. */
export function presentRegistered(u: UserRecord): z.output<typeof registeredUserSchema> {
  return { id: u.id, username: u.username, email: u.email ?? null, first_name: u.firstName ?? '', last_name: u.lastName ?? '' };
}
