import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

/** Contract scalar DateTime: ISO 8601, UTC, millisecond precision. Accepts Date, ISO string or epoch ms. */
export const DateTimeScalar = new GraphQLScalarType({
  name: 'DateTime',
  description: 'ISO 8601 date-time in UTC with millisecond precision, e.g. 2026-01-31T12:00:00.000Z',
  serialize(value) {
    const d = value instanceof Date ? value : new Date(value as string | number);
    if (Number.isNaN(d.getTime())) throw new GraphQLError('DateTime cannot represent an invalid date');
    return d.toISOString();
  },
  parseValue(value) {
    const d = new Date(String(value));
    if (typeof value !== 'string' || Number.isNaN(d.getTime()))
      throw new GraphQLError('DateTime must be an ISO 8601 string', { extensions: { code: 'BAD_USER_INPUT' } });
    return d;
  },
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING || Number.isNaN(new Date(ast.value).getTime()))
      throw new GraphQLError('DateTime must be an ISO 8601 string', { extensions: { code: 'BAD_USER_INPUT' } });
    return new Date(ast.value);
  },
});
