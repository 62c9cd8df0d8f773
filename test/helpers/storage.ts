import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { listKeys, startS3, type TestS3 } from './s3.ts';
import { startServer, type TestServer } from './server.ts';

/** Every key stored in a server's local storage (`<dataDir>/storage`, its temporary folder aside), sorted. */
export function localKeys(dataDir: string): string[] {
  const keys: string[] = [];
  const walk = (dir: string, prefix: string) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === '.tmp') continue;
      if (entry.isDirectory()) walk(join(dir, entry.name), `${prefix}${entry.name}/`);
      else keys.push(prefix + entry.name);
    }
  };
  walk(join(dataDir, 'storage'), '');
  return keys.sort();
}

/** Where a file suite's server stores files: the data dir, or a real S3-compatible server (s3rver). */
export const STORAGES = ['local', 's3'] as const;
export type StorageKind = (typeof STORAGES)[number];

const s3Of = new WeakMap<TestServer, TestS3>();

/** Points a running server's file storage at a new s3rver bucket, through the settings as a user would. */
export async function useS3(server: TestServer): Promise<TestS3> {
  const s3 = await startS3();
  s3Of.set(server, s3);
  const res = await server.request('PATCH', '/api/settings', {
    token: server.adminToken,
    body: { s3: { enabled: true, ...s3.options } },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return s3;
}

/** Points a server's file storage back at its data dir, and stops the bucket {@link useS3} started. */
export async function useLocalStorage(server: TestServer): Promise<void> {
  const res = await server.request('PATCH', '/api/settings', {
    token: server.adminToken,
    body: { s3: { enabled: false } },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  await s3Of.get(server)?.stop();
  s3Of.delete(server);
}

/** Starts a server storing files on `kind`. */
export async function startServerOn(kind: StorageKind): Promise<TestServer> {
  const server = await startServer();
  if (kind === 's3') await useS3(server);
  return server;
}

/** Closes a server from {@link startServerOn}, and its S3 server if it has one. */
export async function stopServer(server: TestServer): Promise<void> {
  await server.close();
  await s3Of.get(server)?.stop();
}

/** Every stored key, wherever the server stores files (what {@link useS3} set, or its data dir). */
export async function storedKeys(server: TestServer): Promise<string[]> {
  const s3 = s3Of.get(server);
  return s3 ? listKeys(s3.options) : localKeys(server.dataDir);
}
