import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/** Every sealed value starts with this: a stored value says whether it is sealed, and with which format. */
const PREFIX = 'plinthenc:v1:';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Seals secrets that are stored in the database (SMTP password, OAuth2 client secrets, signing keys) with
 * a key kept outside it, and keys HMACs of one-time codes with it: a copy of the database alone reveals
 * none of them. AES-256-GCM with a random nonce per value; the value names the key that sealed it, so
 * values sealed with an older key still open (given that key) and can be re-sealed with the current one.
 */
export interface SecretBox {
  /** `plinthenc:v1:<keyId>:<nonce|ciphertext|tag, base64url>`; `context` is bound in as associated data. */
  seal(plaintext: string, context: string): string;
  /** The plaintext of a sealed value; a value that is not sealed (stored before encryption) as it is. */
  open(value: string, context: string): string;
  /** Whether a stored value was sealed with the current key (else it should be re-sealed). */
  isCurrent(value: string): boolean;
  /** HMAC-SHA256 (hex) under a key derived for `purpose`: a one-time code's stored form. */
  mac(purpose: string, data: string): string;
  /** The current key's id (a fingerprint, not the key). */
  readonly keyId: string;
}

/** Thrown when a sealed value cannot be opened: sealed with a key Plinth was not given, or altered. */
export class SecretBoxError extends Error {}

interface Key {
  id: string;
  aes: Buffer;
  macRoot: Buffer;
}

function deriveKey(secret: string): Key {
  const ikm = Buffer.from(secret, 'utf8');
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', ikm, 'plinth', info, 32));
  const aes = derive('plinth secret box v1');
  const id = createHash('sha256').update(aes).digest('hex').slice(0, 8);
  return { id, aes, macRoot: derive('plinth mac v1') };
}

/**
 * A secret box over the current key and any older keys still needed to open values sealed before a
 * rotation. Keys are strings of at least 32 characters (a random one per install, or the operator's).
 */
export function createSecretBox(current: string, older: string[] = []): SecretBox {
  const key = deriveKey(current);
  const keys = new Map<string, Key>([[key.id, key]]);
  for (const secret of older) {
    const k = deriveKey(secret);
    if (!keys.has(k.id)) keys.set(k.id, k);
  }
  return {
    keyId: key.id,
    seal(plaintext, context) {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key.aes, nonce);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const packed = Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url');
      return `${PREFIX}${key.id}:${packed}`;
    },
    open(value, context) {
      if (!value.startsWith(PREFIX)) return value;
      const [id = '', packed = ''] = value.slice(PREFIX.length).split(':');
      const k = keys.get(id);
      if (!k)
        throw new SecretBoxError(
          `a stored secret (${context}) was encrypted with key ${id}, which is not configured: set the encryption key it was made with (see docs/security.md)`,
        );
      const raw = Buffer.from(packed, 'base64url');
      try {
        const decipher = createDecipheriv('aes-256-gcm', k.aes, raw.subarray(0, NONCE_BYTES));
        decipher.setAAD(Buffer.from(context, 'utf8'));
        decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
        const body = raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES);
        return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
      } catch {
        throw new SecretBoxError(`a stored secret (${context}) could not be decrypted: it was altered`);
      }
    },
    isCurrent: (value) => value.startsWith(`${PREFIX}${key.id}:`),
    mac(purpose, data) {
      const subkey = createHmac('sha256', key.macRoot).update(purpose).digest();
      return createHmac('sha256', subkey).update(data).digest('hex');
    },
  };
}
