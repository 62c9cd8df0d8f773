import { stableJson } from '../lib/index.ts';
import { createS3Storage, type S3Options } from './s3.ts';
import type { FileStorage } from './storage.ts';

/** PocketBase's `s3` settings section: S3 is used while `enabled`. */
export type S3Section = S3Options & { enabled: boolean };

/**
 * Storage that follows the settings: the data dir while `s3.enabled` is off, the configured bucket while it
 * is on, switched at the next call after a change (no restart). Files already stored are not moved: like
 * PocketBase, switching storage is configuration only, so move existing files yourself when you switch.
 */
export function createSwitchingStorage(local: FileStorage, s3: () => S3Section): FileStorage {
  let current: { key: string; storage: FileStorage } | undefined;
  const pick = (): FileStorage => {
    const config = s3();
    if (!config.enabled) return local;
    const key = stableJson(config);
    if (current?.key !== key) {
      const old = current?.storage;
      current = { key, storage: createS3Storage(config) };
      // Requests still running on the old client finish first; destroying it only stops its keep-alive sockets.
      if (old) setTimeout(() => void old.close(), 60_000).unref();
    }
    return current.storage;
  };
  return {
    putFile: (key, path, type) => pick().putFile(key, path, type),
    putBuffer: (key, body, type) => pick().putBuffer(key, body, type),
    stat: (key) => pick().stat(key),
    read: (key, range) => pick().read(key, range),
    delete: (key) => pick().delete(key),
    deletePrefix: (prefix) => pick().deletePrefix(prefix),
    check: () => pick().check(),
    async close() {
      await Promise.all([local.close(), current?.storage.close()]);
    },
  };
}
