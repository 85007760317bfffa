/** What an entity's relation field holds: the entity (loaded or a reference) or its bare id. */
export type Ref = { id: number } | number;

/**
 * The id behind a relation field (a MikroORM entity or reference, or a bare id), without loading
 * anything; null for an empty relation. The one helper for it in the code base (issue 14).
 */
export function refId(ref: Ref): number;
export function refId(ref: Ref | null | undefined): number | null;
export function refId(ref: Ref | null | undefined): number | null {
  if (ref == null) return null;
  return typeof ref === 'object' ? ref.id : Number(ref);
}
