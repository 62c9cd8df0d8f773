import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { applyPendingServerRestore } from '../src/backups/index.ts';
import { scratchDatabases } from './helpers/databases.ts';
import { listKeys, startS3, type TestS3 } from './helpers/s3.ts';
import { startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';

// `backups.s3`: while enabled, archives are kept in that bucket (a real S3-compatible server, s3rver):
// listed, downloaded, restored from and deleted there, nothing left in DATA/backups.

describe(`backups kept on S3 on ${TEST_ENGINE}`, () => {
  let srv: TestServer;
  let s3: TestS3;
  before(async () => {
    srv = await startServer();
    s3 = await startS3('plinth-backups');
    const res = await srv.request('PATCH', '/api/settings', {
      token: srv.adminToken,
      body: { backups: { s3: { enabled: true, ...s3.options } } },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });
  after(async () => {
    await srv?.close();
    await s3?.stop();
  });
  const su = (method: string, path: string, body?: unknown) =>
    srv.request(method, path, { token: srv.adminToken, body });

  it('creates into the bucket, lists, downloads, restores from it and deletes', async () => {
    assert.equal((await su('POST', '/api/backups', { name: 'remote.zip' })).status, 204);
    assert.deepEqual(await listKeys(s3.options), ['remote.zip']);
    const local = join(srv.dataDir, 'backups');
    assert.deepEqual(existsSync(local) ? readdirSync(local) : [], []);
    const list = (await su('GET', '/api/backups')).body;
    assert.equal(list.length, 1);
    assert.equal(list[0].key, 'remote.zip');

    const { token } = (await su('POST', '/api/files/token')).body;
    const download = await fetch(`${srv.url}/api/backups/remote.zip?token=${token}`);
    assert.equal(download.status, 200);
    const bytes = Buffer.from(await download.arrayBuffer());
    assert.equal(bytes.length, list[0].size);
    assert.equal(bytes.subarray(0, 2).toString(), 'PK');

    // The archive fetched from the bucket is verified and staged (204): nothing is left in the data dir but
    // the staging, thrown away here as a start would throw away one without its marker.
    const restore = await su('POST', '/api/backups/remote.zip/restore');
    assert.equal(restore.status, 204, JSON.stringify(restore.body));
    assert.equal(existsSync(join(srv.dataDir, '.restore-download')), false);
    rmSync(join(srv.dataDir, '.restore', 'ready'));
    if (TEST_ENGINE !== 'sqlite')
      await applyPendingServerRestore(srv.app.config.databaseUrl ?? '', srv.dataDir);
    assert.deepEqual(await scratchDatabases(srv.app.config.databaseUrl), []);

    assert.equal((await su('DELETE', '/api/backups/remote.zip')).status, 204);
    assert.deepEqual(await listKeys(s3.options), []);
  });
});
