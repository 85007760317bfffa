import {
  getArgumentValues,
  getNamedType,
  getNullableType,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  isListType,
  isObjectType,
  isInterfaceType,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { QUERY_LIMIT_REASON } from './query-limits';

/**
 * The field extension that bounds a list (issue 27): `@Extensions({ [MAX_ITEMS]: 100 })` on a
 * list field, or on a field returning a connection (its `edges` are the list). The value is the
 * most items the field ever returns: its page-size argument (`first`, `last` or `limit`) is refused
 * above it, or the resolver cuts the list there. A string names a setting given to
 * {@link QueryCost} (`uploadMaxFiles`). `DEFAULT_ITEMS` is the page size when no argument is given
 * and the argument has no default of its own (messages: 50).
 */
export const MAX_ITEMS = 'maxItems';
export const DEFAULT_ITEMS = 'defaultItems';
/** Page-size arguments, in the order they are read. */
const PAGE_ARGUMENTS = ['first', 'last', 'limit'] as const;
/** What a list that declares no bound counts as (none should: tests/unit/query-cost.test.ts checks the schema). */
export const UNDECLARED_LIST_ITEMS = 1000;

/** The settings a `maxItems` extension may name. */
export type CostSettings = Record<string, number>;

type Field = GraphQLField<unknown, unknown>;

/**
 * The cost of a GraphQL operation (issue 27): every field counts 1, times the most items each
 * list around it can hold. A list counts at its real maximum: its page-size argument (a literal or
 * a variable's value, clamped to its cap), else the argument's default, else its cap; a list
 * without a page argument counts at its cap. So the cost bounds the number of values the
 * response can carry, whatever the data (a group of 1001 members counts like one of 100, because
 * `members` returns at most 100). `__typename` and introspection are free.
 */
export class QueryCost {
  constructor(
    private readonly schema: GraphQLSchema,
    private readonly settings: CostSettings = {},
  ) {}

  /**
   * The cost of `operationName` (or the only operation) of `document` with `variables`; null when
   * the operation or its variables are invalid (execution refuses them with its own error).
   */
  of(document: DocumentNode, operationName?: string | null, variables?: Record<string, unknown> | null): number | null {
    const operation = getOperationAST(document, operationName ?? undefined);
    if (!operation) return null;
    const root = this.schema.getRootType(operation.operation);
    if (!root) return null;
    const coerced = getVariableValues(this.schema, operation.variableDefinitions ?? [], variables ?? {}, { maxErrors: 1 });
    if (coerced.errors) return null;
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    const memo = new Map<string, number>();

    const walk = (set: SelectionSetNode, type: GraphQLNamedType, pageItems: number | undefined, visiting: Set<string>): number => {
      let total = 0;
      for (const sel of set.selections) {
        if (sel.kind === Kind.FIELD) {
          const name = sel.name.value;
          if (name.startsWith('__')) continue; // __typename, __schema, __type
          if (!isObjectType(type) && !isInterfaceType(type)) continue;
          const field = type.getFields()[name];
          if (!field) continue;
          const bound = this.itemsOf(field, sel, coerced.coerced);
          const isList = isListType(getNullableType(field.type));
          // A connection field passes its page size to its `edges`; a list counts its own items.
          const items = isList ? (bound ?? (name === 'edges' && pageItems !== undefined ? pageItems : UNDECLARED_LIST_ITEMS)) : 1;
          const child = sel.selectionSet ? walk(sel.selectionSet, getNamedType(field.type), isList ? undefined : bound, visiting) : 0;
          total += items * (1 + child);
        } else if (sel.kind === Kind.INLINE_FRAGMENT) {
          const on = sel.typeCondition ? this.schema.getType(sel.typeCondition.name.value) : type;
          if (on) total += walk(sel.selectionSet, on, pageItems, visiting);
        } else {
          const name = sel.name.value;
          const fragment = fragments.get(name);
          if (!fragment || visiting.has(name)) continue;
          const key = `${name}\u0000${pageItems ?? ''}`;
          let cost = memo.get(key);
          if (cost === undefined) {
            const on = this.schema.getType(fragment.typeCondition.name.value);
            visiting.add(name);
            cost = on ? walk(fragment.selectionSet, on, pageItems, visiting) : 0;
            visiting.delete(name);
            memo.set(key, cost);
          }
          total += cost;
        }
      }
      return total;
    };
    return walk(operation.selectionSet, root, undefined, new Set());
  }

  /** The most items `field` returns here, or undefined when it declares no bound. */
  private itemsOf(field: Field, node: Parameters<typeof getArgumentValues>[1], variables: Record<string, unknown>): number | undefined {
    const declared = field.extensions?.[MAX_ITEMS] as number | string | undefined;
    if (declared === undefined) return undefined;
    const cap = typeof declared === 'number' ? declared : (this.settings[declared] ?? UNDECLARED_LIST_ITEMS);
    let args: Record<string, unknown>;
    try {
      args = getArgumentValues(field, node, variables);
    } catch {
      return cap;
    }
    for (const name of PAGE_ARGUMENTS) {
      const value = args[name];
      if (typeof value === 'number') return Math.max(0, Math.min(cap, value));
    }
    const fallback = field.extensions?.[DEFAULT_ITEMS];
    return typeof fallback === 'number' ? Math.min(cap, fallback) : cap;
  }
}

/**
 * A cost past `maxCost` (GRAPHQL_MAX_COST) as the error that refuses it (BAD_USER_INPUT, reason
 * QUERY_LIMIT_EXCEEDED, like the other document limits), or null when it fits (or is unknown).
 */
export function costRefusal(cost: number | null, maxCost: number): GraphQLError | null {
  if (cost === null || cost <= maxCost) return null;
  return new GraphQLError(`Query Cost limit of ${maxCost} exceeded, found ${cost}.`, {
    extensions: { code: 'BAD_USER_INPUT', reason: QUERY_LIMIT_REASON, cost, maxCost },
  });
}

/** Output fields of `schema` that return a list or a connection and declare no bound (connections' own `edges` excepted: their field's bound counts). */
export function unboundedLists(schema: GraphQLSchema): string[] {
  const out: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__') || !(isObjectType(type) || isInterfaceType(type))) continue;
    for (const field of Object.values(type.getFields())) {
      const isList = isListType(getNullableType(field.type));
      if (!isList && !getNamedType(field.type).name.endsWith('Connection')) continue;
      if (isList && field.name === 'edges' && type.name.endsWith('Connection')) continue;
      if (field.extensions?.[MAX_ITEMS] === undefined) out.push(`${type.name}.${field.name}`);
    }
  }
  return out;
}
