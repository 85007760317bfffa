import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Logger } from 'pino';
import { DATABASE_UNAVAILABLE_MESSAGE, DomainError, isDatabaseUnavailable, type ErrorCode } from '../domain/shared/errors';
import { RateLimitedError } from '../domain/shared/rate-limit';
import { withoutSuggestions } from '../security/query-limits';

const CONTRACT_CODES = new Set<ErrorCode>([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'CONFLICT',
  'RATE_LIMITED',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'INTERNAL_SERVER_ERROR',
]);
/** Apollo's own request-level codes, all the client's fault. */
const CLIENT_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

/**
 * The one error mapper for GraphQL (HTTP and WebSocket): every error leaves with an
 * `extensions.code` from the contract. Domain errors keep their code and message (and `field`);
 * GraphQL syntax/validation/variable errors become BAD_USER_INPUT; an unreachable database is
 * INTERNAL_SERVER_ERROR with `reason: DATABASE_UNAVAILABLE` and `retryAfter` (seconds); anything
 * else is logged and masked as INTERNAL_SERVER_ERROR. With `hideSuggestions` (production), "Did
 * you mean ...?" hints are cut from every message, so unknown names do not reveal the schema.
 * Stack traces never leave (an `extensions.stacktrace` is dropped whatever put it there).
 */
export function formatError(logger: Logger, options: { hideSuggestions?: boolean } = {}) {
  const map = mapError(logger);
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const out = map(formatted, error);
    let extensions = out.extensions;
    if (extensions && ('stacktrace' in extensions || 'exception' in extensions)) {
      const { stacktrace: _s, exception: _e, ...rest } = extensions;
      extensions = rest;
    }
    return { ...out, message: options.hideSuggestions ? withoutSuggestions(out.message) : out.message, extensions };
  };
}

function mapError(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (original instanceof DomainError) {
      return {
        message: original.message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: {
          code: original.code,
          ...(original.field ? { field: original.field } : {}),
          ...(original instanceof RateLimitedError ? { retryAfter: original.retryAfterSec } : {}),
        },
      };
    }
    const code = String(formatted.extensions?.code ?? '');
    if (CONTRACT_CODES.has(code as ErrorCode) && code !== 'INTERNAL_SERVER_ERROR') return formatted;
    // Request-level errors (no path: nothing was resolved yet) raised by graphql-js itself, or by
    // coercing a variable (originalError is then the scalar's or enum's own GraphQLError; over
    // graphql-ws nothing has given them a code before this point).
    if (CLIENT_CODES.has(code) || (error instanceof GraphQLError && !error.path && (!error.originalError || error.originalError instanceof GraphQLError))) {
      return { ...formatted, extensions: { ...formatted.extensions, code: 'BAD_USER_INPUT', reason: code || undefined } };
    }
    // Argument coercion failures raised while executing (e.g. a bad enum value in variables).
    if (error instanceof GraphQLError && !error.originalError && code === '') {
      return { ...formatted, extensions: { code: 'BAD_USER_INPUT' } };
    }
    if (isDatabaseUnavailable(original)) {
      logger.warn({ err: original }, 'database unavailable'); // the err serializer cuts the SQL (src/logger.ts)
      return {
        message: DATABASE_UNAVAILABLE_MESSAGE,
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: 'INTERNAL_SERVER_ERROR', reason: 'DATABASE_UNAVAILABLE', retryAfter: 5 },
      };
    }
    logger.error({ err: original }, 'unhandled error in GraphQL operation');
    return { message: 'Internal server error', locations: formatted.locations, path: formatted.path, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  };
}
