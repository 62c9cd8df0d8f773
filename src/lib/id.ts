import { randomBytes, randomInt } from 'node:crypto';

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A random string over `alphabet`, unbiased (rejection sampling through randomInt). */
export function randomString(length: number, alphabet = ID_ALPHABET): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/** PocketBase-style record id: 15 characters of [a-z0-9]. */
export function newRecordId(): string {
  return randomString(15);
}

/** A URL-safe secret with `bytes` bytes of entropy (tokenKey, installer nonce...). */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** A numeric-suffixed id like PocketBase's `pbc_1234567890` / `text1234567890`. */
export function prefixedNumericId(prefix: string): string {
  return prefix + randomString(10, '0123456789');
}
