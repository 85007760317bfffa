import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../context';
import { RegisterInput } from '../types/inputs';
import { AuthPayloadType } from '../types/payload.type';

/** Contract: register, login, refreshToken, logout. */
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
}
