import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { applyPendingServerRestore } from '../src/backups/index.ts';
import { DATABASE_ENTRY } from '../src/backups/manifest.ts';
import { manifestFor, writeZip } from './helpers/backup-archives.ts';
import { scratchDatabases } from './helpers/databases.ts';
import { signedInUser, startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';

// PocketBase's backup routes (apis/backup*.go): list, create, upload, download with a superuser file token,
// delete, restore. Restores that succeed run in a real `plinth serve` (backups-restore.test.ts): here, the
// ones refused, on every engine.

// biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON, checked field by field.
type Json = any;
const serverEngine = TEST_ENGINE !== 'sqlite';

describe(`backup routes on ${TEST_ENGINE}`, () => {
  let srv: TestServer;
  let userToken = '';
  const su = (method: string, path: string, body?: unknown) =>
    srv.request(method, path, { token: srv.adminToken, body });

  before(async () => {
    srv = await startServer();
    await srv.admin.collections.create({
      name: 'notes',
      type: 'base',
      listRule: '',
      viewRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'doc', type: 'file', maxSelect: 1 },
      ],
    });
    userToken = await signedInUser(srv, 'backup-user@example.com');
  });
  after(() => srv?.close());

  it('is for superusers only: 401 for guests, 403 for users', async () => {
    for (const [method, path] of [
      ['GET', '/api/backups'],
      ['POST', '/api/backups'],
      ['POST', '/api/backups/upload'],
      ['DELETE', '/api/backups/x.zip'],
      ['POST', '/api/backups/x.zip/restore'],
    ] as const) {
      assert.equal((await srv.request(method, path)).status, 401, `${method} ${path}`);
      assert.equal((await srv.request(method, path, { token: userToken })).status, 403, `${method} ${path}`);
    }
    // The download takes a file token in the query, never the header: 403 without one.
    assert.equal((await srv.request('GET', '/api/backups/x.zip', { token: srv.adminToken })).status, 403);
  });

  it('refuses names outside ^[a-z0-9_-]+\\.zip$ with a field error', async () => {
    for (const name of ['../x.zip', 'A.zip', 'x.tar', 'a/b.zip', 7]) {
      const res = await su('POST', '/api/backups', { name });
      assert.equal(res.status, 400, String(name));
      assert.equal(res.body.data.name.code, 'validation_match_invalid');
    }
  });

  it('refuses to restore a damaged or foreign archive with a 400 and keeps the live data in use', async () => {
    await srv.admin.collection('notes').create({ title: 'kept through refused restores' });
    const count = async () => (await srv.admin.collection('notes').getList(1, 1)).totalItems;
    const before = await count();
    assert.equal((await su('POST', '/api/backups', { name: 'real.zip' })).status, 204);
    const stored = (name: string) => join(srv.dataDir, 'backups', name);
    const damaged = Buffer.from(readFileSync(stored('real.zip')));
    for (let i = 200; i < 400; i++) damaged[i] = 0xff - damaged[i]!;
    writeFileSync(stored('damaged.zip'), damaged);
    const other = serverEngine ? 'sqlite' : 'postgres';
    const foreign = [{ name: DATABASE_ENTRY[other], body: Buffer.from('not a database') }];
    await writeZip(stored('foreign.zip'), [...foreign, manifestFor(foreign, { engine: other })]);
    const unloadable = [{ name: DATABASE_ENTRY[TEST_ENGINE], body: Buffer.from('this is not a dump;\n') }];
    await writeZip(stored('unloadable.zip'), [
      ...unloadable,
      manifestFor(unloadable, { engine: TEST_ENGINE }),
    ]);
    const pocketbase = [{ name: 'data.db', body: Buffer.from('SQLite format 3\u0000') }];
    await writeZip(stored('pocketbase.zip'), pocketbase);
    for (const [key, message] of [
      ['damaged.zip', /damaged|checksum/],
      ['foreign.zip', new RegExp(`made on ${other}`)],
      ['unloadable.zip', serverEngine ? /does not load/ : /cannot be read/],
      ['pocketbase.zip', /not a Plinth backup/],
    ] as const) {
      const res = await su('POST', `/api/backups/${key}/restore`);
      assert.equal(res.status, 400, `${key}: ${JSON.stringify(res.body)}`);
      assert.deepEqual(Object.keys(res.body).sort(), ['data', 'message', 'status'], key);
      assert.match(res.body.message, message, key);
      assert.equal(existsSync(join(srv.dataDir, '.restore')), false, `${key}: staging left behind`);
    }
    assert.equal(await count(), before);
    // Nothing left on the database server either: every scratch database of a refused restore is dropped.
    assert.deepEqual(await scratchDatabases(srv.app.config.databaseUrl), []);
    for (const key of ['real.zip', 'damaged.zip', 'foreign.zip', 'unloadable.zip', 'pocketbase.zip'])
      assert.equal((await su('DELETE', `/api/backups/${key}`)).status, 204, key);
  });

  it('creates, lists, downloads with a file token, refuses a taken name, and deletes', async () => {
    const form = new FormData();
    form.set('title', 'with a file');
    form.set('doc', new Blob([Buffer.from('hello file')], { type: 'text/plain' }), 'hello.txt');
    await srv.admin.collection('notes').create(form);
    await srv.admin.collection('notes').create({ title: 'plain' });

    assert.equal((await su('POST', '/api/backups', { name: 'first.zip' })).status, 204);
    const taken = await su('POST', '/api/backups', { name: 'first.zip' });
    assert.equal(taken.status, 400);
    assert.equal(taken.body.data.name.code, 'validation_backup_name_exists');
    assert.equal((await su('POST', '/api/backups', {})).status, 204);

    const list = (await su('GET', '/api/backups')).body as Json[];
    assert.equal(list.length, 2);
    const first = list.find((b) => b.key === 'first.zip');
    assert.deepEqual(Object.keys(first).sort(), ['key', 'modified', 'size']);
    assert.ok(first.size > 0);
    assert.match(first.modified, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(list.some((b) => /^plinth_backup_\d{14}\.zip$/.test(b.key)));

    const { token } = (await su('POST', '/api/files/token')).body;
    const userFileToken = (await srv.request('POST', '/api/files/token', { token: userToken })).body.token;
    assert.equal((await fetch(`${srv.url}/api/backups/first.zip?token=${userFileToken}`)).status, 403);
    assert.equal((await fetch(`${srv.url}/api/backups/first.zip?token=bogus`)).status, 403);
    const download = await fetch(`${srv.url}/api/backups/first.zip?token=${token}`);
    assert.equal(download.status, 200);
    assert.match(download.headers.get('content-disposition') ?? '', /^attachment; filename="first\.zip"/);
    const bytes = Buffer.from(await download.arrayBuffer());
    assert.equal(bytes.length, first.size);
    assert.deepEqual(bytes, readFileSync(join(srv.dataDir, 'backups', 'first.zip')));
    assert.equal((await fetch(`${srv.url}/api/backups/missing.zip?token=${token}`)).status, 404);

    const keep = join(srv.dataDir, 'kept.zip');
    writeFileSync(keep, bytes);
    assert.equal((await su('DELETE', '/api/backups/first.zip')).status, 204);
    const again = await su('DELETE', '/api/backups/first.zip');
    assert.equal(again.status, 400);
    assert.equal(again.body.message, 'Invalid or already deleted backup file.');

    // Uploading it back under its name.
    const upload = new FormData();
    upload.set('file', new Blob([bytes], { type: 'application/zip' }), 'first.zip');
    const up = await fetch(`${srv.url}/api/backups/upload`, {
      method: 'POST',
      headers: { authorization: srv.adminToken },
      body: upload,
    });
    assert.equal(up.status, 204, await up.text());
    const twice = await fetch(`${srv.url}/api/backups/upload`, {
      method: 'POST',
      headers: { authorization: srv.adminToken },
      body: upload,
    });
    assert.equal(twice.status, 400);
    assert.equal(((await twice.json()) as Json).data.file.code, 'validation_backup_name_exists');
  });

  it('runs one backup at a time: health says so, and a second one is refused with 400', async () => {
    const health = async () => (await su('GET', '/api/health')).body.data.canBackup;
    assert.equal(await health(), true);
    const first = su('POST', '/api/backups', { name: 'busy-1.zip' });
    let busy = false;
    for (let i = 0; i < 200 && !busy; i++) busy = !(await health());
    assert.ok(busy, 'canBackup never went false during a backup');
    const second = await su('POST', '/api/backups', { name: 'busy-2.zip' });
    assert.equal(second.status, 400);
    assert.equal(
      second.body.message,
      'Try again later - another backup/restore process has already been started.',
    );
    // A restore is refused the same way, before its key is even looked up (PocketBase's order).
    const restore = await su('POST', '/api/backups/busy-1.zip/restore');
    assert.equal(restore.status, 400);
    assert.equal(restore.body.message, second.body.message);
    assert.equal((await first).status, 204);
    assert.equal(await health(), true);
    assert.equal((await su('DELETE', '/api/backups/busy-1.zip')).status, 204);
  });

  it("works through the official SDK's pb.backups", async () => {
    await srv.admin.backups.create('sdk.zip');
    const list = await srv.admin.backups.getFullList();
    assert.ok(list.some((b) => b.key === 'sdk.zip'));
    const token = await srv.admin.files.getToken();
    const download = await fetch(srv.admin.backups.getDownloadURL(token, 'sdk.zip'));
    assert.equal(download.status, 200);
    await download.arrayBuffer();
    await assert.rejects(
      srv.admin.backups.create('sdk.zip'),
      (err: { status: number }) => err.status === 400,
    );
    await srv.admin.backups.delete('sdk.zip');
    assert.ok(!(await srv.admin.backups.getFullList()).some((b) => b.key === 'sdk.zip'));
  });

  it('refuses a restore of a missing or malformed key with 400', async () => {
    for (const key of ['nothing.zip', '..%2Fdata.db', '.restore', 'x'.repeat(300), '%00.zip']) {
      const res = await su('POST', `/api/backups/${key}/restore`);
      assert.equal(res.status, 400, key);
      assert.equal(res.body.message, 'Missing or invalid backup file.', key);
    }
  });

  it('refuses a second restore while one is staged for the reopen, and says busy in health', async () => {
    assert.equal((await su('POST', '/api/backups', { name: 'staged.zip' })).status, 204);
    // This in-process server has no `plinth serve` to reopen it: the restore stays staged.
    assert.equal((await su('POST', '/api/backups/staged.zip/restore')).status, 204);
    const again = await su('POST', '/api/backups/staged.zip/restore');
    assert.equal(again.status, 400);
    assert.equal(
      again.body.message,
      'Try again later - another backup/restore process has already been started.',
    );
    assert.equal((await su('POST', '/api/backups', { name: 'meanwhile.zip' })).status, 400);
    assert.equal((await su('GET', '/api/health')).body.data.canBackup, false);
    // Thrown away as a start would throw away a staging without its marker (and its scratch database).
    rmSync(join(srv.dataDir, '.restore', 'ready'));
    if (serverEngine) await applyPendingServerRestore(srv.app.config.databaseUrl ?? '', srv.dataDir);
    assert.deepEqual(await scratchDatabases(srv.app.config.databaseUrl), []);
  });
});
