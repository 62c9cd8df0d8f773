import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
} from 'jose';
import type { Database } from '../db/index.ts';
import type { SecretBox } from '../lib/index.ts';
import { insertParam, readParam, readParamText, swapParam, writeParam } from '../schema/index.ts';

export type KeyAlg = 'EdDSA' | 'ES256';
export const KEY_ALGS: readonly KeyAlg[] = ['EdDSA', 'ES256'];

/** A key as stored: the private JWK, when it began signing, and when a newer key replaced it. */
interface StoredKey {
  jwk: JWK;
  created: number;
  retired?: number;
}

export interface VerifyKey {
  kid: string;
  alg: KeyAlg;
  publicKey: CryptoKey;
}

export interface SigningKey extends VerifyKey {
  privateKey: CryptoKey;
}

/**
 * The signing keys. One signs; keys it replaced still verify (and stay in the JWKS) until every token
 * they signed has expired. Kept in `_params`, so every node of a cluster signs and verifies alike.
 */
export interface KeyRing {
  active(): SigningKey;
  /** The key a token names by `kid`; an unknown kid re-reads the ring once in a while (another node rotated). */
  find(kid: string): Promise<VerifyKey | undefined>;
  jwks(): { keys: JWK[] };
  /** Makes a new key the signer; the old one retires and is kept for `retainSeconds`. */
  rotate(alg: KeyAlg, retainSeconds: number): Promise<SigningKey>;
  reload(): Promise<void>;
}

const PARAM_ID = 'signingKeys';
const KEY_CONTEXT = 'signingKey';
/** How often an unknown `kid` may trigger a re-read (a forged kid must not become a database flood). */
const RELOAD_INTERVAL_MS = 5_000;

async function newKey(alg: KeyAlg): Promise<StoredKey> {
  const pair =
    alg === 'EdDSA'
      ? await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true })
      : await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(pair.privateKey);
  jwk.kid = await calculateJwkThumbprint(jwk);
  jwk.alg = alg;
  return { jwk, created: Date.now() };
}

async function toSigning(stored: StoredKey): Promise<SigningKey> {
  const alg = stored.jwk.alg as KeyAlg;
  const { d: _secret, ...publicJwk } = stored.jwk;
  return {
    kid: stored.jwk.kid!,
    alg,
    privateKey: (await importJWK(stored.jwk, alg)) as CryptoKey,
    publicKey: (await importJWK(publicJwk, alg)) as CryptoKey,
  };
}

function publicJwkOf(stored: StoredKey): JWK {
  const { d: _secret, ...publicJwk } = stored.jwk;
  return { ...publicJwk, use: 'sig' };
}

/** Each private key's secret part (`d`), sealed or opened; the rest of the JWK is public anyway. */
function mapPrivate(keys: StoredKey[], fn: (d: string) => string): StoredKey[] {
  return keys.map((k) => (typeof k.jwk.d === 'string' ? { ...k, jwk: { ...k.jwk, d: fn(k.jwk.d) } } : k));
}

/**
 * Private keys are stored encrypted with the key kept outside the database (a copy of the database alone
 * cannot sign tokens); keys stored in plaintext before that, or under an older key, are re-sealed at start,
 * only if the row is unchanged since it was read.
 */
async function resealKeys(db: Database, secrets: SecretBox): Promise<void> {
  const text = await readParamText(db, PARAM_ID);
  if (text === undefined) return;
  const { keys } = JSON.parse(text) as { keys: StoredKey[] };
  if (!keys.some((k) => typeof k.jwk.d === 'string' && !secrets.isCurrent(k.jwk.d))) return;
  const plain = mapPrivate(keys, (d) => secrets.open(d, KEY_CONTEXT));
  await swapParam(db, PARAM_ID, text, { keys: mapPrivate(plain, (d) => secrets.seal(d, KEY_CONTEXT)) });
}

/**
 * Loads the key ring, creating the first key on a new install. A key file from before keys moved into
 * the database (`jwt_keys.json` in the data dir) is adopted, so tokens issued earlier stay valid.
 */
export async function loadKeyRing(db: Database, dataDir: string, secrets?: SecretBox): Promise<KeyRing> {
  let stored: StoredKey[] = [];
  let loaded = new Map<string, SigningKey>();
  let lastReload = 0;

  async function adopt(keys: StoredKey[]) {
    const next = new Map<string, SigningKey>();
    for (const k of keys) next.set(k.jwk.kid!, loaded.get(k.jwk.kid!) ?? (await toSigning(k)));
    stored = keys;
    loaded = next;
  }

  async function read(): Promise<StoredKey[] | undefined> {
    const keys = (await readParam<{ keys: StoredKey[] }>(db, PARAM_ID))?.keys;
    return keys && secrets ? mapPrivate(keys, (d) => secrets.open(d, KEY_CONTEXT)) : keys;
  }
  const write = (keys: StoredKey[]) =>
    writeParam(db, PARAM_ID, {
      keys: secrets ? mapPrivate(keys, (d) => secrets.seal(d, KEY_CONTEXT)) : keys,
    });

  if (secrets) await resealKeys(db, secrets);

  let keys = await read();
  if (!keys?.length) {
    const legacy = join(dataDir, 'jwt_keys.json');
    keys = existsSync(legacy)
      ? (JSON.parse(readFileSync(legacy, 'utf8')) as { keys: JWK[] }).keys.map((jwk) => ({
          jwk,
          created: Date.now(),
        }))
      : [await newKey('EdDSA')];
    // Two nodes starting on a new database at once: one stores its key, and both use the one stored.
    await insertParam(db, PARAM_ID, {
      keys: secrets ? mapPrivate(keys, (d) => secrets.seal(d, KEY_CONTEXT)) : keys,
    });
    keys = (await read()) ?? keys;
  }
  await adopt(keys);

  const ring: KeyRing = {
    active: () => loaded.get(stored[0]!.jwk.kid!)!,
    async find(kid) {
      const hit = loaded.get(kid);
      if (hit || Date.now() - lastReload < RELOAD_INTERVAL_MS) return hit;
      await ring.reload();
      return loaded.get(kid);
    },
    jwks: () => ({ keys: stored.map(publicJwkOf) }),
    async rotate(alg, retainSeconds) {
      const now = Date.now();
      const current = (await read()) ?? stored;
      const kept = current
        .map((k, i) => (i === 0 ? { ...k, retired: now } : k))
        .filter((k) => k.retired === undefined || k.retired + retainSeconds * 1000 > now);
      const next = [await newKey(alg), ...kept];
      await write(next);
      await adopt(next);
      return ring.active();
    },
    async reload() {
      lastReload = Date.now();
      const keys = await read();
      if (keys?.length) await adopt(keys);
    },
  };
  return ring;
}
