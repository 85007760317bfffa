import type { DomainError } from '../../domain/shared/errors';

/**
 * A refusal's message in a dialect's terms: the domain names its input fields (`fileUrl ...`);
 * a dialect that calls the field otherwise (`names`: domain field -> the seed's name, e.g.
 * seed 003's `file_url`) gets its own name leading the message. Unchanged when the field has no
 * other name. Used by the REST error handler (a route's `fieldNames`) and the legacy sockets.
 */
export function messageInDialect(err: DomainError, names: Readonly<Record<string, string>> | undefined): string {
  const renamed = err.field ? names?.[err.field] : undefined;
  if (!renamed) return err.message;
  return err.message.startsWith(err.field!) ? renamed + err.message.slice(err.field!.length) : `${renamed}: ${err.message}`;
}
