import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
