import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createDatabase, type Database } from '../db/index.ts';
import { createLogger } from '../log/index.ts';
import type { Collection } from './collection.ts';
import { field, idField } from './defaults.ts';
import { applyTableSync, newSyncLog, planTableSync, undoSync } from './sync.ts';

const dir = mkdtempSync(join(tmpdir(), 'plinth-sync-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function collection(name: string, fields: Collection['fields'], indexes: string[] = []): Collection {
  return {
    id: 'pbc_1',
    name,
    type: 'base',
    system: false,
    fields: [idField(), ...fields],
    indexes,
    listRule: null,
    viewRule: null,
    createRule: null,
    updateRule: null,
    deleteRule: null,
    options: {},
    created: '',
    updated: '',
  };
}

const title = field('text', 'title', { id: 'f_title' });
const code = field('text', 'code', { id: 'f_code' });
const tags = field('select', 'tags', { id: 'f_tags', values: ['a', 'b'], maxSelect: 2 });
const base = collection(
  't',
  [title, code, tags],
  ['CREATE UNIQUE INDEX `i_code` ON `t` (`code` COLLATE NOCASE)', 'CREATE INDEX `i_title` ON `t` (`title`)'],
);

const { dialect } = createDatabase({
  url: '',
  dataDir: dir,
  sqliteSynchronous: 'NORMAL',
  log: createLogger('silent'),
});
const statements = (c: Collection | undefined, d: Collection | undefined) =>
  planTableSync(dialect, c, d).steps.flatMap((s) => s.sql);

describe('planning a table sync', () => {
  it('keeps the indexes a change does not touch, even across a table rename', () => {
    const renamed = { ...base, name: 'u', fields: [...base.fields, field('number', 'n', { id: 'f_n' })] };
    const sqls = statements(base, renamed);
    assert.ok(!sqls.some((s) => /INDEX/.test(s)), sqls.join('\n'));
  });

  it('recreates the indexes over a renamed field, and only those', () => {
    const after = {
      ...base,
      fields: base.fields.map((f) => (f.id === 'f_code' ? { ...f, name: 'slug' } : f)),
      indexes: ['CREATE UNIQUE INDEX `i_code` ON `t` (`slug` COLLATE NOCASE)', base.indexes[1]!],
    };
    const sqls = statements(base, after).filter((s) => /INDEX/.test(s));
    assert.deepEqual(sqls, [
      'DROP INDEX IF EXISTS "i_code"',
      'CREATE UNIQUE INDEX "i_code" ON "t" ("slug" COLLATE NOCASE)',
    ]);
  });

  it('recreates an index whose text is unchanged when its column now is another field', () => {
    const swapped = {
      ...base,
      fields: base.fields.map((f) =>
        f.id === 'f_code' ? { ...f, name: 'title' } : f.id === 'f_title' ? { ...f, name: 'code' } : f,
      ),
    };
    const sqls = statements(base, swapped).filter((s) => /INDEX/.test(s));
    assert.equal(sqls.length, 4, sqls.join('\n'));
  });

  it('moves removed fields and tables aside, and drops them only in the cleanup', () => {
    const fewer = {
      ...base,
      fields: base.fields.filter((f) => f.id !== 'f_title'),
      indexes: [base.indexes[0]!],
    };
    const plan = planTableSync(dialect, base, fewer);
    assert.ok(!plan.steps.some((s) => s.sql.some((q) => /DROP COLUMN|DROP TABLE/.test(q))));
    assert.deepEqual(plan.cleanup, ['ALTER TABLE "t" DROP COLUMN "_del_f_title"']);
    const dropped = planTableSync(dialect, base, undefined);
    assert.deepEqual(dropped.cleanup, ['DROP TABLE IF EXISTS "_del_pbc_1"']);
    assert.ok(dropped.steps.every((s) => s.undo.length > 0));
  });

  it('copies a list aside before keeping only its last value', () => {
    const single = {
      ...base,
      fields: base.fields.map((f) => (f.id === 'f_tags' ? { ...f, maxSelect: 1 } : f)),
    };
    const plan = planTableSync(dialect, base, single);
    assert.match(plan.steps[0]!.sql[0]!, /ADD COLUMN "_bak_f_tags"/);
    assert.deepEqual(plan.cleanup, ['ALTER TABLE "t" DROP COLUMN "_bak_f_tags"']);
  });

  it('retypes a column whose bound changes, its indexes down and up, only where bounds are stored apart', () => {
    const bounded = {
      ...base,
      fields: base.fields.map((f) => (f.id === 'f_title' ? { ...f, max: 100 } : f)),
    };
    // SQLite stores all text alike: nothing to do.
    assert.deepEqual(statements(base, bounded), []);
    // An engine that stores bounded text apart (MySQL), seen through its two dialect hooks.
    const apart = {
      ...dialect,
      boundedText: true,
      retypeColumnSql: (t: string, c: { name: string; bounded?: boolean }) => [
        `RETYPE ${t}.${c.name}${c.bounded ? ' BOUNDED' : ''}`,
      ],
    };
    const plan = planTableSync(apart, base, bounded);
    assert.deepEqual(
      plan.steps.map((s) => s.sql[0]),
      ['DROP INDEX IF EXISTS "i_title"', 'RETYPE t.title BOUNDED', 'CREATE INDEX "i_title" ON "t" ("title")'],
    );
    assert.deepEqual(plan.steps[1]!.undo, ['RETYPE t.title']);
    // A bounded single select made a list: unbounded first, converted, and the other way back.
    const select = collection('t', [field('select', 's', { id: 'f_s', values: ['a'], maxSelect: 1 })]);
    const list = collection('t', [field('select', 's', { id: 'f_s', values: ['a'], maxSelect: 2 })]);
    const toList = planTableSync(apart, select, list).steps.flatMap((s) => s.sql);
    assert.equal(toList[0], 'RETYPE t.s');
    assert.match(toList[1]!, /UPDATE "t" SET "s"/);
    const back = planTableSync(apart, list, select).steps.flatMap((s) => s.sql);
    assert.equal(back.at(-1), 'RETYPE t.s BOUNDED');
  });
});

describe('undoing a table sync', () => {
  async function state(db: Database) {
    const tables = await db.run<{ type: string; name: string; sql: string }>(
      db.kysely,
      "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name",
      [],
    );
    const rows = await db.run(db.kysely, 'SELECT * FROM "t" ORDER BY "id"', []);
    return { tables, rows };
  }

  it('undoes every step that ran: columns, values, indexes and the table name are as before', async () => {
    const db = createDatabase({
      url: `sqlite:${join(dir, 'undo.db')}`,
      dataDir: dir,
      sqliteSynchronous: 'NORMAL',
      log: createLogger('silent'),
    });
    await db.transaction((trx) => applyTableSync(trx, planTableSync(dialect, undefined, base)));
    await db.run(
      db.kysely,
      `INSERT INTO "t" ("id", "title", "code", "tags") VALUES (?, ?, ?, ?), (?, ?, ?, ?)`,
      ['r1', 'one', 'A', '["a","b"]', 'r2', 'two', 'b', '["b"]'],
    );
    const before = await state(db);
    const after = {
      ...base,
      name: 'T2',
      fields: [
        idField(),
        { ...code, name: 'title' },
        { ...tags, maxSelect: 1 },
        field('text', 'code', { id: 'f_new' }),
      ],
      indexes: ['CREATE UNIQUE INDEX `i_tags` ON `T2` (`tags`)'],
    };
    // The last step fails (both records keep 'b'): undo what ran, inside the transaction, and look.
    const failed = db.transaction(async (trx) => {
      const log = newSyncLog();
      await applyTableSync(trx, planTableSync(dialect, base, after), log).catch((err) =>
        undoSync(trx, log, err).catch(async (undone) => {
          assert.equal(undone, err);
          assert.deepEqual(await state({ ...db, kysely: trx } as Database), before);
          throw err;
        }),
      );
    });
    await assert.rejects(failed, /UNIQUE constraint failed/);
    assert.deepEqual(await state(db), before);
    await db.close();
  });
});
