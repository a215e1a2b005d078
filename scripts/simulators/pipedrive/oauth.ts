/**
 * Pipedrive's OAuth2 as the simulator serves it at `POST /oauth/token` (form-encoded, HTTP Basic client
 * authentication): the authorization_code grant (codes issued by `issueCode`, one use each, bound to their
 * redirect_uri) and the refresh_token grant. Refresh tokens do not rotate (the same one comes back, as the
 * reference says); revoked or unknown ones answer `invalid_grant`. Access tokens expire after
 * `accessTokenTtlSeconds`; every answer carries `api_domain`.
 */
import { randomBytes } from 'node:crypto';

export interface PipedriveOAuthOptions {
  clientId: string;
  clientSecret: string;
  /** default 3600 */
  accessTokenTtlSeconds?: number;
  /** the api_domain answered; default the simulator's own URL */
  apiDomain?: string;
  /** the scopes the app's installation granted; default Pipedrive's default grant, DEFAULT_GRANT */
  scopes?: readonly string[];
}

/** What an app gets unless it asks for more: enough to read and write deals, contacts and products, not contact or deal fields. */
export const DEFAULT_GRANT: readonly string[] = ['base', 'deals:full', 'contacts:full', 'products:full'];

export interface OAuthStats {
  /** refresh_token grants answered 200 */
  refreshes: number;
  /** authorization_code grants answered 200 */
  codeExchanges: number;
  invalidGrants: number;
}

export type BearerCheck = { status: 'ok'; scopes: readonly string[] } | { status: 'expired' | 'unknown' };

export class SimOAuth {
  private readonly codes = new Map<string, string>();
  private readonly refreshTokens = new Set<string>();
  private readonly accessTokens = new Map<string, { expiresAt: number; scopes: readonly string[] }>();
  private counts: OAuthStats = { refreshes: 0, codeExchanges: 0, invalidGrants: 0 };
  private readonly issued = new Set<string>();

  constructor(
    private readonly options: PipedriveOAuthOptions,
    private readonly now: () => number,
    private readonly ownUrl: () => string,
  ) {}

  /** A code as Pipedrive's consent screen would hand to the redirect URI. */
  issueCode(redirectUri: string): string {
    const code = randomBytes(12).toString('hex');
    this.codes.set(code, redirectUri);
    return code;
  }

  /** A person revoked the app (or the refresh token ran out): every refresh answers invalid_grant. */
  revokeRefreshTokens(): void {
    this.refreshTokens.clear();
  }

  expireAccessTokens(): void {
    this.accessTokens.clear();
  }

  /** Every access and refresh token handed out, so tests can look for them where they must not be. */
  issuedTokens(): string[] {
    return [...this.issued];
  }

  stats(): OAuthStats {
    return { ...this.counts };
  }

  resetStats(): void {
    this.counts = { refreshes: 0, codeExchanges: 0, invalidGrants: 0 };
  }

  verify(authorization: string | undefined): BearerCheck {
    const token = authorization?.startsWith('Bearer ') ? authorization.slice(7) : undefined;
    const issued = token === undefined ? undefined : this.accessTokens.get(token);
    if (issued === undefined) return { status: 'unknown' };
    return issued.expiresAt > this.now() ? { status: 'ok', scopes: issued.scopes } : { status: 'expired' };
  }

  /** `POST /oauth/token`. */
  token(authorization: string | undefined, rawBody: string): { status: number; body: Record<string, unknown> } {
    const expected = `Basic ${Buffer.from(`${this.options.clientId}:${this.options.clientSecret}`).toString('base64')}`;
    if (authorization !== expected)
      return { status: 401, body: { error: 'invalid_client', error_description: 'Client authentication failed' } };
    const form = new URLSearchParams(rawBody);
    const grant = form.get('grant_type');
    if (grant === 'authorization_code') {
      const code = form.get('code') ?? '';
      const redirect = this.codes.get(code);
      this.codes.delete(code);
      if (redirect === undefined || redirect !== form.get('redirect_uri'))
        return this.invalidGrant('Invalid authorization code or redirect_uri');
      this.counts.codeExchanges++;
      const refresh = randomBytes(24).toString('base64url');
      this.refreshTokens.add(refresh);
      return { status: 200, body: this.issue(refresh) };
    }
    if (grant === 'refresh_token') {
      const refresh = form.get('refresh_token') ?? '';
      if (!this.refreshTokens.has(refresh)) return this.invalidGrant('Invalid refresh token');
      this.counts.refreshes++;
      return { status: 200, body: this.issue(refresh) };
    }
    return { status: 400, body: { error: 'unsupported_grant_type', error_description: `Unsupported grant type: ${grant ?? ''}` } };
  }

  private invalidGrant(description: string): { status: number; body: Record<string, unknown> } {
    this.counts.invalidGrants++;
    return { status: 400, body: { error: 'invalid_grant', error_description: description } };
  }

  private issue(refreshToken: string): Record<string, unknown> {
    const ttl = this.options.accessTokenTtlSeconds ?? 3600;
    const access = `${randomBytes(4).toString('hex')}:${randomBytes(24).toString('base64url')}`;
    const scopes = this.options.scopes ?? DEFAULT_GRANT;
    this.accessTokens.set(access, { expiresAt: this.now() + ttl * 1000, scopes });
    this.issued.add(access).add(refreshToken);
    return {
      access_token: access,
      token_type: 'Bearer',
      refresh_token: refreshToken,
      scope: scopes.join(','),
      expires_in: ttl,
      api_domain: this.options.apiDomain ?? this.ownUrl(),
    };
  }
}
