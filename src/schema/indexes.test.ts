import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatIndex, parseIndex } from './indexes.ts';

describe('index definitions', () => {
  it('parses unique, collated, descending and partial indexes and renders them canonically', () => {
    const spec = parseIndex(
      'CREATE UNIQUE INDEX IF NOT EXISTS `idx_a` ON posts (`email` COLLATE NOCASE, "n" DESC) WHERE email != \'\'',
      'posts',
    );
    assert.notEqual(typeof spec, 'string');
    if (typeof spec === 'string') return;
    assert.equal(spec.unique, true);
    assert.deepEqual(spec.columns, [
      { name: 'email', nocase: true, desc: false },
      { name: 'n', nocase: false, desc: true },
    ]);
    assert.deepEqual(spec.where, [{ column: 'email', op: '!=', value: '' }]);
    assert.equal(
      formatIndex(spec),
      "CREATE UNIQUE INDEX `idx_a` ON `posts` (`email` COLLATE NOCASE, `n` DESC) WHERE `email` != ''",
    );
  });

  it('renames the table to the collection it belongs to', () => {
    const spec = parseIndex('CREATE INDEX i ON old_name (a)', 'new_name');
    assert.equal(typeof spec === 'string' ? spec : spec.table, 'new_name');
  });

  it('takes an empty table name, as PocketBase scaffolds write it', () => {
    const spec = parseIndex('CREATE UNIQUE INDEX `idx_tokenKey_abc` ON `` (`tokenKey`)', 'members');
    assert.equal(
      typeof spec === 'string' ? spec : formatIndex(spec),
      'CREATE UNIQUE INDEX `idx_tokenKey_abc` ON `members` (`tokenKey`)',
    );
  });

  it('refuses anything beyond the supported subset', () => {
    for (const text of [
      'CREATE INDEX i ON t (a); DROP TABLE users',
      'CREATE INDEX i ON t (lower(a))',
      'CREATE INDEX i ON t (a) WHERE 1=1 OR (SELECT 1)',
      'CREATE INDEX i ON t (a) WHERE a != b',
      'CREATE INDEX i ON t (a COLLATE BINARY)',
      'CREATE INDEX "i; x" ON t (a)',
      'CREATE TABLE t (a)',
      'CREATE INDEX i ON t ()',
      'CREATE INDEX i ON t (a',
      `CREATE INDEX i ON t (${'a,'.repeat(2000)}a)`,
    ]) {
      assert.equal(typeof parseIndex(text, 't'), 'string', text.slice(0, 60));
    }
  });
});
