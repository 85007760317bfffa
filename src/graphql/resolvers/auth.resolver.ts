import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../context';
import { RegisterInput } from '../types/inputs';
import { AuthPayloadType } from '../types/payload.type';

/** Contract: register, login, refreshToken, logout; changePassword, deleteAccount (issue 18). */
@Resolver()
export class AuthResolver {
  @Mutation(() => AuthPayloadType)
  register(@Arg('input', () => RegisterInput) input: RegisterInput, @Ctx() ctx: GraphQLContext) {
    return ctx.services.auth.register(ctx.em, input, ctx.ip);
  }

  @Mutation(() => AuthPayloadType)
  login(@Arg('username', () => String) username: string, @Arg('password', () => String) password: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.auth.login(ctx.em, username, password, ctx.ip);
  }

  @Mutation(() => AuthPayloadType, { description: 'Rotates: the old refresh token stops working' })
  refreshToken(@Arg('refreshToken', () => String) refreshToken: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.auth.refresh(ctx.em, refreshToken);
  }

  @Mutation(() => Boolean)
  logout(@Arg('refreshToken', () => String) refreshToken: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.auth.logout(ctx.em, refreshToken);
  }

  /** AuthService.changePassword: the caller's login stays, every other one is revoked (refresh tokens, access tokens, sockets). */
  @Mutation(() => Boolean, {
    description:
      'Changes your password (the rules of register). Every other login is ended: its refresh tokens are revoked, its access tokens refused, its sockets closed (4403); this one stays. A wrong currentPassword is BAD_USER_INPUT and counts toward the failed-login limit (RATE_LIMITED)',
  })
  changePassword(
    @Arg('currentPassword', () => String) currentPassword: string,
    @Arg('newPassword', () => String) newPassword: string,
    @Ctx() ctx: GraphQLContext,
  ) {
    const scope = ctx.scope();
    return ctx.services.auth.changePassword(scope.em, scope.actor, scope.actor.sessionId ?? null, currentPassword, newPassword, ctx.ip);
  }

  /** AccountService.deleteAccount. */
  @Mutation(() => Boolean, {
    description:
      'Deletes your account: personal data erased, your messages become deleted ones shown from a deleted user, every login and socket ended; the username stays reserved. A wrong password is BAD_USER_INPUT (failed-login limit applies); the last staff user is FORBIDDEN',
  })
  deleteAccount(@Arg('password', () => String) password: string, @Ctx() ctx: GraphQLContext) {
    return ctx.services.accounts.deleteAccount(ctx.scope(), password, ctx.ip);
  }
}
