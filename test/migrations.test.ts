// App migrations run in-process on every engine: order, records, one transaction each, down, history-sync,
// and the files that fail (throwing, broken, wrongly shaped). The `plinth migrate` command itself is
// covered by migrations-cli.test.ts, automigrate by migrations-auto.test.ts.
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { App } from '../src/app.ts';
import { MigrationError } from '../src/migrations/index.ts';
import { TEST_ENGINE } from './helpers/databases.ts';
import {
  createCollectionText,
  type MigrationsFixture,
  migrationsFixture,
  migrationText,
} from './helpers/migrations.ts';

describe(`app migrations on ${TEST_ENGINE}`, () => {
  let fx: MigrationsFixture;
  let app: App;
  before(async () => {
    fx = await migrationsFixture();
    app = await fx.open();
  });
  after(() => fx?.close());

  const count = async (table: string) => {
    const [row] = await app.db.run<{ n: unknown }>(
      app.db.kysely,
      `SELECT COUNT(*) AS n FROM ${app.db.dialect.quote(table)}`,
      [],
    );
    return Number(row?.n);
  };

  it('applies pending files in name order, once, with collections, records and SQL in each', async () => {
    fx.write(
      '2_posts_seed.js',
      migrationText(
        `await m.records.create('posts', { title: 'first' });
       const rows = await m.sql('SELECT title FROM posts WHERE title = ?', ['first']);
       if (rows.length !== 1) throw new Error('the migration does not see its own write');
       if (m.engine !== '${TEST_ENGINE}') throw new Error('wrong engine ' + m.engine);`,
        `await m.sql('DELETE FROM posts');`,
      ),
    );
    fx.write('1_posts.ts', createCollectionText('posts'));
    fx.write('.1_hidden.ts', 'this is not a migration');
    fx.write('types.d.ts', 'export {};');
    assert.deepEqual(await app.migrations.up(), ['1_posts.ts', '2_posts_seed.js']);
    assert.deepEqual(await app.migrations.applied(), ['1_posts.ts', '2_posts_seed.js']);
    // The app's own cache knows the collection the migration made, and its record.
    const posts = app.collections.get('posts');
    assert.equal((await app.records.findBy(posts, 'title', 'first'))?.title, 'first');
    assert.deepEqual(await app.migrations.up(), []);
    assert.equal(await count('posts'), 1);
  });

  it('rolls back a migration that throws, records nothing, and names the file', async () => {
    fx.write(
      '3_fails.js',
      migrationText(
        `await m.records.create('posts', { title: 'second' });
       await m.sql('UPDATE posts SET title = ? WHERE title = ?', ['changed', 'first']);
       throw new Error('deliberate failure');`,
      ),
    );
    await assert.rejects(app.migrations.up(), (err: Error) => {
      assert.ok(err instanceof MigrationError);
      assert.match(err.message, /migration 3_fails\.js \(up\) failed: deliberate failure/);
      return true;
    });
    assert.equal(await count('posts'), 1);
    assert.equal(
      await app.db.run(app.db.kysely, 'SELECT 1 FROM posts WHERE title = ?', ['first']).then((r) => r.length),
      1,
    );
    assert.deepEqual(await app.migrations.applied(), ['1_posts.ts', '2_posts_seed.js']);
    rmSync(join(fx.migrationsDir, '3_fails.js'));
  });

  // SQLite and PostgreSQL roll the DDL back; MariaDB committed it, and the runner reverses the changes.
  it('undoes the collection changes of a failed migration', async () => {
    fx.write(
      '3_half.js',
      migrationText(
        `${createCollectionText('half').split('\n')[2]}
       await m.collections.update('posts', { listRule: '' });
       throw new Error('after the DDL');`,
      ),
    );
    await assert.rejects(app.migrations.up(), /3_half\.js \(up\) failed: after the DDL/);
    assert.equal(app.collections.find('half'), undefined);
    assert.equal(app.collections.get('posts').listRule, null);
    const tables = await app.db.run<{ name: string }>(app.db.kysely, app.db.dialect.listTablesSql(), []);
    assert.ok(!tables.some((t) => t.name === 'half'));
    rmSync(join(fx.migrationsDir, '3_half.js'));
  });

  it('loads every pending file before running any: a broken one stops the run before it starts', async () => {
    fx.write('4_ok.js', createCollectionText('fourth'));
    fx.write('5_syntax.ts', 'export default { async up(m) { await m.sql("x" }, };');
    await assert.rejects(app.migrations.up(), /migration 5_syntax\.ts could not be loaded: SyntaxError/);
    fx.write('5_syntax.ts', 'export const nothing = 1;');
    await assert.rejects(app.migrations.up(), /migration 5_syntax\.ts must export default \{ up\(m\)/);
    fx.write('5_syntax.ts', 'export default { up() {} };');
    await assert.rejects(app.migrations.up(), /5_syntax\.ts must export default.*an object without up\/down/);
    assert.equal(app.collections.find('fourth'), undefined);
    rmSync(join(fx.migrationsDir, '5_syntax.ts'));
    assert.deepEqual(await app.migrations.up(), ['4_ok.js']);
  });

  it('reverts the newest first, and no more than were applied', async () => {
    assert.deepEqual(await app.migrations.down(1), ['4_ok.js']);
    assert.equal(app.collections.find('fourth'), undefined);
    assert.deepEqual(await app.migrations.down(10), ['2_posts_seed.js', '1_posts.ts']);
    assert.equal(app.collections.find('posts'), undefined);
    assert.deepEqual(await app.migrations.down(3), []);
    assert.deepEqual(await app.migrations.up(), ['1_posts.ts', '2_posts_seed.js', '4_ok.js']);
  });

  it('forgets applied files that are gone (history-sync), and will not revert one without its file', async () => {
    rmSync(join(fx.migrationsDir, '4_ok.js'));
    await assert.rejects(app.migrations.down(1), /applied migration 4_ok\.js has no file.*history-sync/);
    assert.deepEqual(await app.migrations.historySync(), ['4_ok.js']);
    assert.deepEqual(await app.migrations.historySync(), []);
    assert.deepEqual(await app.migrations.applied(), ['1_posts.ts', '2_posts_seed.js']);
    // The collection it made stays: history-sync forgets, it does not revert.
    assert.ok(app.collections.find('fourth'));
  });

  it('keeps app migrations apart from system ones', async () => {
    const system = await app.db.kysely.selectFrom('_migrations').select('file').execute();
    assert.ok(system.length > 0);
    assert.ok(!system.some((r) => /posts/.test(String(r.file))));
    fx.write(`${String(system[0]!.file)}.js`, migrationText('', ''));
    assert.deepEqual(await app.migrations.up(), [`${String(system[0]!.file)}.js`]);
  });
});

describe(`the example in docs/migrations.md on ${TEST_ENGINE}`, () => {
  let fx: MigrationsFixture;
  before(async () => {
    fx = await migrationsFixture();
  });
  after(() => fx?.close());

  it('runs as written, up and down (its type import does not resolve, and need not)', async () => {
    const doc = readFileSync(join(import.meta.dirname, '../docs/migrations.md'), 'utf8');
    const [, example] = /^```ts\n([\s\S]*?)^```$/m.exec(doc) ?? [];
    assert.ok(example?.includes('satisfies AppMigration'));
    fx.write('1700000000_example.ts', example!);
    const app = await fx.open();
    assert.deepEqual(await app.migrations.up(), ['1700000000_example.ts']);
    const posts = app.collections.get('posts');
    assert.equal((await app.records.findBy(posts, 'title', 'Hello, world'))?.title, 'Hello, world');
    assert.deepEqual(await app.migrations.down(1), ['1700000000_example.ts']);
    assert.equal(app.collections.find('posts'), undefined);
  });
});
