import { getOperationAST, TypeInfo, visit, visitWithTypeInfo, type DocumentNode, type GraphQLSchema } from 'graphql';

/**
 * Field extension that marks a field whose value depends on who is looking (blocks, the viewer's
 * membership, read state): `@Extensions({ perViewer: true })` on the resolver. Subscriptions that
 * select such a field execute once per viewer and event; all others share one execution.
 */
export const PER_VIEWER = 'perViewer';

const cache = new WeakMap<DocumentNode, Map<string, boolean>>();

/**
 * Whether the operation's selection (fragments included) reaches a field marked {@link PER_VIEWER}.
 * Cached per parsed document (documents are parsed once per distinct text, security/query-limits.ts).
 */
export function dependsOnViewer(schema: GraphQLSchema, document: DocumentNode, operationName?: string | null): boolean {
  let perDoc = cache.get(document);
  if (!perDoc) cache.set(document, (perDoc = new Map()));
  const name = operationName ?? '';
  const known = perDoc.get(name);
  if (known !== undefined) return known;
  const operation = getOperationAST(document, operationName);
  let found = false;
  if (operation) {
    const fragments = new Set<string>();
    const typeInfo = new TypeInfo(schema);
    const scan = (node: Parameters<typeof visit>[0]) =>
      visit(
        node,
        visitWithTypeInfo(typeInfo, {
          Field() {
            if (typeInfo.getFieldDef()?.extensions?.[PER_VIEWER]) found = true;
          },
          FragmentSpread(node) {
            fragments.add(node.name.value);
          },
        }),
      );
    scan(operation);
    // Fragments are checked with their own type condition (a spread inside a fragment too).
    const seen = new Set<string>();
    for (let more = true; more && !found;) {
      more = false;
      for (const def of document.definitions) {
        if (def.kind !== 'FragmentDefinition' || !fragments.has(def.name.value) || seen.has(def.name.value)) continue;
        seen.add(def.name.value);
        scan(def);
        more = true;
      }
    }
  }
  perDoc.set(name, found);
  return found;
}
