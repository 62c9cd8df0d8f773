import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { sqliteDialect as d } from './sqlite.ts';

describe('the SQLite dialect', () => {
  it('binds a LIMIT that SQLite does not compile again at every run, and that still limits', () => {
    const db = new DatabaseSync(':memory:');
    db.exec('CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1), (2), (3), (4)');
    // SQLite asks the authorizer about a SELECT each time it compiles one: the asks count compilations.
    const SQLITE_SELECT = 21;
    let compiled = 0;
    db.setAuthorizer((action) => {
      if (action === SQLITE_SELECT) compiled++;
      return 0;
    });
    const compilesOver = (sql: string) => {
      const stmt = db.prepare(sql);
      compiled = 0;
      for (const n of [1, 2, 3]) assert.equal(stmt.all(n).length, n, sql);
      return compiled;
    };
    assert.equal(compilesOver(`SELECT a FROM t ORDER BY a ${d.boundLimitSql()}`), 0);
    // What it avoids: a bare parameter is compiled again at each run.
    assert.equal(compilesOver('SELECT a FROM t ORDER BY a LIMIT ?'), 3);
    db.close();
  });
});
