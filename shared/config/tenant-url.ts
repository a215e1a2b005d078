import ipaddr from 'ipaddr.js';

export const INTERNAL_ADDRESS = 'must not point at a private, loopback or link-local address';

/**
 * Why a connection must not go to this IP address (literal or resolved), or undefined when it may.
 * ipaddr.js classifies the ranges (RFC 6890 and its successors): only global unicast is acceptable,
 * so private, loopback, link-local, CGNAT, benchmarking, multicast, site-local, reserved and every
 * IPv6 form that embeds an IPv4 address (mapped, NAT64, 6to4, Teredo) are refused. Loopback is let
 * through only when the local run allows it.
 */
export function addressProblem(address: string, allowLoopback: boolean): string | undefined {
  const literal = address.replace(/^\[|\]$/gu, '');
  if (!ipaddr.isValid(literal)) return undefined;
  const parsed = ipaddr.parse(literal);
  const range = parsed.range();
  // ipaddr.js calls the rest of IPv6 `unicast` too (e.g. the IPv4-compatible ::/96): only 2000::/3 is global.
  if (parsed.kind() === 'ipv6' && range === 'unicast' && !parsed.match(GLOBAL_IPV6)) return `${literal} is outside global unicast`;
  if (range === 'unicast' || (allowLoopback && range === 'loopback')) return undefined;
  return `${literal} is ${range}`;
}

const GLOBAL_IPV6 = ipaddr.parseCIDR('2000::/3');

/** Names that resolve to loopback wherever they are looked up (a trailing dot names the same host). */
function isLoopbackName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/u, '');
  return h === 'localhost' || h.endsWith('.localhost');
}

/** A hostname that is a loopback name or a loopback literal. */
export function isLoopbackHost(host: string): boolean {
  const literal = host.replace(/^\[|\]$/gu, '');
  return isLoopbackName(host) || (ipaddr.isValid(literal) && ipaddr.parse(literal).range() === 'loopback');
}

function parseUrl(raw: string): URL | string {
  try {
    return new URL(raw);
  } catch {
    return 'is not a URL';
  }
}

/**
 * Why a tenant's base URL is not acceptable, or undefined when it is. https only, no user info, no
 * query or fragment (not even an empty `?` or `#`, which would end up inside every path), no internal
 * IP literals; plain http to loopback only when the local run allows it. A name is checked again where
 * the connection is made (shared/clients/http.ts), against the addresses it resolves to.
 */
export function tenantUrlProblem(raw: string, allowLoopbackHttp: boolean): string | undefined {
  const url = parseUrl(raw);
  if (typeof url === 'string') return url;
  if (url.username || url.password) return 'must not contain user info';
  if (url.search || url.hash || raw.includes('?') || raw.includes('#')) return 'must not contain a query or fragment';
  if (allowLoopbackHttp && isLoopbackHost(url.hostname))
    return url.protocol === 'http:' || url.protocol === 'https:' ? undefined : 'must use http or https';
  if (url.protocol !== 'https:') return 'must use https';
  if (isLoopbackName(url.hostname) || addressProblem(url.hostname, false)) return INTERNAL_ADDRESS;
  return undefined;
}

/**
 * Why the `api_domain` of a Pipedrive token answer is not acceptable: it receives every Bearer token,
 * so it must be an https origin of a Pipedrive company (`https://<company>.pipedrive.com`), with no
 * port, path, query or fragment. The local run's simulator (loopback, when allowed) is the one exception.
 */
export function apiDomainProblem(raw: string, allowLoopbackHttp: boolean): string | undefined {
  const problem = tenantUrlProblem(raw, allowLoopbackHttp);
  if (problem) return problem;
  const url = new URL(raw);
  if (url.pathname !== '/') return 'must be an origin, without a path';
  if (allowLoopbackHttp && isLoopbackHost(url.hostname)) return undefined;
  if (url.port) return 'must not name a port';
  if (!url.hostname.endsWith('.pipedrive.com')) return 'must be a host under pipedrive.com';
  return undefined;
}
