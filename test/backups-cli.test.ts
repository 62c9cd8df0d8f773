import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { type App, createApp } from '../src/app.ts';
import { createLogger } from '../src/log/index.ts';
import { manifestFor, writeZip } from './helpers/backup-archives.ts';
import { runCli } from './helpers/process.ts';
import { startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';

// `plinth backup`, `plinth backup verify FILE` and `plinth restore FILE` with the server stopped, on every
// engine: SQLite swaps files, PostgreSQL renames databases, MariaDB moves tables, each after the archive was
// loaded into a scratch place and compared with its manifest.

/** Databases named after `live` (its scratch and old copies): a failed restore must leave none behind. */
async function databasesBeside(live: string | undefined): Promise<string[]> {
  if (!live) return [];
  const url = new URL(live);
  const name = url.pathname.slice(1);
  if (TEST_ENGINE === 'postgres') {
    const client = new pg.Client({ connectionString: live });
    await client.connect();
    const { rows } = await client.query('SELECT datname FROM pg_database');
    await client.end();
    return rows.map((r) => String(r.datname)).filter((n) => n.startsWith(`${name}_`));
  }
  const conn = await mysql.createConnection(live);
  const [rows] = await conn.query('SHOW DATABASES');
  await conn.end();
  return (rows as Array<Record<string, string>>)
    .map((r) => Object.values(r)[0]!)
    .filter((n) => n.startsWith(`${name}_`));
}

describe(`plinth backup / verify / restore on ${TEST_ENGINE}`, () => {
  let srv: TestServer;
  let app: App | undefined;
  let flags: string[] = [];
  let kept: string[] = [];

  before(async () => {
    srv = await startServer();
    flags = [
      '--dir',
      srv.dataDir,
      ...(srv.app.config.databaseUrl ? ['--db', srv.app.config.databaseUrl] : []),
    ];
    await srv.admin.collections.create({
      name: 'notes',
      type: 'base',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'doc', type: 'file', maxSelect: 1 },
      ],
    });
    await srv.admin.collections.create({
      name: 'titles',
      type: 'view',
      viewQuery: 'SELECT id, title FROM notes',
    });
    const form = new FormData();
    form.set('title', 'a');
    form.set('doc', new Blob([Buffer.from('file a')], { type: 'text/plain' }), 'a.txt');
    await srv.admin.collection('notes').create(form);
    for (const title of ['b', 'c']) await srv.admin.collection('notes').create({ title });
    kept = (await srv.admin.collection('notes').getFullList({ sort: 'title' })).map(
      (r) => `${r.id}:${r.title}:${r.doc}`,
    );
  });
  after(async () => {
    await app?.close();
    await srv?.close();
  });

  it('backs up from the CLI while the server runs, then restores with it stopped', async () => {
    const made = await runCli(['backup', 'cli.zip', ...flags]);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /Backup written: .*cli\.zip \(\d+ records, 1 files\)/);
    const archive = join(srv.dataDir, 'backups', 'cli.zip');
    const verified = await runCli(['backup', 'verify', archive, ...flags]);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, new RegExp(`OK — ${TEST_ENGINE} backup`));

    // Changes after the backup: one record more, one less, a file gone, a collection more.
    await srv.admin.collection('notes').create({ title: 'd' });
    const [first] = await srv.admin.collection('notes').getFullList({ sort: 'title' });
    await srv.admin.collection('notes').delete(first!.id);
    await srv.admin.collections.create({
      name: 'later',
      type: 'base',
      fields: [{ name: 'x', type: 'text' }],
    });
    await srv.app.close();

    const restored = await runCli(['restore', archive, ...flags]);
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, /^Restored cli\.zip/);

    app = await createApp(srv.app.config, createLogger('silent'));
    const list = await app.server.inject({
      method: 'GET',
      url: '/api/collections/notes/records?sort=title',
      headers: { authorization: srv.adminToken },
    });
    assert.equal(list.statusCode, 200, list.body);
    const rows = list.json() as { items: Array<Record<string, unknown>> };
    assert.deepEqual(
      rows.items.map((r) => `${r.id}:${r.title}:${r.doc}`),
      kept,
    );
    assert.equal(app.collections.find('later'), undefined);
    assert.ok(app.collections.find('titles'), 'the view collection is back');
    const doc = String(rows.items[0]!.doc);
    const stream = await app.server.inject({
      method: 'GET',
      url: `/api/files/notes/${rows.items[0]!.id}/${doc}`,
    });
    assert.equal(
      stream.statusCode,
      200,
      `${stream.body} ${JSON.stringify(readdirSync(join(srv.dataDir, 'storage'), { recursive: true }))}`,
    );
    assert.equal(stream.body, 'file a');
  });

  it('refuses a missing file, and a database that does not load, leaving the data as it was', async () => {
    const missing = await runCli(['restore', join(srv.dataDir, 'nothing.zip'), ...flags]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No such file/);

    // A well-formed archive of this engine whose database is garbage (hashes and sizes all true).
    const bad = join(srv.dataDir, 'bad.zip');
    const entry = {
      name: TEST_ENGINE === 'sqlite' ? 'data.db' : 'dump.sql',
      body: Buffer.from('this is not a database;'),
    };
    await writeZip(bad, [entry, manifestFor([entry], { engine: TEST_ENGINE })]);
    const before = await databasesBeside(srv.app.config.databaseUrl);
    const refused = await runCli(['restore', bad, ...flags]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, TEST_ENGINE === 'sqlite' ? /cannot be read/ : /does not load/);
    assert.doesNotMatch(refused.stderr, /\n\s+at /);
    assert.deepEqual(
      await databasesBeside(srv.app.config.databaseUrl),
      before,
      'a scratch database was left behind',
    );
    assert.deepEqual(before, []);
    const list = await app!.server.inject({
      method: 'GET',
      url: '/api/collections/notes/records',
      headers: { authorization: srv.adminToken },
    });
    assert.equal(list.json().totalItems, kept.length);
  });
});
