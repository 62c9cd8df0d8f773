import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
} from 'jose';

export const TOKEN_ALG = 'EdDSA';

/** The signing key and its public half; tokens carry `kid` so keys can rotate (auth issue). */
export interface SigningKeys {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

/**
 * Loads the Ed25519 signing key from the data dir, creating it on first start. The file is readable by
 * the owner only: whoever has it can mint tokens.
 */
export async function loadSigningKeys(dataDir: string): Promise<SigningKeys> {
  const file = join(dataDir, 'jwt_keys.json');
  let privateJwk: JWK;
  if (existsSync(file)) {
    privateJwk = (JSON.parse(readFileSync(file, 'utf8')) as { keys: JWK[] }).keys[0]!;
  } else {
    const pair = await generateKeyPair(TOKEN_ALG, { crv: 'Ed25519', extractable: true });
    privateJwk = await exportJWK(pair.privateKey);
    privateJwk.kid = await calculateJwkThumbprint(privateJwk);
    privateJwk.alg = TOKEN_ALG;
    writeFileSync(file, JSON.stringify({ keys: [privateJwk] }), { mode: 0o600 });
  }
  const { d: _secret, ...publicJwk } = privateJwk;
  return {
    kid: privateJwk.kid!,
    privateKey: (await importJWK(privateJwk, TOKEN_ALG)) as CryptoKey,
    publicKey: (await importJWK(publicJwk, TOKEN_ALG)) as CryptoKey,
    publicJwk: { ...publicJwk, use: 'sig' },
  };
}
