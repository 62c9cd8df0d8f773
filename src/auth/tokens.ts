import { createHash } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import type { KeyRing } from './keys.ts';

/** Every kind of token Plinth signs; each is checked for its own type and audience. */
export type TokenType = 'auth' | 'installer' | 'verification' | 'passwordReset' | 'emailChange' | 'file';

export interface TokenClaims {
  id: string;
  type: TokenType;
  collectionId: string;
  refreshable: boolean;
  /** The server-side session an auth token belongs to. */
  sid?: string;
  /** Fingerprint of the record's tokenKey: one-time tokens die when the password (hence tokenKey) changes. */
  tk?: string;
  /** The address a verification or email-change token was issued for. */
  email?: string;
  newEmail?: string;
  /** Expiry, in seconds since the epoch (set by signToken, required by verifyToken). */
  exp?: number;
}

/** The `aud` of each token type: a token of one kind is never accepted as another. */
export const audienceOf = (type: TokenType) => `plinth:${type}`;

/**
 * `tk`: one-time tokens die when the record's tokenKey (a new password) or the collection's secret for
 * their kind (the dashboard's "invalidate all previously issued tokens") changes. No secret: the tokenKey
 * alone, as before secrets were read.
 */
export const tokenKeyFingerprint = (tokenKey: string, secret = '') =>
  createHash('sha256')
    .update(secret ? `${tokenKey}\0${secret}` : tokenKey)
    .digest('base64url')
    .slice(0, 16);

export async function signToken(keys: KeyRing, claims: TokenClaims, expiresAt: number): Promise<string> {
  const key = keys.active();
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuedAt()
    .setAudience(audienceOf(claims.type))
    .setExpirationTime(Math.floor(expiresAt / 1000))
    .sign(key.privateKey);
}

/** Seconds from now as an epoch-ms deadline, for `signToken`. */
export const inSeconds = (seconds: number) => Date.now() + Math.max(1, Math.floor(seconds)) * 1000;

/** Optional claims that, when present, must be strings. */
const STRING_CLAIMS = ['sid', 'email', 'newEmail', 'tk'] as const;

/**
 * Verifies signature, algorithm (pinned to the key the `kid` names: no `none`, no HMAC or cross-key
 * confusion, no keys embedded in the header), expiry, audience and shape. Returns the claims, or
 * undefined for any token that is not ours, valid, and of this type.
 */
export async function verifyToken(
  keys: KeyRing,
  token: string,
  type: TokenType,
): Promise<TokenClaims | undefined> {
  if (token.length > 4096) return undefined;
  try {
    const header = decodeProtectedHeader(token);
    if (typeof header.kid !== 'string' || header.jwk || header.jku || header.x5u || header.x5c || header.crit)
      return undefined;
    const key = await keys.find(header.kid);
    if (!key || header.alg !== key.alg) return undefined;
    const { payload } = await jwtVerify(token, key.publicKey, {
      algorithms: [key.alg],
      audience: audienceOf(type),
      requiredClaims: ['exp'],
    });
    if (payload.type !== type || typeof payload.id !== 'string' || typeof payload.collectionId !== 'string')
      return undefined;
    // A non-string claim would reach SQL as a number or boolean, and MySQL compares `id = true` as
    // `id = 1`, matching any session id that starts with "1".
    for (const name of STRING_CLAIMS)
      if (payload[name] !== undefined && typeof payload[name] !== 'string') return undefined;
    return payload as unknown as TokenClaims;
  } catch {
    return undefined;
  }
}
