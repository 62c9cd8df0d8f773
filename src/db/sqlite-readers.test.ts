import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ApiError } from '../errors/index.ts';
import { createLogger } from '../log/index.ts';
import { createDatabase } from './database.ts';
import { GUARD_SQL } from './sqlite-guard.ts';
import { createReaderPool } from './sqlite-readers.ts';

const dir = mkdtempSync(join(tmpdir(), 'plinth-readers-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** Every query on a reader: none runs on the event loop however cheap (inline-reads.test.ts tests those). */
async function open(queryTimeoutMs: number) {
  const db = createDatabase({
    url: `sqlite:${join(dir, `r${++n}.db`)}`,
    dataDir: dir,
    sqliteSynchronous: 'NORMAL',
    log: createLogger('silent'),
    queryTimeoutMs,
    sqliteInlineBudgetMs: 0,
  });
  await db.run(db.kysely, 'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)', []);
  await db.transaction(async (trx) => {
    for (let i = 0; i < 400; i++) await db.run(trx, 'INSERT INTO t (v) VALUES (?)', [`v${i}`]);
  });
  return db;
}

/** A count to `n` in a recursive CTE: long, and with no join for the guard to sit in. */
const longScan = (n: number) =>
  `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${n}) SELECT COUNT(*) AS n FROM c`;
/** 400⁴ rows, with the guard in each join as the query compiler puts it. */
const runaway = `SELECT COUNT(*) AS n FROM t a LEFT JOIN t b ON ${GUARD_SQL} AND 1=1 LEFT JOIN t c ON ${GUARD_SQL} AND 1=1 LEFT JOIN t d ON ${GUARD_SQL} AND 1=1`;

describe('SQLite reader threads', () => {
  it('fail the waiting query when a reader cannot start, and do not start readers again in a loop', {
    timeout: 10_000,
  }, async () => {
    const errors: unknown[] = [];
    const log = createLogger('silent');
    log.error = ((obj: unknown) => {
      errors.push(obj);
    }) as typeof log.error;
    // No such file: a reader opens the file read-only, so it fails as it starts.
    const pool = createReaderPool({ file: join(dir, 'missing', 'none.db'), size: 2, log });
    await assert.rejects(pool.run([{ sql: 'SELECT 1 AS n', params: [] }], 5000));
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(errors.length <= 2, `${errors.length} readers failed, not one or two`);
    // The next query tries again, and fails the same way.
    await assert.rejects(pool.run([{ sql: 'SELECT 1 AS n', params: [] }], 5000));
    await pool.close();
  });

  it('keep the process alive while a query runs, so that a command awaiting one is not cut off', async () => {
    // Open here meanwhile: a reader opens the file read-only, which needs a writer's WAL index beside it.
    const db = await open(30_000);
    // A process whose only work is one query on a new reader: Node ends it with code 13 ("unsettled
    // top-level await") if the starting reader does not hold the event loop open.
    const file = join(dir, `r${n}.db`);
    const script = `
      import { createReaderPool } from ${JSON.stringify(new URL('./sqlite-readers.ts', import.meta.url).href)};
      import { createLogger } from ${JSON.stringify(new URL('../log/index.ts', import.meta.url).href)};
      const pool = createReaderPool({ file: ${JSON.stringify(file)}, size: 1, log: createLogger('silent') });
      const { rows: [rows] } = await pool.run([{ sql: "SELECT COUNT(*) AS n FROM t", params: [] }], 5000);
      console.log(JSON.stringify(rows));
      process.exit(0);
    `;
    const { spawnSync } = await import('node:child_process');
    // A file, not `-e`: the reader threads inherit the process's flags, and `--input-type` fails them.
    const main = join(dir, 'one-query.mjs');
    writeFileSync(main, script);
    const child = spawnSync(process.execPath, [main], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    await db.close();
    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(JSON.parse(child.stdout), [{ n: 400 }]);
  });

  it('run a long query beside the event loop, which keeps turning', async () => {
    const db = await open(30_000);
    try {
      let last = performance.now();
      let worst = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        worst = Math.max(worst, now - last);
        last = now;
      }, 5);
      const started = performance.now();
      const [row] = await db.query<{ n: number }>(longScan(3_000_000), []);
      const took = performance.now() - started;
      clearInterval(timer);
      assert.equal(row?.n, 3_000_000);
      // The query took a while, yet the event loop never stalled for anything like that long.
      assert.ok(
        worst < Math.max(150, took / 3),
        `the event loop stalled ${worst} ms during a ${took} ms query`,
      );
    } finally {
      await db.close();
    }
  });

  it('stop a runaway join at the time limit with the client’s 400', async () => {
    const db = await open(300);
    try {
      const started = performance.now();
      const err = await db.query(runaway, []).catch((e) => e);
      assert.ok(err instanceof ApiError, String(err));
      assert.equal(err.status, 400);
      assert.match(err.message, /took longer than 0.3 s/);
      assert.ok(performance.now() - started < 5000);
      // The reader is free again at once.
      assert.deepEqual(await db.query('SELECT COUNT(*) AS n FROM t', []), [{ n: 400 }]);
    } finally {
      await db.close();
    }
  });

  it('give up on a statement the guard cannot stop, and carry on with a fresh reader', async () => {
    const db = await open(200);
    try {
      const err = await db.query(longScan(30_000_000), []).catch((e) => e);
      assert.equal(err.status, 400);
      const rows = await Promise.all([1, 2, 3].map(() => db.query('SELECT COUNT(*) AS n FROM t', [])));
      assert.deepEqual(rows, [[{ n: 400 }], [{ n: 400 }], [{ n: 400 }]]);
    } finally {
      await db.close();
    }
  });

  it('see what the writer committed, and cannot write', async () => {
    const db = await open(5000);
    try {
      await db.run(db.kysely, 'INSERT INTO t (v) VALUES (?)', ['fresh']);
      assert.deepEqual(await db.query('SELECT v FROM t WHERE v = ?', ['fresh']), [{ v: 'fresh' }]);
      await assert.rejects(db.query("INSERT INTO t (v) VALUES ('no')", []), /readonly/);
    } finally {
      await db.close();
    }
  });

  it('also stop a runaway join on the writer connection (a rule inside a write transaction)', async () => {
    const db = await open(300);
    try {
      const err = await db.transaction((trx) => db.run(trx, runaway, [])).catch((e) => e);
      assert.equal(db.dialect.translateError(err)?.kind, 'timeout', String(err));
    } finally {
      await db.close();
    }
  });
  it('answer rows as objects under the columns of the schema they ran on', async () => {
    const db = await open(30_000);
    try {
      const sql = 'SELECT * FROM t WHERE id <= ? ORDER BY id';
      const [page, count] = await db.queryBatch([
        { sql, params: [2] },
        { sql: 'SELECT COUNT(*) AS n, 1 AS n FROM t', params: [] },
      ]);
      assert.deepEqual(page, [
        { id: 1, v: 'v0' },
        { id: 2, v: 'v1' },
      ]);
      // A repeated name keeps its last value, as node:sqlite's own row objects do.
      assert.deepEqual(count, [{ n: 1 }]);
      // The same statement again after a column was renamed and one added: the rows say so.
      await db.run(db.kysely, 'ALTER TABLE t RENAME COLUMN v TO w', []);
      await db.run(db.kysely, "ALTER TABLE t ADD COLUMN x TEXT DEFAULT 'new'", []);
      for (let i = 0; i < 4; i++) {
        assert.deepEqual(await db.query(sql, [1]), [{ id: 1, w: 'v0', x: 'new' }]);
      }
    } finally {
      await db.close();
    }
  });

  it('make row objects under any column name: quotes, backslashes, digits, other scripts, __proto__', async () => {
    const db = await open(30_000);
    try {
      // '$' '{' 'x' '}': what a template literal would read as a placeholder.
      const names = ['a"b', 'c\\d', '0', 'é 名', 'constructor', ['$', '{x}'].join(''), '`'];
      const select = names.map((name, i) => `${i} AS "${name.replaceAll('"', '""')}"`).join(', ');
      // Twice: once to make the row maker, once to use it.
      for (let i = 0; i < 2; i++) {
        const [row] = (await db.queryBatch([{ sql: `SELECT ${select}`, params: [] }]))[0] as Record<
          string,
          unknown
        >[];
        assert.deepEqual(Object.keys(row ?? {}).sort(), [...names].sort());
        for (const [i, name] of names.entries()) assert.equal(row?.[name], i, name);
      }
      // A column named __proto__ is an own property, never the row's prototype.
      const [row] = (
        await db.queryBatch([{ sql: `SELECT 1 AS "__proto__", 2 AS "b"`, params: [] }])
      )[0] as Record<string, unknown>[];
      assert.equal(Object.getPrototypeOf(row), Object.prototype);
      assert.equal(Object.getOwnPropertyDescriptor(row, '__proto__')?.value, 1);
      assert.equal(row?.b, 2);
    } finally {
      await db.close();
    }
  });
});
