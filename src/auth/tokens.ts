import { createHash } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { type SigningKeys, TOKEN_ALG } from './keys.ts';

export type TokenType = 'auth' | 'installer';

export interface TokenClaims {
  id: string;
  type: TokenType;
  collectionId: string;
  refreshable: boolean;
  /** Fingerprint of the record's tokenKey: a new tokenKey (password change) retires old tokens. */
  tk?: string;
}

export const tokenKeyFingerprint = (tokenKey: string) =>
  createHash('sha256').update(tokenKey).digest('base64url').slice(0, 16);

export async function signToken(
  keys: SigningKeys,
  claims: TokenClaims,
  durationSeconds: number,
): Promise<string> {
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: TOKEN_ALG, kid: keys.kid, typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + Math.max(1, Math.floor(durationSeconds)))
    .sign(keys.privateKey);
}

/**
 * Verifies signature, algorithm (pinned: no `none`, no HMAC confusion), expiry and shape. Returns the
 * claims, or undefined for any token that is not ours and valid.
 */
export async function verifyToken(
  keys: SigningKeys,
  token: string,
  type: TokenType,
): Promise<TokenClaims | undefined> {
  if (token.length > 4096) return undefined;
  try {
    const header = decodeProtectedHeader(token);
    if (header.alg !== TOKEN_ALG || header.kid !== keys.kid || header.jwk || header.jku) return undefined;
    const { payload } = await jwtVerify(token, keys.publicKey, {
      algorithms: [TOKEN_ALG],
      requiredClaims: ['exp'],
    });
    if (payload.type !== type || typeof payload.id !== 'string' || typeof payload.collectionId !== 'string')
      return undefined;
    return payload as unknown as TokenClaims;
  } catch {
    return undefined;
  }
}
