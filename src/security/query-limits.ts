import { ApolloArmor } from '@escape.tech/graphql-armor';
import {
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type ParseOptions,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

/** The document limits of Config.graphql (GRAPHQL_MAX_*). */
export interface QueryLimits {
  maxDepth: number;
  maxCost: number;
  maxAliases: number;
  maxDirectives: number;
  maxTokens: number;
}

/** `reason` of a document refused by a limit (code BAD_USER_INPUT). */
export const QUERY_LIMIT_REASON = 'QUERY_LIMIT_EXCEEDED';

/**
 * graphql-armor's reports say "Syntax Error: ..."; the document is well-formed, only too big.
 * Reported through the validation context (never thrown), so the request ends with a normal
 * validation error: 400 BAD_USER_INPUT over HTTP, an `error` message over graphql-ws.
 */
const report = (ctx: ValidationContext | null, error: GraphQLError): void => {
  ctx?.reportError(
    new GraphQLError(error.message.replace(/^Syntax Error:\s*/, ''), {
      extensions: { code: 'BAD_USER_INPUT', reason: QUERY_LIMIT_REASON },
    }),
  );
};

/**
 * graphql-armor's validation rules for `limits`: max depth, aliases and directives (fragments
 * counted where they are spread). The same rules serve Apollo (HTTP) and graphql-ws. Tokens are
 * limited by the parser itself ({@link parseOptions}); field suggestions by the error mapper; the
 * cost by query-cost.ts once the variables are known (issue 27: armor's cost rule counted a list
 * without a literal `first` as one item, and a variable page size as one).
 */
export function queryLimitRules(limits: QueryLimits): ValidationRule[] {
  const common = { onReject: [report], propagateOnRejection: false, exposeLimits: true };
  return new ApolloArmor({
    maxDepth: { ...common, n: limits.maxDepth, flattenFragments: true, ignoreIntrospection: true },
    costLimit: { enabled: false },
    maxAliases: { ...common, n: limits.maxAliases },
    maxDirectives: { ...common, n: limits.maxDirectives },
    // Done by graphql-js's own parser (below), on both transports; armor's version is an Apollo plugin only.
    maxTokens: { enabled: false },
    // Done by the one error mapper (graphql/errors.ts), which also sees variable-coercion errors.
    blockFieldSuggestion: { enabled: false },
  }).protect().validationRules;
}

/** graphql-js parse options: a document past `maxTokens` lexical tokens is a syntax error (nothing past it is read). */
export function parseOptions(limits: Pick<QueryLimits, 'maxTokens'>): ParseOptions {
  return { maxTokens: limits.maxTokens };
}

/** Rules a GraphQL document must pass on graphql-ws: the specified ones, the limits, and no introspection when it is off. */
export function webSocketValidationRules(limits: QueryLimits, introspection: boolean): ValidationRule[] {
  return [...specifiedRules, ...queryLimitRules(limits), ...(introspection ? [] : [NoSchemaIntrospectionCustomRule])];
}

/** A parsed and validated document, or the errors that refused it (all BAD_USER_INPUT). */
/** A parsed and validated document (`query`: the one cached copy of its text, for callers that keep it), or why not. */
export type PreparedDocument =
  { document: DocumentNode; query: string; errors?: undefined } | { document?: undefined; query?: undefined; errors: readonly GraphQLError[] };

/**
 * Parses and validates GraphQL documents for graphql-ws, remembering the outcome (success or
 * refusal) of the last `capacity` distinct documents, least recently used out first. Documents
 * longer than `maxCachedLength` characters are prepared every time, so the cache stays small.
 */
export class DocumentCache {
  private readonly entries = new Map<string, PreparedDocument>();

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly rules: readonly ValidationRule[],
    private readonly parsing: ParseOptions,
    readonly capacity = 500,
    private readonly maxCachedLength = 16 * 1024,
  ) {}

  /** Number of documents remembered. */
  get size(): number {
    return this.entries.size;
  }

  /** The prepared `query`: from the cache, or parsed and validated now (and remembered). */
  prepare(query: unknown): PreparedDocument {
    if (typeof query !== 'string') return { errors: [badDocument('GraphQL operations must contain a `query` string', 'GRAPHQL_PARSE_FAILED')] };
    const hit = this.entries.get(query);
    if (hit) {
      this.entries.delete(query); // re-insert: Map order is the recency order
      this.entries.set(query, hit);
      return hit;
    }
    const prepared = this.prepareNow(query);
    if (query.length <= this.maxCachedLength) {
      this.entries.set(query, prepared);
      if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    }
    return prepared;
  }

  private prepareNow(query: string): PreparedDocument {
    let document: DocumentNode;
    try {
      document = parse(query, this.parsing);
    } catch (err) {
      return { errors: [badDocument((err as Error).message, 'GRAPHQL_PARSE_FAILED')] };
    }
    const invalid = validate(this.schema, document, this.rules);
    if (invalid.length) {
      return {
        errors: invalid.map(
          (e) =>
            new GraphQLError(e.message, {
              nodes: e.nodes,
              extensions: { code: 'BAD_USER_INPUT', reason: e.extensions?.reason ?? 'GRAPHQL_VALIDATION_FAILED' },
            }),
        ),
      };
    }
    return { document, query };
  }
}

function badDocument(message: string, reason: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', reason } });
}

/** "Did you mean ...?" hints name schema fields, types and enum values: cut from an error message. */
export function withoutSuggestions(message: string): string {
  return message.replace(/\s*Did you mean [^?]*\?/g, '');
}
