import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createLogger } from '../log/index.ts';
import { createDatabase, type Database } from './database.ts';
import { inlineReads } from './inline-reads.ts';

const dir = mkdtempSync(join(tmpdir(), 'plinth-inline-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/**
 * The budget is 5 ms here, not 0.1: a cold reader can take longer than 0.1 ms over a cheap read on a busy
 * machine, and each test needs its cheap reads cheap and its costly ones (20 ms and more) costly.
 */
async function open(options: { budgetMs?: number; groupCommit?: boolean } = {}) {
  const db = createDatabase({
    url: `sqlite:${join(dir, `i${++n}.db`)}`,
    dataDir: dir,
    sqliteSynchronous: 'FULL',
    sqliteGroupCommit: options.groupCommit ?? true,
    sqliteInlineBudgetMs: options.budgetMs ?? 5,
    log: createLogger('silent'),
  });
  await db.run(db.kysely, 'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)', []);
  await db.transaction(async (trx) => {
    for (let i = 0; i < 50; i++) await db.run(trx, 'INSERT INTO t (v) VALUES (?)', [`v${i}`]);
  });
  // A temporary table is seen by the connection that made it alone: the event loop's, not a reader's.
  await db.run(db.kysely, 'CREATE TEMP TABLE here (x)', []);
  return db;
}

/** Where a read ran: 'loop' (the event loop's connection) or 'reader'; and its rows. */
async function where(db: Database, sql: string, params: unknown[] = []) {
  const [rows, marker] = await db.queryBatch([
    { sql, params },
    { sql: `SELECT COUNT(*) AS n FROM sqlite_temp_master WHERE name = 'here'`, params: [] },
  ]);
  return { ran: (marker as { n: number }[])[0]?.n === 1 ? 'loop' : 'reader', rows: rows ?? [] };
}

/**
 * Runs a read until it runs on the event loop, at most 5 times, and answers that run. A reader measures
 * wall time: with four test jobs on two cores a cheap read can be preempted past the budget, which rightly
 * sends its next run to a reader again (one CI run failed so). Fails if the read never reaches the loop.
 */
async function onLoop(db: Database, sql: string, params: unknown[] = []) {
  for (let i = 0; i < 5; i++) {
    const run = await where(db, sql, params);
    if (run.ran === 'loop') return run;
  }
  return assert.fail(`${sql} never ran on the event loop`);
}

/** Several statements' worth of work with no join: a count to `n` in a recursive CTE. */
const longScan = (count: number) =>
  `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${count}) SELECT COUNT(*) AS n FROM c`;

describe('SQLite reads on the event loop', () => {
  it('run a read on a reader first, then on the event loop once it was seen cheap', async () => {
    const db = await open();
    try {
      const sql = 'SELECT v FROM t WHERE id = ?';
      const first = await where(db, sql, [3]);
      assert.equal(first.ran, 'reader');
      const second = await onLoop(db, sql, [3]);
      assert.deepEqual({ ...(second.rows[0] as object) }, { v: 'v2' });
      assert.deepEqual(
        second.rows.map((r) => ({ ...(r as object) })),
        first.rows.map((r) => ({ ...(r as object) })),
      );
      // Other parameters are another read: a reader measures it first (an offset, a filter value).
      assert.equal((await where(db, sql, [4])).ran, 'reader');
      assert.equal((await where(db, sql, ['3'])).ran, 'reader');
      await onLoop(db, sql, [4]);
    } finally {
      await db.close();
    }
  });

  it('keep a read that costs more than the budget on the readers', async () => {
    const db = await open();
    try {
      for (let i = 0; i < 4; i++) {
        const { ran, rows } = await where(db, longScan(300_000));
        assert.equal(ran, 'reader', `run ${i}`);
        assert.deepEqual({ ...(rows[0] as object) }, { n: 300_000 });
      }
    } finally {
      await db.close();
    }
  });

  it('send a read back to the readers once a run on the event loop went over budget', async () => {
    const db = await open();
    try {
      const sql = 'SELECT COUNT(*) AS n FROM t WHERE v LIKE ?';
      assert.equal((await where(db, sql, ['v1%'])).ran, 'reader');
      await onLoop(db, sql, ['v1%']);
      // The data grows: the same read now costs far more than the budget.
      await db.run(
        db.kysely,
        `INSERT INTO t (v) ${longScan(200_000).replace('SELECT COUNT(*) AS n FROM c', "SELECT 'v1' || x FROM c")}`,
        [],
      );
      const grown = await where(db, sql, ['v1%']);
      assert.equal(grown.ran, 'loop', 'it was seen cheap: one run on the loop, measured');
      assert.deepEqual({ ...(grown.rows[0] as object) }, { n: 200_011 });
      assert.equal((await where(db, sql, ['v1%'])).ran, 'reader');
    } finally {
      await db.close();
    }
  });

  it('run nothing on the event loop with a budget of 0 (sqliteInlineReads: false)', async () => {
    const db = await open({ budgetMs: 0 });
    try {
      for (let i = 0; i < 3; i++)
        assert.equal((await where(db, 'SELECT v FROM t WHERE id = 1')).ran, 'reader');
    } finally {
      await db.close();
    }
  });

  it('leave a read to a reader while a group of writes is not durable yet', async () => {
    const db = await open();
    try {
      const sql = 'SELECT COUNT(*) AS n FROM t';
      await where(db, sql);
      await onLoop(db, sql);
      // Not awaited: the write's group is open (or syncing) while the read comes.
      const write = db.run(db.kysely, 'INSERT INTO t (v) VALUES (?)', ['late']);
      const during = await where(db, sql);
      await write;
      assert.equal(during.ran, 'reader');
      // Sent beside the write, the read may come before or after it; after it, the loop again.
      assert.ok([50, 51].includes((during.rows[0] as { n: number }).n));
      const next = await where(db, sql);
      assert.deepEqual({ ...(next.rows[0] as object) }, { n: 51 });
    } finally {
      await db.close();
    }
  });

  it('answer a read that fails on the event loop with the reader’s own answer', async () => {
    const db = await open();
    try {
      const sql = 'SELECT v FROM t WHERE id = 1';
      await where(db, sql);
      await onLoop(db, sql);
      await db.run(db.kysely, 'DROP TABLE t', []);
      await assert.rejects(where(db, sql), /no such table: t/);
    } finally {
      await db.close();
    }
  });
});

describe('inline read memory', () => {
  const cheap = 0.01;
  it('keys no two different batches alike, whatever their text and types', () => {
    const reads = inlineReads();
    const batches = [
      [{ sql: 'SELECT ?', params: ['a\u0000sb'] }],
      [{ sql: 'SELECT ?', params: ['a', 'b'] }],
      [{ sql: 'SELECT ?, ?', params: ['a\u0000sb', 'c'] }],
      [{ sql: 'SELECT ?, ?', params: ['a', 'b\u0000sc'] }],
      [{ sql: 'SELECT ?, ?', params: ['a:1:sb', 'c'] }],
      [{ sql: 'SELECT ?, ?', params: ['a', '1:sb:c'] }],
      [{ sql: 'SELECT ?', params: [1] }],
      [{ sql: 'SELECT ?', params: ['1'] }],
      [{ sql: 'SELECT ?', params: [1n] }],
      [{ sql: 'SELECT ?', params: [null] }],
      [{ sql: 'SELECT ?', params: ['n'] }],
      [{ sql: 'SELECT ?', params: [new Uint8Array([1])] }],
      [{ sql: 'SELECT ?', params: ['x01'] }],
      [{ sql: 'SELECT ?1:', params: [] }],
      [
        { sql: 'SELECT ?', params: [] },
        { sql: '1:', params: [] },
      ],
      [{ sql: 'SELECT ?', params: [] }],
    ];
    const keys = batches.map((b) => reads.key(b));
    assert.equal(new Set(keys).size, batches.length, JSON.stringify(keys));
  });

  it('allows only what ran under budget last time, and forgets', () => {
    const reads = inlineReads({ budgetMs: 0.1 });
    const key = reads.key([{ sql: 'SELECT 1', params: [] }]) as string;
    assert.equal(reads.allows(key), false);
    reads.record(key, cheap);
    assert.equal(reads.allows(key), true);
    reads.record(key, 0.1);
    assert.equal(reads.allows(key), false);
    reads.record(key, cheap);
    reads.forget(key);
    assert.equal(reads.allows(key), false);
  });

  it('is bounded: too long a key is not kept, and a full memory starts again', () => {
    const reads = inlineReads({ limit: 3, maxKeyLength: 100 });
    assert.equal(reads.key([{ sql: 'SELECT ?', params: ['x'.repeat(200)] }]), undefined);
    const keys = [1, 2, 3, 4].map((i) => reads.key([{ sql: 'SELECT ?', params: [i] }]) as string);
    for (const key of keys) reads.record(key, cheap);
    assert.deepEqual(
      keys.map((k) => reads.allows(k)),
      [false, false, false, true],
    );
  });

  it('keys nothing with a budget of 0', () => {
    assert.equal(inlineReads({ budgetMs: 0 }).key([{ sql: 'SELECT 1', params: [] }]), undefined);
  });
});
