import { defaultFieldResolver, getNamedType, isObjectType, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import { badInput } from '../domain/shared/errors';

/** Page-size arguments capped on every field that has them. */
export const PAGE_SIZE_ARGUMENTS = ['first', 'last', 'limit'] as const;

/** The largest page any GraphQL field serves (contract: `first`/`last`/`limit` at most 100). */
export const MAX_PAGE_SIZE = 100;

const capped = new WeakSet<GraphQLSchema>();

/**
 * Makes every field of `schema` with an Int argument named `first`, `last` or `limit` refuse a
 * value outside 0..`max` with BAD_USER_INPUT naming the argument, before its resolver (or, for a
 * subscription, its `subscribe`) runs. The domain services check their own page sizes too; this
 * guard keeps a new field from serving an unbounded page by omission. Changes `schema` in place
 * (once); the SDL is unchanged.
 */
export function capPageSizeArguments(schema: GraphQLSchema, max = MAX_PAGE_SIZE): GraphQLSchema {
  if (capped.has(schema)) return schema;
  capped.add(schema);
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      const names = field.args
        .filter((a) => (PAGE_SIZE_ARGUMENTS as readonly string[]).includes(a.name) && getNamedType(a.type).name === 'Int')
        .map((a) => a.name);
      if (!names.length) continue;
      const check = (args: Record<string, unknown>) => {
        for (const name of names) {
          const value = args[name];
          if (value === null || value === undefined) continue;
          if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
            throw badInput(`${name} must be between 0 and ${max}`, name);
          }
        }
      };
      const guard = (inner: GraphQLFieldResolver<unknown, unknown>): GraphQLFieldResolver<unknown, unknown> =>
        (source, args, context, info) => {
          check(args);
          return inner(source, args, context, info);
        };
      field.resolve = guard(field.resolve ?? defaultFieldResolver);
      if (field.subscribe) field.subscribe = guard(field.subscribe);
    }
  }
  return schema;
}
