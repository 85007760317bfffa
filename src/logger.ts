import pino, { stdSerializers, type DestinationStream, type Logger } from 'pino';

/**
 * The structured (JSON) logger of the whole server. What it writes carries no content and no
 * credentials (issue 13): errors lose the SQL text and bound values a database error carries
 * (MikroORM puts the statement, values inlined, in `message` and `query`), and URLs lose their
 * query strings' secrets (media signatures, tokens) and GraphQL GET variables.
 * @param destination where lines go (default stdout; tests pass a stream).
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'chat-server' },
      redact: ['req.headers.authorization', 'req.headers.cookie'],
      serializers: { err: redactedError },
    },
    destination,
  );
}

/** Query-string parameters whose values are secrets or content. */
const SECRET_PARAMS = /^(sig|token|access_token|refresh|password|variables|query|extensions)$/i;

/** What stands in a logged path for a segment that is not a route's fixed word. */
export const PATH_PARAM = ':param';

/**
 * A URL fit for a log line: the path with every segment that is not one of `words` (the fixed
 * words of the server's routes, lower case) replaced by ":param", so no username, id or other
 * path parameter reaches the logs (issue 27 §5: seed 000's `/api/chat/history/<username>/`
 * kept usernames after an account's deletion), matched route or not; and query parameters with
 * secret or content values replaced by "[redacted]" (`sig` of media URLs, tokens, GraphQL GET
 * `query`/`variables`; `operationName` stays).
 */
export function loggableUrl(url: string, words: ReadonlySet<string>): string {
  const q = url.indexOf('?');
  const path = (q < 0 ? url : url.slice(0, q))
    .split('/')
    .map((seg) => (!seg || words.has(seg.toLowerCase()) ? seg : PATH_PARAM))
    .join('/');
  if (q < 0) return path;
  const params = new URLSearchParams(url.slice(q + 1));
  const kept = [...params].map(([k, v]) => `${encodeURIComponent(k)}=${SECRET_PARAMS.test(k) ? '[redacted]' : encodeURIComponent(v)}`);
  return `${path}?${kept.join('&')}`;
}

/**
 * The fixed words of route paths (`/chat/history/:username` gives "chat" and "history"), lower
 * case, for {@link loggableUrl}.
 */
export function routeWords(paths: Iterable<string>): Set<string> {
  const words = new Set<string>();
  for (const p of paths) for (const seg of p.split('/')) if (seg && !seg.startsWith(':') && !/[*?(]/.test(seg)) words.add(seg.toLowerCase());
  return words;
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
    return sep >= 0 && /^(\w+: )?\s*(select|insert|update|delete|with|begin|commit|alter|create|drop)\b/i.test(t)
      ? t.replace(/^(\w+: )?[\s\S]*$/, (_m, name: string | undefined) => `${name ?? ''}<sql>${t.slice(sep)}`)
      : t;
  };
  const stack = typeof out.stack === 'string' ? out.stack : '';
  const frames = stack.indexOf('\n    at ');
  out.message = cut(out.message);
  // The stack's head is "<class>: <message>": cut it the same way, keep the frames.
  if (stack) out.stack = frames >= 0 ? `${cut(stack.slice(0, frames))}${stack.slice(frames)}` : cut(stack);
  for (const k of ['query', 'sql', 'params', 'parameters', 'bindings']) delete out[k];
  return out;
}
