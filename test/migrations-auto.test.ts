// Automigrate and snapshots: the files written for collection changes reproduce them on another
// database (up) and take them back (down), on every engine.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { App } from '../src/app.ts';
import { compareFiles, writeSnapshot } from '../src/migrations/index.ts';
import { TEST_ENGINE } from './helpers/databases.ts';
import { createCollectionText, type MigrationsFixture, migrationsFixture } from './helpers/migrations.ts';

/** What must survive the trip through a file: names, types, rules, field ids and indexes. */
const shape = (app: App, name: string) => {
  const c = app.collections.find(name);
  if (!c) return undefined;
  const { id, type, listRule, viewRule, createRule, indexes } = c;
  const fields = c.fields.map((f) => ({ id: f.id, name: f.name, type: f.type }));
  return { id, name: c.name, type, listRule, viewRule, createRule, indexes, fields };
};

describe(`automigrate on ${TEST_ENGINE}`, () => {
  let source: MigrationsFixture;
  let target: MigrationsFixture;
  let app: App;
  before(async () => {
    source = await migrationsFixture();
    target = await migrationsFixture();
    app = await source.open({ automigrate: true });
  });
  after(async () => {
    await source?.close();
    await target?.close();
  });

  it('writes one file per collection change, recorded as applied here', async () => {
    // The first through the API, as a superuser (the dashboard's path); the rest through the same store.
    await app.auth.upsertSuperuser('root@example.com', 'root-password-1');
    const signIn = await app.server.inject({
      method: 'POST',
      url: '/api/collections/_superusers/auth-with-password',
      payload: { identity: 'root@example.com', password: 'root-password-1' },
    });
    const created = await app.server.inject({
      method: 'POST',
      url: '/api/collections',
      headers: { authorization: signIn.json().token },
      payload: { name: 'notes', type: 'base', fields: [{ name: 'body', type: 'text' }] },
    });
    assert.equal(created.statusCode, 200, created.body);
    const notes = app.collections.get('notes');
    await app.collections.update('notes', {
      listRule: '@request.auth.id != ""',
      fields: [
        ...notes.fields.map((f) => (f.name === 'body' ? { ...f, name: 'text' } : f)),
        { name: 'pinned', type: 'bool' },
      ],
      indexes: ['CREATE INDEX idx_notes_pinned ON notes (pinned)'],
    });
    await app.collections.create({ name: 'scratch', type: 'base', fields: [] });
    await app.collections.remove('scratch');
    const files = readdirSync(source.migrationsDir).sort(compareFiles);
    assert.deepEqual(
      files.map((f) => f.replace(/^\d+_/, '')),
      ['created_notes.ts', 'updated_notes.ts', 'created_scratch.ts', 'deleted_scratch.ts'],
    );
    assert.deepEqual(await app.migrations.up(), []);
    assert.deepEqual(await app.migrations.applied(), files);
  });

  it('reproduces the changes on another database, and takes them back', async () => {
    const other = await target.open({ migrationsDir: source.migrationsDir });
    assert.equal((await other.migrations.up()).length, 4);
    assert.deepEqual(shape(other, 'notes'), shape(app, 'notes'));
    assert.equal(other.collections.find('scratch'), undefined);
    assert.equal((await other.migrations.down(4)).length, 4);
    assert.equal(other.collections.find('notes'), undefined);
    assert.deepEqual(await other.migrations.applied(), []);
  });

  it('writes nothing for the changes migrations make', async () => {
    const before = readdirSync(source.migrationsDir).sort(compareFiles);
    source.write('9999999999_made_by_hand.ts', createCollectionText('by_hand'));
    assert.deepEqual(await app.migrations.up(), ['9999999999_made_by_hand.ts']);
    assert.ok(app.collections.find('by_hand'));
    assert.deepEqual(readdirSync(source.migrationsDir).sort(compareFiles), [
      ...before,
      '9999999999_made_by_hand.ts',
    ]);
  });

  it('writes a snapshot that brings a fresh database to the same collections', async () => {
    const path = await writeSnapshot({
      collections: app.collections,
      runner: app.migrations,
      dir: source.migrationsDir,
    });
    assert.match(path, /\/\d+_collections_snapshot\.ts$/);
    // After the hand-written file: snapshots, like every new file, sort last.
    assert.equal(readdirSync(source.migrationsDir).sort(compareFiles).at(-1), path.split('/').at(-1));
    assert.ok(!readFileSync(path, 'utf8').includes('"_superusers"'), 'system collections stay out');
    const fresh = await target.open({ migrationsDir: source.migrationsDir });
    await fresh.migrations.up();
    for (const name of ['notes', 'by_hand', 'users']) assert.deepEqual(shape(fresh, name), shape(app, name));
  });

  it('writes nothing when it is off', async () => {
    const off = await migrationsFixture();
    try {
      const plain = await off.open();
      await plain.collections.create({ name: 'quiet', type: 'base', fields: [] });
      assert.equal(existsSync(off.migrationsDir), false);
    } finally {
      await off.close();
    }
  });
});
