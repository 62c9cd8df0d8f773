import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { lazyPackage, stableJson } from '../lib/index.ts';
import { createS3Storage, type FileStorage, type S3Section } from '../storage/index.ts';

const s3Client = lazyPackage<typeof import('@aws-sdk/client-s3')>('@aws-sdk/client-s3');

/** One stored backup, as PocketBase's `GET /api/backups` lists it. */
export interface BackupInfo {
  key: string;
  size: number;
  modified: string;
}

/** Names a stored archive may have: no path, no dot first, `.zip` last. */
export const STORED_KEY = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,145}\.zip$/;

/**
 * Where archives are kept: `DATA/backups/`, or the bucket of the `backups.s3` settings while they are
 * enabled (switched without a restart, like file storage). Archives are always written and read on local
 * disk first: `put` uploads a finished one, `fetch` downloads one for a restore.
 */
export interface BackupStore {
  list(): Promise<BackupInfo[]>;
  size(key: string): Promise<number | undefined>;
  open(key: string): Promise<Readable | undefined>;
  /** Moves a finished local archive into the store under `key`. */
  put(key: string, path: string): Promise<void>;
  /** A local path holding the archive: the stored file itself, or a download into `spool`. */
  fetch(key: string, spool: string): Promise<string>;
  remove(key: string): Promise<boolean>;
  /** True while archives go to S3. */
  remote(): boolean;
}

/** PocketBase's date format: `2024-01-02 03:04:05.678Z`. */
const pbDate = (date: Date) => date.toISOString().replace('T', ' ');

/** The local folder, or the bucket while `backups.s3.enabled`. */
export function createBackupStore(dir: string, s3: () => S3Section): BackupStore {
  let bucket: { key: string; storage: FileStorage; client: S3Client; options: S3Section } | undefined;
  const remote = () => {
    const options = s3();
    if (!options.enabled) return undefined;
    const id = stableJson(options);
    if (bucket?.key !== id) {
      const client = new (s3Client().S3Client)({
        region: options.region || 'us-east-1',
        endpoint: options.endpoint || undefined,
        forcePathStyle: options.forcePathStyle,
        credentials: { accessKeyId: options.accessKey, secretAccessKey: options.secret },
      });
      bucket = { key: id, storage: createS3Storage(options), client, options };
    }
    return bucket;
  };
  const local = (key: string) => (STORED_KEY.test(key) ? join(dir, key) : undefined);
  const localSize = async (key: string) => {
    const path = local(key);
    const info = path ? await stat(path).catch(() => undefined) : undefined;
    return info?.isFile() ? info.size : undefined;
  };
  const store: BackupStore = {
    remote: () => remote() !== undefined,
    async list() {
      const r = remote();
      const out: BackupInfo[] = [];
      if (r) {
        let ContinuationToken: string | undefined;
        do {
          const page = await r.client.send(
            new (s3Client().ListObjectsV2Command)({ Bucket: r.options.bucket, ContinuationToken }),
          );
          for (const o of page.Contents ?? [])
            if (o.Key && STORED_KEY.test(o.Key))
              out.push({
                key: o.Key,
                size: Number(o.Size ?? 0),
                modified: pbDate(o.LastModified ?? new Date(0)),
              });
          ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (ContinuationToken);
        return out.sort((a, b) => (a.key < b.key ? -1 : 1));
      }
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const key of names.filter((n) => STORED_KEY.test(n)).sort()) {
        const info = await stat(join(dir, key)).catch(() => undefined);
        if (info?.isFile()) out.push({ key, size: info.size, modified: pbDate(info.mtime) });
      }
      return out;
    },
    async size(key) {
      if (!STORED_KEY.test(key)) return undefined;
      const r = remote();
      return r ? (await r.storage.stat(key))?.size : localSize(key);
    },
    async open(key) {
      if (!STORED_KEY.test(key)) return undefined;
      const r = remote();
      if (r) return r.storage.read(key);
      return (await localSize(key)) === undefined ? undefined : createReadStream(local(key) as string);
    },
    async put(key, path) {
      const r = remote();
      if (!r) return; // written in place already
      await r.storage.putFile(key, path, 'application/zip');
      await rm(path, { force: true });
    },
    async fetch(key, spool) {
      const r = remote();
      if (!r) return local(key) as string;
      const body = await r.storage.read(key);
      if (!body) throw new Error(`backup ${key} vanished from the bucket`);
      await mkdir(spool, { recursive: true, mode: 0o700 });
      const path = join(spool, key);
      await pipeline(body, createWriteStream(path, { mode: 0o600 }));
      return path;
    },
    async remove(key) {
      if ((await store.size(key)) === undefined) return false;
      const r = remote();
      if (r) await r.storage.delete(key);
      else await rm(local(key) as string, { force: true });
      return true;
    },
  };
  return store;
}
