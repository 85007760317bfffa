import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { isPublicAddress } from '../domain/shared/outbound-url';

/** An outbound request's answer: status, headers, body (at most 64 KB kept). */
export interface OutboundResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One outbound HTTP request (issue 34: Web Push, FCM, webhooks). */
export interface OutboundRequest {
  method?: string;
  headers?: Record<string, string | number>;
  body?: string | Buffer;
  /** Whole-request timeout (default 10 s). */
  timeoutMs?: number;
}

/** The request was refused before it was sent (an address the SSRF rules forbid, a bad scheme). */
export class OutboundRefused extends Error {}

/**
 * The one outbound HTTP client (issue 34): every Web Push and webhook request goes through it, so
 * they share the SSRF guard, the timeout and redirect handling (redirects are never followed: a
 * 3xx is returned as is). With `guarded`, the host's addresses are resolved at connect time and the
 * connection is refused unless all are public (DNS rebinding cannot slip a private address past a
 * check made earlier); `allowPrivate` (OUTBOUND_ALLOW_PRIVATE) lifts this and allows http://.
 * Requests to operator-configured services (FCM, Google's token endpoint) pass `guarded: false`.
 * @throws OutboundRefused (refused by the rules), or a network error / timeout (Error).
 */
export class OutboundHttpClient {
  constructor(private readonly allowPrivate: boolean) {}

  send(rawUrl: string, req: OutboundRequest, guarded = true): Promise<OutboundResponse> {
    const url = new URL(rawUrl);
    const strict = guarded && !this.allowPrivate;
    if (url.protocol !== 'https:' && (strict || url.protocol !== 'http:')) return Promise.reject(new OutboundRefused(`scheme ${url.protocol} refused`));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (strict && isIP(host) && !isPublicAddress(host)) return Promise.reject(new OutboundRefused(`address ${host} is not public`));
    const lookup: LookupFunction | undefined = strict ? guardedLookup : undefined;
    const fn = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const r = fn(url, { method: req.method ?? 'POST', headers: req.headers, lookup, timeout: req.timeoutMs ?? 10_000 }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < 65536) chunks.push(c);
          size += c.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8').slice(0, 65536) }));
        res.on('error', reject);
      });
      r.on('timeout', () => r.destroy(new Error(`timed out after ${req.timeoutMs ?? 10_000} ms`)));
      r.on('error', reject);
      r.end(req.body);
    });
  }
}

/** dns.lookup that fails unless every address of the host is public (the connection uses only vetted addresses). */
const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 4);
    const list = addresses as unknown as LookupAddress[];
    const bad = list.find((a) => !isPublicAddress(a.address));
    if (!list.length || bad) return callback(new OutboundRefused(`${hostname} resolves to ${bad?.address ?? 'nothing'}, which is not public`), '', 4);
    if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
    callback(null, list[0].address, list[0].family);
  });
};
