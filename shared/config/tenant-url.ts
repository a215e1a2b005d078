import { isIP } from 'node:net';

/** Is this literal IP address private, loopback or link-local (where a tenant URL must never point)? */
function isInternalAddress(host: string): boolean {
  const h = host.replace(/^\[|\]$/gu, '').toLowerCase();
  if (isIP(h) === 4) {
    const [a = 0, b = 0] = h.split('.').map(Number);
    return (
      a === 10 ||
      a === 127 ||
      a === 0 ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  if (isIP(h) === 6)
    return h === '::1' || h === '::' || h.startsWith('fe80:') || h.startsWith('fc') || h.startsWith('fd') || h.startsWith('::ffff:');
  return false;
}

function isLoopback(host: string): boolean {
  // A trailing dot names the same host; anything under .localhost resolves to loopback too.
  const h = host
    .replace(/^\[|\]$/gu, '')
    .toLowerCase()
    .replace(/\.$/u, '');
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\./u.test(h);
}

/**
 * Why a tenant's base URL is not acceptable, or undefined when it is. https only, no user info,
 * no internal IP literals; plain http to loopback only when the local run allows it.
 */
export function tenantUrlProblem(raw: string, allowLoopbackHttp: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a URL';
  }
  if (url.username || url.password) return 'must not contain user info';
  if (url.search || url.hash) return 'must not contain a query or fragment';
  if (allowLoopbackHttp && isLoopback(url.hostname))
    return url.protocol === 'http:' || url.protocol === 'https:' ? undefined : 'must use http or https';
  if (url.protocol !== 'https:') return 'must use https';
  if (isLoopback(url.hostname) || isInternalAddress(url.hostname)) return 'must not point at a private, loopback or link-local address';
  return undefined;
}
