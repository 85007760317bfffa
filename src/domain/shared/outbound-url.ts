import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { badInput } from './errors';

/**
 * Addresses an outbound request (Web Push endpoint, webhook) may never reach unless
 * OUTBOUND_ALLOW_PRIVATE=true (issue 34, SSRF): unspecified, loopback, private (RFC 1918, CGNAT,
 * IPv6 unique-local), link-local (169.254.169.254: cloud metadata), multicast, reserved and
 * documentation ranges, and IPv4-mapped IPv6 forms of these.
 */
const FORBIDDEN = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  FORBIDDEN.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  FORBIDDEN.addSubnet(net, bits, 'ipv6');

/** True when `address` (an IPv4 or IPv6 literal) is a public unicast address. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (!family) return false;
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return isPublicAddress(mapped[1]);
    if (/^::ffff:/i.test(address)) return false;
    return !FORBIDDEN.check(address, 'ipv6');
  }
  return !FORBIDDEN.check(address, 'ipv4');
}

/**
 * Checks an outbound URL by the SSRF rules (issue 34): https only, and every address its host
 * resolves to public; `allowPrivate` (OUTBOUND_ALLOW_PRIVATE) also allows http:// and any address.
 * Checked when the URL is registered and again when each request connects (src/outbound/http-client.ts),
 * since DNS may change.
 * @throws BAD_USER_INPUT naming `field`.
 */
export async function checkOutboundUrl(raw: string, allowPrivate: boolean, field: string): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badInput('must be a URL', field);
  }
  if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:')) throw badInput('must be an https:// URL', field);
  if (url.username || url.password) throw badInput('must not carry credentials', field);
  if (allowPrivate) return url;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
  } catch {
    throw badInput('its host does not resolve', field);
  }
  if (!addresses.length || !addresses.every(isPublicAddress)) throw badInput('must resolve only to public addresses', field);
  return url;
}
