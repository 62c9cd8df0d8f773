import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Kysely, sql } from 'kysely';
import { NodeSqliteDialect, type NodeSqliteDriver, openSqlite } from './sqlite-driver.ts';
import { WalSync } from './sqlite-group.ts';

// The event loop's reads share one read transaction per turn (sqlite-driver.ts `#readNow`). A second
// connection on the same file stands for another process: what it commits, and whether it can checkpoint
// past the driver's snapshot, tells when that transaction is open.
const dir = mkdtempSync(join(tmpdir(), 'plinth-snapshot-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
async function setup(groupCommit: boolean) {
  const file = join(dir, `s${++files}.db`);
  const wal = groupCommit ? new WalSync(`${file}-wal`) : undefined;
  const dialect = new NodeSqliteDialect(
    () => openSqlite(file, wal ? 'NORMAL' : 'FULL'),
    1000,
    groupCommit,
    wal,
  );
  // biome-ignore lint/suspicious/noExplicitAny: a table made here.
  const kysely = new Kysely<any>({ dialect });
  await sql`CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER)`.execute(kysely);
  await sql`INSERT INTO t VALUES ('a', 1)`.execute(kysely);
  await nextTurn();
  const driver = dialect.driver as NodeSqliteDriver;
  const other = new DatabaseSync(file);
  /** `n` of record `a` read through the driver's fast path, which must answer at once. */
  const readNow = () => {
    const result = driver.runNow<{ n: number }>('SELECT n FROM t WHERE id = ?', ['a']);
    assert.ok(result && !(result instanceof Promise), 'a read with the connection free runs at once');
    return result.rows[0]?.n;
  };
  /** Whether the other connection can checkpoint the whole WAL (no reader holds an older snapshot). */
  const canCheckpoint = () => {
    const row = other.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get() as { busy: number };
    return row.busy === 0;
  };
  const close = async () => {
    other.close();
    await kysely.destroy();
  };
  return { driver, other, readNow, canCheckpoint, close };
}

describe('SQLite reads on the event loop', () => {
  it('share one snapshot within a turn and see what others committed from the next turn on', async () => {
    const { other, readNow, canCheckpoint, close } = await setup(true);
    try {
      assert.equal(readNow(), 1);
      other.exec("UPDATE t SET n = 2 WHERE id = 'a'");
      assert.equal(readNow(), 1, 'the same turn reads the snapshot its first read took');
      assert.equal(canCheckpoint(), false, 'the snapshot is held until the turn ends');
      await nextTurn();
      assert.equal(canCheckpoint(), true, 'the turn ended its read transaction');
      assert.equal(readNow(), 2, 'the next turn sees the committed change');
    } finally {
      await close();
    }
  });

  it('never answer a read after a poll for I/O from a snapshot opened before that poll', async () => {
    const { other, readNow, close } = await setup(true);
    // A connected pair of sockets: a byte written on one is read on the other at the loop's next poll.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const client = connect((server.address() as { port: number }).port, '127.0.0.1');
    const peer = await accepted;
    try {
      const reads = await new Promise<number[]>((resolve) => {
        // A timer runs after the turn's check phase: the snapshot it opens is still open at the next poll.
        setTimeout(() => {
          const first = readNow() as number;
          // Another process commits, and a client that saw it sends a request.
          other.exec("UPDATE t SET n = 2 WHERE id = 'a'");
          peer.once('data', () => resolve([first, readNow() as number]));
          client.write('x');
        }, 1);
      });
      assert.deepEqual(reads, [1, 2], 'the read after the poll sees the commit made before it');
    } finally {
      client.destroy();
      peer.destroy();
      server.close();
      await close();
    }
  });

  for (const groupCommit of [true, false]) {
    it(`end the turn's snapshot before a write, which is committed when answered (group commit ${groupCommit ? 'on' : 'off'})`, async () => {
      const { driver, other, readNow, close } = await setup(groupCommit);
      try {
        assert.equal(readNow(), 1);
        const written = driver.runNow("UPDATE t SET n = 3 WHERE id = 'a'", []);
        assert.ok(written, 'the write ran on the free connection');
        await written;
        const seen = other.prepare("SELECT n FROM t WHERE id = 'a'").get() as { n: number };
        assert.equal(seen.n, 3, 'another connection sees the write once it is answered');
        const after = await driver.run<{ n: number }>("SELECT n FROM t WHERE id = 'a'", []);
        assert.equal(after?.rows[0]?.n, 3, 'and so do later reads');
      } finally {
        await close();
      }
    });
  }

  it('end the snapshot when a read fails, and before a transaction takes the connection', async () => {
    const { driver, other, readNow, canCheckpoint, close } = await setup(true);
    try {
      assert.equal(readNow(), 1);
      other.exec("UPDATE t SET n = 4 WHERE id = 'a'");
      assert.throws(() => driver.runNow('SELECT nope FROM t', []), /no such column/);
      assert.equal(canCheckpoint(), true, 'the failed read ended the read transaction in its own turn');
      assert.equal(readNow(), 4);
      other.exec("UPDATE t SET n = 5 WHERE id = 'a'");
      const lease = await driver.acquireConnection();
      try {
        assert.equal(canCheckpoint(), true, 'taking the connection ended the read transaction');
      } finally {
        await driver.releaseConnection(lease);
      }
    } finally {
      await close();
    }
  });
});
