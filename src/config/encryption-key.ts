import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Config, ConfigError } from './config.ts';
import { KEY_FILE } from './data-dir.ts';

/** The key that seals stored secrets now, and older ones that may still have sealed some. */
export interface EncryptionKeys {
  current: string;
  older: string[];
  /** Where the current key came from: the operator's config, or the key file in the data dir. */
  source: 'config' | 'file';
}

/**
 * The encryption key for secrets stored in the database. The configured `encryptionKey` wins; without
 * one, the key file in the data dir (0600) is used, made with 32 random bytes on first start. A key file
 * left over once a key is configured still opens what it sealed (it joins the older keys), so moving from
 * the file to a configured key is a restart. On a server database every node needs the same key.
 */
export function loadEncryptionKeys(
  config: Pick<Config, 'dataDir' | 'databaseUrl' | 'encryptionKey' | 'oldEncryptionKeys'>,
  warn: (message: string) => void,
): EncryptionKeys {
  const file = join(config.dataDir, KEY_FILE);
  const fromFile = existsSync(file) ? readKeyFile(file) : undefined;
  if (config.encryptionKey)
    return {
      current: config.encryptionKey,
      older: [...config.oldEncryptionKeys, ...(fromFile ? [fromFile] : [])],
      source: 'config',
    };
  if (fromFile) return { current: fromFile, older: config.oldEncryptionKeys, source: 'file' };
  const made = createKeyFile(file);
  if (config.databaseUrl && !config.databaseUrl.startsWith('sqlite:'))
    warn(
      `made a new encryption key in ${file}: every node sharing this database needs the same key (set PLINTH_ENCRYPTION_KEY on each)`,
    );
  return { current: made, older: config.oldEncryptionKeys, source: 'file' };
}

function readKeyFile(file: string): string {
  const key = readFileSync(file, 'utf8').trim();
  if (key.length < 32) throw new ConfigError([`encryption key file ${file} is damaged (too short)`]);
  return key;
}

/**
 * Writes a new key file atomically and exclusively: written whole to a private temporary file, then
 * linked into place, which fails if another process starting at the same time got there first (then its
 * key is the one used).
 */
function createKeyFile(file: string): string {
  const key = randomBytes(32).toString('base64url');
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(temp, `${key}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(temp, 0o600);
  try {
    linkSync(temp, file);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readKeyFile(file);
    // A file system without hard links: an exclusive create still keeps two starters from clashing.
    writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
    return key;
  } finally {
    unlinkSync(temp);
  }
}
