import { randomBytes, randomInt } from 'node:crypto';
import { crc32 } from 'node:zlib';

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/**
 * Random bytes drawn 4 KiB at a time and handed out in order: one `randomBytes` call per id was 4% of a
 * create's CPU under load (a profile of the durable create bench). Each byte is used once.
 */
let pool = Buffer.alloc(0);
let used = 0;
function randomByte(): number {
  if (used === pool.length) {
    pool = randomBytes(4096);
    used = 0;
  }
  return pool[used++] as number;
}

/**
 * A random string over `alphabet`, unbiased: a byte at or past the largest multiple of the alphabet's
 * length is thrown away (rejection sampling), so every character is equally likely.
 */
export function randomString(length: number, alphabet = ID_ALPHABET): string {
  const n = alphabet.length;
  if (n > 256) {
    let slow = '';
    for (let i = 0; i < length; i++) slow += alphabet[randomInt(n)];
    return slow;
  }
  const limit = 256 - (256 % n);
  let out = '';
  while (out.length < length) {
    const byte = randomByte();
    if (byte < limit) out += alphabet[byte % n];
  }
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

/**
 * PocketBase's deterministic ids: `prefix` + the CRC-32 (IEEE) of `text` in decimal, e.g. a text field named
 * `title` is `text` + crc32("title"), a base collection `posts` is `pbc_` + crc32("baseposts"). The same
 * definition gets the same id on every server, so schemas exported from one match fields on another.
 */
export function checksumId(prefix: string, text: string): string {
  return prefix + crc32(text);
}
