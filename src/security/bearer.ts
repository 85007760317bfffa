/** "Bearer <token>" (RFC 6750 section 2.1, scheme case-insensitive) → token; anything else → undefined. */
export function bearer(header: unknown): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(String(header ?? ''));
  return m?.[1];
}
