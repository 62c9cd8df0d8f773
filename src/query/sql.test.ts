import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { pageClause } from './sql.ts';

describe('a page clause', () => {
  it('writes the page size into the text and binds the offset', () => {
    assert.deepEqual(pageClause(20, 40), { text: ' LIMIT 20 OFFSET ?', params: [40] });
  });

  it('refuses anything but a whole number of rows, so that nothing else reaches the text', () => {
    for (const bad of [1.5, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60])
      assert.throws(() => pageClause(bad, 0), RangeError, String(bad));
  });

  it('gives SQLite a statement it runs again without compiling it again', () => {
    // What the clause is for. SQLite asks the authorizer about a SELECT each time it compiles one, so the
    // asks count compilations: a bound LIMIT is compiled again at every run, the written one never.
    const db = new DatabaseSync(':memory:');
    db.exec('CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1), (2), (3)');
    const SQLITE_SELECT = 21;
    let compiled = 0;
    db.setAuthorizer((action) => {
      if (action === SQLITE_SELECT) compiled++;
      return 0;
    });
    const compilesInFiveRuns = (sql: string, params: readonly unknown[]) => {
      const stmt = db.prepare(sql);
      compiled = 0;
      for (let i = 0; i < 5; i++) assert.equal(stmt.all(...(params as number[])).length, 2);
      return compiled;
    };
    const page = pageClause(2, 1);
    assert.equal(compilesInFiveRuns(`SELECT a FROM t ORDER BY a DESC${page.text}`, page.params), 0);
    assert.equal(compilesInFiveRuns('SELECT a FROM t ORDER BY a DESC LIMIT ? OFFSET ?', [2, 1]), 5);
    db.close();
  });
});
