import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IndexSpec } from '../dialect.ts';
import { mysqlDialect } from './mysql.ts';
import { uniqueKeyColumn } from './mysql-indexes.ts';

const duplicate = (key: string) =>
  Object.assign(new Error('dup'), { errno: 1062, sqlMessage: `Duplicate entry 'x' for key '${key}'` });

describe('the MySQL dialect', () => {
  it('reports a duplicate by the index it names, the primary key as id', () => {
    assert.deepEqual(mysqlDialect.translateError(duplicate('idx_slug')), {
      kind: 'unique',
      columns: [],
      index: 'idx_slug',
    });
    // MySQL 8 prefixes the table.
    assert.equal(mysqlDialect.translateError(duplicate('posts.idx_slug'))?.index, 'idx_slug');
    assert.deepEqual(mysqlDialect.translateError(duplicate('PRIMARY')), { kind: 'unique', columns: ['id'] });
    const deadlock = Object.assign(new Error('deadlock'), { errno: 1213 });
    assert.equal(mysqlDialect.translateError(deadlock)?.kind, 'retry');
  });

  it('stores bounded text as VARCHAR(255), retypes it in place, and names the column a value overflowed', () => {
    assert.match(mysqlDialect.columnSql({ name: 'd', kind: 'text', bounded: true }), /^`d` VARCHAR\(255\) /);
    assert.match(mysqlDialect.columnSql({ name: 'd', kind: 'text' }), /^`d` LONGTEXT /);
    assert.deepEqual(mysqlDialect.retypeColumnSql('t', { name: 'd', kind: 'text' }), [
      "ALTER TABLE `t` MODIFY COLUMN `d` LONGTEXT DEFAULT '' NOT NULL",
    ]);
    const tooLong = Object.assign(new Error('long'), {
      errno: 1406,
      sqlMessage: "Data too long for column 'title' at row 1",
    });
    assert.deepEqual(mysqlDialect.translateError(tooLong), { kind: 'tooLong', columns: ['title'] });
  });

  it('folds A-Z only, with REPLACE (always case-sensitive)', () => {
    const folded = mysqlDialect.foldCaseSql('?');
    assert.equal(folded.match(/REPLACE\(/g)?.length, 26);
    assert.match(folded, /'A', 'a'/);
    assert.doesNotMatch(folded, /LOWER/i);
  });

  it('backs a unique index with an invisible hash column: partial, NOCASE and NULLs included', () => {
    const spec: IndexSpec = {
      name: 'idx_email',
      table: 'users',
      unique: true,
      columns: [{ name: 'email', nocase: true, kind: 'text' }],
      where: [{ column: 'email', op: '!=', value: '' }],
    };
    const [create] = mysqlDialect.createIndexSql(spec);
    assert.match(create!, /^ALTER TABLE `users` ADD COLUMN `_idx_idx_email` BINARY\(32\) AS \(CASE WHEN /);
    assert.match(create!, /`email` != '' AND `email` IS NOT NULL THEN UNHEX\(SHA2\(JSON_ARRAY\(REPLACE/);
    assert.match(create!, /VIRTUAL INVISIBLE, ADD UNIQUE INDEX `idx_email` \(`_idx_idx_email`\)$/);
    assert.deepEqual(mysqlDialect.dropIndexSql(spec), [
      'ALTER TABLE `users` DROP INDEX `idx_email`, DROP COLUMN `_idx_idx_email`',
    ]);
  });

  it('indexes text by a prefix that fits the key, once per column, in plain indexes', () => {
    const spec: IndexSpec = {
      name: 'i',
      table: 't',
      unique: false,
      columns: [
        { name: 'a', kind: 'text' },
        { name: 'n', kind: 'number', desc: true },
        { name: 'a', kind: 'text' },
        { name: 'b', kind: 'jsonArray' },
        { name: 'id', kind: 'id' },
      ],
      where: [{ column: 'a', op: '!=', value: '' }],
    };
    assert.deepEqual(mysqlDialect.createIndexSql(spec), [
      'CREATE INDEX `i` ON `t` (`a`(255), `n` DESC, `b`(255), `id`)',
    ]);
    const five = {
      ...spec,
      columns: ['a', 'b', 'c', 'd', 'e'].map((name) => ({ name, kind: 'text' as const })),
    };
    assert.match(mysqlDialect.createIndexSql(five)[0]!, /`e`\(153\)\)$/);
    assert.deepEqual(mysqlDialect.dropIndexSql(spec), ['DROP INDEX `i` ON `t`']);
  });

  it('keeps generated names within 64 characters, distinct per index', () => {
    const long = (c: string) => `idx_${c.repeat(60)}`;
    assert.ok(uniqueKeyColumn(long('a')).length <= 64);
    assert.notEqual(uniqueKeyColumn(`${long('a')}1`), uniqueKeyColumn(`${long('a')}2`));
  });

  it('writes literals that read the same with and without NO_BACKSLASH_ESCAPES', () => {
    const spec: IndexSpec = {
      name: 'i',
      table: 't',
      unique: true,
      columns: [{ name: 'a', kind: 'text' }],
      where: [{ column: 'a', op: '!=', value: "it's a \\ path" }],
    };
    const [create] = mysqlDialect.createIndexSql(spec);
    assert.match(create!, /`a` != _utf8mb4 X'6974277320612[0-9a-f]+'/);
  });
});
