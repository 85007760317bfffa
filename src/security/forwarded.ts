import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import proxyaddr from 'proxy-addr';
import type { Config } from '../config/config';

/** Whether the hop at `addr` (i = 0: the peer of the socket, 1: the address it forwarded for, ...) is a trusted proxy. */
export type TrustFn = (addr: string, i: number) => boolean;

/**
 * TRUST_PROXY as a trust function, with the meaning Express gives its `trust proxy` setting:
 * true trusts every hop, false none, a number that many hops, a list those addresses/subnets.
 */
export function compileTrust(tp: Config['trustProxy']): TrustFn {
  if (tp === true) return () => true;
  if (tp === false) return () => false;
  if (typeof tp === 'number') return (_addr, i) => i < tp;
  return proxyaddr.compile(tp);
}

/** A host as a URL may carry it: a name or IPv4 address, or a bracketed IPv6 address, with an optional port. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})?)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** The first value of a header that a proxy chain may have made a comma-separated list. */
function first(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  const head = v?.split(',')[0]?.trim();
  return head || undefined;
}

/**
 * The scheme and host (with its port when not the scheme's default) that the client addressed, for
 * absolute URLs of this server (REST media links, pagination links) when PUBLIC_URL is unset.
 * From a trusted proxy (TRUST_PROXY, the rule that also decides the client address) the
 * X-Forwarded-Proto, X-Forwarded-Host and X-Forwarded-Port headers win over the connection's
 * own scheme and Host header (de-facto headers, as nginx, HAProxy and cloud load balancers send
 * them; RFC 7239 describes their standard form). The port is X-Forwarded-Host's own, else
 * X-Forwarded-Port, else the Host header's. Headers from anyone else, or values that are not a scheme, host or port, are
 * ignored. Host is "localhost" when the request names none.
 */
export function requestOrigin(req: IncomingMessage, trusted: TrustFn): { proto: 'http' | 'https'; host: string } {
  const direct: 'http' | 'https' = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
  const ownHost = first(req.headers.host);
  const plain = { proto: direct, host: ownHost && HOST.test(ownHost) ? ownHost : 'localhost' };
  if (!trusted(req.socket.remoteAddress ?? '', 0)) return plain;
  const fproto = first(req.headers['x-forwarded-proto'])?.toLowerCase();
  const proto = fproto === 'http' || fproto === 'https' ? fproto : direct;
  const fhost = first(req.headers['x-forwarded-host']);
  const forwardedHost = fhost && HOST.test(fhost) ? fhost : undefined;
  let host = forwardedHost ?? plain.host;
  const fport = first(req.headers['x-forwarded-port']);
  // The port: X-Forwarded-Host's own, else X-Forwarded-Port (in place of the Host header's, which
  // a proxy may have set to its upstream's address), else the Host header's.
  if (!(forwardedHost && /:\d+$/.test(forwardedHost)) && fport && /^\d{1,5}$/.test(fport) && Number(fport) > 0 && Number(fport) < 65536) {
    host = `${host.replace(/:\d+$/, '')}:${Number(fport)}`;
  }
  // A default port spelled out is left out, as a browser's URL does.
  host = host.replace(proto === 'https' ? /:443$/ : /:80$/, '');
  return { proto, host };
}
