import pino, { stdSerializers, type DestinationStream, type Logger } from 'pino';

/**
 * The structured (JSON) logger of the whole server. What it writes carries no content and no
 * credentials (issue 13): errors lose the SQL text and bound values a database error carries
 * (MikroORM puts the statement, values inlined, in `message` and `query`), and URLs lose their
 * query strings' secrets (media signatures, tokens) and GraphQL GET variables.
 * @param destination where lines go (default stdout; tests pass a stream).
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({
    level,
    base: { service: 'chat-server' },
    redact: ['req.headers.authorization', 'req.headers.cookie'],
    serializers: { err: redactedError },
  }, destination);
}

/** Query-string parameters whose values are secrets or content. */
const SECRET_PARAMS = /^(sig|token|access_token|refresh|password|variables|query|extensions)$/i;

/**
 * A URL fit for a log line: the path, and query parameters with secret or content values replaced
 * by "[redacted]" (`sig` of media URLs, tokens, GraphQL GET `query`/`variables`;
 * `operationName` stays).
 */
export function loggableUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  const kept = [...params].map(([k, v]) => `${encodeURIComponent(k)}=${SECRET_PARAMS.test(k) ? '[redacted]' : encodeURIComponent(v)}`);
  return `${url.slice(0, q)}?${kept.join('&')}`;
}

/**
 * pino's error serializer without SQL: a driver error's statement (values inlined) is cut from
 * its message, and its `query`, `sql`, `params`, `parameters` and `bindings` fields are dropped;
 * the error's class, code and the database's own message stay.
 */
export function redactedError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const out = stdSerializers.err(err) as unknown as Record<string, unknown>;
  const query = (err as { query?: unknown; sql?: unknown }).query ?? (err as { sql?: unknown }).sql;
  const cut = (text: unknown) => {
    if (typeof text !== 'string') return text;
    const t = typeof query === 'string' && query ? text.split(query).join('<sql>') : text;
    // MikroORM's message is "<statement> - <the database's reason>": keep only the reason (the
    // statement may hold " - " itself, the reason rarely does: cut at the last one).
    const sep = t.lastIndexOf(' - ');
    return sep >= 0 && /^(\w+: )?\s*(select|insert|update|delete|with|begin|commit|alter|create|drop)\b/i.test(t) ? t.replace(/^(\w+: )?[\s\S]*$/, (_m, name: string | undefined) => `${name ?? ''}<sql>${t.slice(sep)}`) : t;
  };
  const stack = typeof out.stack === 'string' ? out.stack : '';
  const frames = stack.indexOf('\n    at ');
  out.message = cut(out.message);
  // The stack's head is "<class>: <message>": cut it the same way, keep the frames.
  if (stack) out.stack = frames >= 0 ? `${cut(stack.slice(0, frames))}${stack.slice(frames)}` : cut(stack);
  for (const k of ['query', 'sql', 'params', 'parameters', 'bindings']) delete out[k];
  return out;
}
