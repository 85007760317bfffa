import { z } from 'zod';
import { defineRoute, type AnyRoute } from '../common/route.registry';
import { presentRegistered, presentTokens, registeredUserSchema, tokenPairSchema } from './presenters';

const TAG = 'tokens';

/**
 * Tokens and accounts (rest-compat.md "Tokens"; seed 000's SimpleJWT endpoints, used by every
 * dialect): log in (a non-rotating login, SimpleJWT's default), refresh, log out (revokes the login's refresh tokens), register.
 * No `Authorization` needed; bad credentials or tokens answer 401. Examples: seed 000's own
 * (log in: body and answer; refresh and log out: bodies); register has none in any seed.
 */
export const tokenRoutes: AnyRoute[] = [
  defineRoute({
    method: 'post',
    path: '/token',
    tag: TAG,
    auth: false,
    summary:
      "Log in: {username, password} → {access, refresh}; the refresh token stays valid until it expires or the login is logged out (SimpleJWT's default, not rotated); 429 (Retry-After) after too many failures for that username from that address",
    body: z.object({ username: z.string().max(256), password: z.string().max(1024) }),
    refusals: ['UNAUTHENTICATED', 'RATE_LIMITED'],
    bodyExample: { username: 'tên_người_dùng', password: 'mật_khẩu' },
    responses: { 200: { description: 'A token pair', schema: tokenPairSchema, example: { access: 'token_truy_cập_jwt', refresh: 'token_làm_mới_jwt' } } },
    async handler(ctx, { body }) {
      // SimpleJWT's default (ROTATE_REFRESH_TOKENS=False): seed-000 clients keep this refresh token (issue 28 item 1).
      return { status: 200, body: presentTokens(await ctx.services.auth.login(ctx.em, body.username, body.password, ctx.ip, { rotates: false })) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/token/refresh',
    tag: TAG,
    auth: false,
    summary:
      'Refresh: a login from POST /api/token/ gets a new access token and the same refresh token (valid until it expires); a rotating login (GraphQL) spends the token for a new pair, and presenting it again answers the same pair within REFRESH_REUSE_GRACE_S, later revokes the login',
    body: z.object({ refresh: z.string().max(1024) }),
    bodyExample: { refresh: 'token_làm_mới_của_bạn' },
    refusals: ['UNAUTHENTICATED'],
    responses: { 200: { description: 'A new token pair', schema: tokenPairSchema } },
    async handler(ctx, { body }) {
      return { status: 200, body: presentTokens(await ctx.services.auth.refresh(ctx.em, body.refresh)) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/accounts/logout',
    tag: TAG,
    auth: false,
    summary: 'Revoke the refresh token (and its login); 205 with no body',
    body: z.object({ refresh: z.string().max(1024) }),
    bodyExample: { refresh: 'token_làm_mới_của_bạn' },
    responses: { 205: { description: 'Logged out' } },
    async handler(ctx, { body }) {
      await ctx.services.auth.logout(ctx.em, body.refresh);
      return { status: 205 };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/accounts/register',
    tag: TAG,
    auth: false,
    summary: 'Create an account (not in the seeds: legacy apps need some way in)',
    body: z.object({
      username: z.string(),
      password: z.string(),
      first_name: z.string().nullish(),
      last_name: z.string().nullish(),
      email: z.string().nullish(),
    }),
    responses: { 201: { description: 'The new user', schema: registeredUserSchema } },
    fieldNames: { firstName: 'first_name', lastName: 'last_name' },
    async handler(ctx, { body }) {
      const r = await ctx.services.auth.register(
        ctx.em,
        {
          username: body.username,
          password: body.password,
          firstName: body.first_name || null,
          lastName: body.last_name || null,
          email: body.email || null,
        },
        ctx.ip,
      );
      return { status: 201, body: presentRegistered(r.user) };
    },
  }),
];
