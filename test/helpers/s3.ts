import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import type { S3Options } from '../../src/storage/index.ts';

export interface TestS3 {
  /** Settings that reach the server (PocketBase's `s3` shape; any key and secret are accepted). */
  options: S3Options;
  stop(): Promise<void>;
}

/**
 * A real S3-compatible HTTP server (s3rver from the npm registry) on a random loopback port, with one
 * empty bucket, keeping its objects in a temporary folder removed by `stop()`.
 */
export async function startS3(bucket = 'plinth-test'): Promise<TestS3> {
  const directory = mkdtempSync(join(tmpdir(), 'plinth-s3-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = (await server.run()) as AddressInfo;
  return {
    options: {
      bucket,
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${port}`,
      accessKey: 'S3RVER',
      secret: 'S3RVER',
      forcePathStyle: true,
    },
    async stop() {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** Every key in the bucket, sorted (what the server stored there). */
export async function listKeys(options: S3Options): Promise<string[]> {
  const client = new S3Client({
    region: options.region,
    endpoint: options.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: options.accessKey, secretAccessKey: options.secret },
  });
  try {
    const keys: string[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: options.bucket, ContinuationToken }));
      for (const o of page.Contents ?? []) keys.push(o.Key as string);
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return keys.sort();
  } finally {
    client.destroy();
  }
}
