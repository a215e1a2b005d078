/**
 * OAuth sessions of one simulated tenant: `POST {base}/oauth/token` (password and refresh_token grants)
 * and bearer-token verification. Tokens live in a per-tenant table, so a token issued by one
 * tenant is unknown to every other.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { oauthError, type RouteResult } from './http.ts';

export interface TokenResponse {
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

export type TokenCheck = { ok: true; sub: string } | { ok: false; reason: 'unknown' | 'expired' };

interface AccessEntry {
  sub: string;
  expiresAtMs: number;
}

interface RefreshEntry {
  sub: string;
  expiresAtMs: number;
}

export interface SessionConfig {
  issuer: string; // tenant base URL path, used as `iss`
  clientId: string;
  username: string;
  password: string;
  ttlSeconds: number;
  now: () => number;
  signingKey: Buffer;
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

export class SessionStore {
  private readonly access = new Map<string, AccessEntry>();
  private readonly refresh = new Map<string, RefreshEntry>();

  constructor(private readonly cfg: SessionConfig) {}

  /** Handles the form body of `POST /oauth/token`. */
  token(form: URLSearchParams): RouteResult {
    const grant = form.get('grant_type');
    if (grant === null || grant === '') throw oauthError(400, 'invalid_request', 'grant_type is required');
    if (grant === 'password') {
      const ok =
        form.get('client_id') === this.cfg.clientId &&
        form.get('username') === this.cfg.username &&
        form.get('password') === this.cfg.password;
      if (!ok) throw oauthError(401, 'invalid_grant', 'Bad credentials or unknown client');
      return { status: 200, body: this.issue(this.cfg.username) };
    }
    if (grant === 'refresh_token') {
      const rt = form.get('refresh_token') ?? '';
      const entry = this.refresh.get(rt);
      if (form.get('client_id') !== this.cfg.clientId || entry === undefined || entry.expiresAtMs <= this.cfg.now()) {
        throw oauthError(401, 'invalid_grant', 'Invalid refresh token');
      }
      this.refresh.delete(rt); // refresh tokens rotate
      return { status: 200, body: this.issue(entry.sub) };
    }
    throw oauthError(400, 'unsupported_grant_type', `Unsupported grant type: ${grant}`);
  }

  verify(accessToken: string): TokenCheck {
    const entry = this.access.get(accessToken);
    if (entry === undefined) return { ok: false, reason: 'unknown' };
    if (entry.expiresAtMs <= this.cfg.now()) return { ok: false, reason: 'expired' };
    return { ok: true, sub: entry.sub };
  }

  /** Invalidates every access token issued so far (refresh tokens stay valid). */
  expireAll(): void {
    this.access.clear();
  }

  private issue(sub: string): TokenResponse {
    const nowMs = this.cfg.now();
    const ttl = this.cfg.ttlSeconds;
    const iat = Math.floor(nowMs / 1000);
    const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const payload = b64url(
      JSON.stringify({
        sub,
        iss: this.cfg.issuer,
        client_id: this.cfg.clientId,
        iat,
        exp: iat + ttl,
        jti: randomBytes(8).toString('hex'),
      }),
    );
    const sig = createHmac('sha256', this.cfg.signingKey).update(`${header}.${payload}`).digest('base64url');
    const accessToken = `${header}.${payload}.${sig}`;
    const refreshToken = randomBytes(24).toString('base64url');
    this.access.set(accessToken, { sub, expiresAtMs: nowMs + ttl * 1000 });
    this.refresh.set(refreshToken, { sub, expiresAtMs: nowMs + ttl * 8 * 1000 });
    return { access_token: accessToken, refresh_token: refreshToken, token_type: 'Bearer', expires_in: ttl };
  }
}
