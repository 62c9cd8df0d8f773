import { createReadStream } from 'node:fs';
import { stat as statFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { lazyPackage } from '../lib/index.ts';
import { type BlobInfo, type ByteRange, checkKey, type FileStorage } from './storage.ts';

/** PocketBase's `s3` settings (the same keys, so its settings API and dashboard forms carry over). */
export interface S3Options {
  bucket: string;
  region: string;
  endpoint: string;
  accessKey: string;
  secret: string;
  forcePathStyle: boolean;
}

const isNotFound = (err: unknown) => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
};

const s3Client = lazyPackage<typeof import('@aws-sdk/client-s3')>('@aws-sdk/client-s3');

/** The key the readiness check asks about; never written. */
const READINESS_KEY = 'plinth-readiness-probe';

/** Blobs as objects of one S3-compatible bucket, under the same keys as on disk. */
export function createS3Storage(options: S3Options): FileStorage {
  const {
    DeleteObjectCommand,
    DeleteObjectsCommand,
    GetObjectCommand,
    HeadObjectCommand,
    ListObjectsV2Command,
    PutObjectCommand,
    S3Client,
  } = s3Client();
  const client = new S3Client({
    region: options.region || 'us-east-1',
    endpoint: options.endpoint || undefined,
    forcePathStyle: options.forcePathStyle,
    credentials: { accessKeyId: options.accessKey, secretAccessKey: options.secret },
    // Ask only when a request fails for the checksum; some S3-compatible servers reject the new defaults.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
  });
  const Bucket = options.bucket;

  async function stat(key: string): Promise<BlobInfo | undefined> {
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket, Key: checkKey(key) }));
      return {
        size: Number(head.ContentLength ?? 0),
        modified: head.LastModified ?? new Date(0),
        etag: head.ETag ?? `"${Number(head.ContentLength ?? 0).toString(16)}"`,
        contentType: head.ContentType ?? 'application/octet-stream',
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  return {
    // One HEAD of a key that is never written: a 404 means the bucket answers and the credentials work
    // (Plinth needs ListBucket already to remove folders, so a missing key reads as 404, not 403).
    check: () => stat(READINESS_KEY).then(() => undefined),
    async putFile(key, path, contentType) {
      const { size } = await statFile(path);
      await client.send(
        new PutObjectCommand({
          Bucket,
          Key: checkKey(key),
          Body: createReadStream(path),
          ContentLength: size,
          ContentType: contentType,
        }),
      );
    },
    async putBuffer(key, body, contentType) {
      await client.send(
        new PutObjectCommand({ Bucket, Key: checkKey(key), Body: body, ContentType: contentType }),
      );
    },
    stat,
    async read(key: string, range?: ByteRange): Promise<Readable | undefined> {
      try {
        const res = await client.send(
          new GetObjectCommand({
            Bucket,
            Key: checkKey(key),
            Range: range ? `bytes=${range.start}-${range.end}` : undefined,
          }),
        );
        return res.Body as Readable;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async delete(key) {
      await client.send(new DeleteObjectCommand({ Bucket, Key: checkKey(key) }));
    },
    async deletePrefix(prefix) {
      const Prefix = `${checkKey(prefix)}/`;
      let ContinuationToken: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket, Prefix, ContinuationToken }));
        const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key as string }));
        if (keys.length) await client.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys } }));
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken);
    },
    close: async () => client.destroy(),
  };
}
