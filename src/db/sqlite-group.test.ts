import assert from 'node:assert/strict';
import fs, { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { Kysely, sql } from 'kysely';
import type { AnyTrx } from './database.ts';
import { NodeSqliteDialect, type NodeSqliteDriver, openSqlite, type WriteLock } from './sqlite-driver.ts';
import { type Fsync, WalSync } from './sqlite-group.ts';

// Group commit against real files: a second connection (another process would see the same) tells what is
// committed, and the driver's COMMIT count tells which writes shared one.
const dir = mkdtempSync(join(tmpdir(), 'plinth-group-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
async function setup(groupCommit = true, fsync?: Fsync, writeLock?: WriteLock) {
  const file = join(dir, `g${++files}.db`);
  // With `fsync`, the driver syncs the WAL itself (as Database does for FULL), through the test's hand.
  const wal = fsync && new WalSync(`${file}-wal`, fsync);
  const open = () => openSqlite(file, wal ? 'NORMAL' : 'FULL');
  const dialect = new NodeSqliteDialect(open, Number.POSITIVE_INFINITY, groupCommit, wal, writeLock);
  // biome-ignore lint/suspicious/noExplicitAny: a table made here.
  const kysely = new Kysely<any>({ dialect });
  await sql`CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER)`.execute(kysely);
  const driver = dialect.driver as NodeSqliteDriver;
  const other = new DatabaseSync(file);
  const seen = () =>
    (other.prepare('SELECT id FROM t ORDER BY id').all() as { id: string }[]).map((r) => r.id);
  /** One statement outside transactions, as `Database.run` sends it. */
  const run = async (text: string, params: unknown[] = []) =>
    // biome-ignore lint/suspicious/noExplicitAny: rows of the test's own tables.
    (await driver.run<any>(text, params))!.rows;
  const insert = (trx: AnyTrx, id: string) => sql`INSERT INTO t VALUES (${id}, 1)`.execute(trx);
  const close = async () => {
    other.close();
    await kysely.destroy();
  };
  return { kysely, driver, wal, seen, run, insert, close };
}

/** A WAL sync that, once `hold()` is called, waits in `held` until the test runs it. */
function holdableFsync() {
  const held: (() => void)[] = [];
  let holding = false;
  const fsync: Fsync = (fd, done) => {
    if (holding) held.push(() => fs.fsync(fd, done));
    else fs.fsync(fd, done);
  };
  return { fsync, held, hold: () => (holding = true) };
}

describe('SQLite group commit', () => {
  it('with a write lock (other processes write the file), waits for it before a group and gives it back after', async () => {
    const events: string[] = [];
    // Granted at once until `held`: then the next acquire waits for `grant`.
    let held = false;
    let grant = () => {};
    const lock: WriteLock = {
      acquire: () =>
        new Promise<void>((resolve) => {
          events.push('acquire');
          if (held) grant = resolve;
          else resolve();
        }),
      release: () => events.push('release'),
    };
    const { kysely, seen, run, insert, close } = await setup(true, undefined, lock);
    assert.deepEqual(events, ['acquire', 'release'], 'the CREATE TABLE took it and gave it back');
    held = true;
    events.length = 0;
    const writes = Promise.all([
      kysely.transaction().execute((trx) => insert(trx, 'x')),
      run("INSERT INTO t VALUES ('y', 1)"),
    ]);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(seen(), [], 'nothing written before the lock is granted');
    assert.deepEqual(events, ['acquire'], 'one acquire for both writes');
    grant();
    await writes;
    assert.deepEqual(seen(), ['x', 'y']);
    assert.deepEqual(events, ['acquire', 'release'], 'one group, and the lock went back after its COMMIT');
    // A read takes no lock.
    assert.deepEqual(
      (await run('SELECT id FROM t ORDER BY id')).map((r: { id: string }) => r.id),
      ['x', 'y'],
    );
    assert.deepEqual(events, ['acquire', 'release']);
    await close();
  });

  it('commits concurrent writes once; a failing one leaves its neighbours committed', async () => {
    const { kysely, driver, seen, run, insert, close } = await setup();
    driver.groupMaxMs = 60_000;
    const before = driver.commits;
    const results = await Promise.allSettled([
      kysely.transaction().execute((trx) => insert(trx, 'a')),
      kysely.transaction().execute(async (trx) => {
        await insert(trx, 'b');
        throw new Error('refused by a rule');
      }),
      run("INSERT INTO t VALUES ('c', 1)"),
      run("INSERT INTO t VALUES ('a', 2)"), // a unique violation: this statement alone fails
      kysely.transaction().execute((trx) => insert(trx, 'd')),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled'],
    );
    assert.match(String((results[3] as PromiseRejectedResult).reason), /UNIQUE/);
    assert.deepEqual(seen(), ['a', 'c', 'd']);
    assert.equal(driver.commits - before, 1, 'one COMMIT for the whole group');
    await close();
  });

  it('answers a write only once it is committed', async () => {
    const { kysely, seen, run, insert, close } = await setup();
    const seenAtAnswer: string[][] = [];
    const writes = [
      run("INSERT INTO t VALUES ('a', 1)").then(() => seenAtAnswer.push(seen())),
      kysely
        .transaction()
        .execute((trx) => insert(trx, 'b'))
        .then(() => seenAtAnswer.push(seen())),
    ];
    // Both wrote on the writer connection by now, yet nothing is committed before the group's COMMIT.
    await new Promise((resolve) => queueMicrotask(() => resolve(undefined)));
    assert.deepEqual(seen(), []);
    await Promise.all(writes);
    for (const s of seenAtAnswer) assert.deepEqual(s, ['a', 'b']);
    await close();
  });

  it('fails the whole group when SQLite ends its transaction, and the next group works', async () => {
    const { kysely, seen, run, insert, close } = await setup();
    await run("INSERT INTO t VALUES ('x', 1)");
    const results = await Promise.allSettled([
      kysely.transaction().execute((trx) => insert(trx, 'a')),
      run("INSERT INTO t VALUES ('b', 1)"),
      // OR ROLLBACK: a conflict that undoes the whole transaction, as SQLITE_FULL or IOERR may.
      kysely.transaction().execute((trx) => sql`INSERT OR ROLLBACK INTO t VALUES ('x', 2)`.execute(trx)),
      kysely.transaction().execute((trx) => insert(trx, 'c')),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected', 'rejected', 'fulfilled'],
    );
    assert.deepEqual(seen(), ['c', 'x']);
    await run("INSERT INTO t VALUES ('d', 1)");
    assert.deepEqual(seen(), ['c', 'd', 'x']);
    await close();
  });

  it('fails every write of a group whose COMMIT fails, and the connection serves the next', async () => {
    const { kysely, seen, run, insert, close } = await setup();
    // A deferred foreign key is checked at COMMIT: the one way to make COMMIT itself fail here.
    await run('CREATE TABLE child (p TEXT REFERENCES t(id) DEFERRABLE INITIALLY DEFERRED)');
    const results = await Promise.allSettled([
      kysely.transaction().execute((trx) => insert(trx, 'a')),
      run("INSERT INTO child VALUES ('missing')"),
      run("INSERT INTO t VALUES ('b', 1)"),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected', 'rejected'],
    );
    assert.match(String((results[0] as PromiseRejectedResult).reason), /FOREIGN KEY/);
    assert.deepEqual(seen(), []);
    await kysely.transaction().execute((trx) => insert(trx, 'c'));
    assert.deepEqual(seen(), ['c']);
    await close();
  });

  it('never lets a read see writes that are not durable yet', async () => {
    const { kysely, seen, run, close } = await setup();
    const write = run("INSERT INTO t VALUES ('a', 1)");
    // Read in the same turn, with the write done on the connection but not committed: the read answers
    // after the COMMIT, and sees the row as any other connection does then.
    const read = run('SELECT id FROM t').then((rows) => ({ rows, seen: seen() }));
    const viaKysely = kysely
      .selectFrom('t')
      .select('id')
      .execute()
      .then((rows) => ({ rows, seen: seen() }));
    await write;
    for (const r of [await read, await viaKysely]) {
      assert.deepEqual(
        r.rows.map((x) => x.id),
        r.seen,
      );
      assert.deepEqual(r.seen, ['a']);
    }
    // A group that fails: the read queued behind it sees nothing of it.
    await run("INSERT INTO t VALUES ('x', 1)");
    const doomed = run("INSERT INTO t VALUES ('b', 1)");
    const during = run('SELECT id FROM t ORDER BY id');
    const aborting = run("INSERT OR ROLLBACK INTO t VALUES ('x', 2)");
    await assert.rejects(doomed);
    await assert.rejects(aborting);
    assert.deepEqual(
      (await during).map((x) => x.id),
      ['a', 'x'],
    );
    await close();
  });

  it('runs statements that need no transaction (PRAGMA, VACUUM) outside the group', async () => {
    const { kysely, seen, run, close } = await setup();
    const write = run("INSERT INTO t VALUES ('a', 1)");
    await sql`PRAGMA foreign_keys = OFF`.execute(kysely);
    assert.deepEqual(seen(), ['a'], 'the group committed before the PRAGMA ran');
    const [fk] = await run('PRAGMA foreign_keys');
    assert.equal(fk?.foreign_keys, 0, 'the PRAGMA took effect, as outside a transaction');
    await write;
    await run(`VACUUM INTO '${join(dir, `copy${files}.db`)}'`);
    await close();
  });

  it('syncing the WAL itself, answers writes and reads only after the sync', async () => {
    const { fsync, held, hold } = holdableFsync();
    const { driver, seen, run, close } = await setup(true, fsync);
    hold();
    const answered: string[] = [];
    const write = run("INSERT INTO t VALUES ('a', 1)").then(() => answered.push('write'));
    const read = run('SELECT id FROM t').then((rows) => answered.push(`read ${rows.length}`));
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    // Committed (another connection sees it), its sync held back: nothing is answered yet.
    assert.deepEqual(seen(), ['a']);
    assert.equal(held.length, 1);
    assert.ok(driver.settled(), 'reader threads wait for the sync');
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(answered, []);
    held.shift()!();
    await write;
    await read;
    assert.deepEqual(answered, ['write', 'read 1']);
    assert.equal(driver.settled(), undefined);
    // A statement outside groups (DDL, a PRAGMA) waits for its own sync before it returns.
    let ddlDone = false;
    const ddl = run('CREATE TABLE u (a TEXT)').then(() => {
      ddlDone = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(held.length, 1);
    assert.equal(ddlDone, false);
    held.shift()!();
    await ddl;
    await close();
  });

  it('tells its watchers how many committed writes wait for a sync', async () => {
    const { fsync, held, hold } = holdableFsync();
    const { wal, run, close } = await setup(true, fsync);
    hold();
    const told: number[] = [];
    wal!.watch((writes) => told.push(writes));
    const first = [run("INSERT INTO t VALUES ('a', 1)"), run("INSERT INTO t VALUES ('b', 1)")];
    await new Promise((resolve) => setImmediate(resolve));
    // The second group commits while the first one's sync is held: it waits for the next sync.
    const second = run("INSERT INTO t VALUES ('c', 1)");
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(told, [2, 3]);
    held.shift()!();
    await Promise.all(first);
    assert.deepEqual(told, [2, 3, 1]);
    await new Promise((resolve) => setImmediate(resolve));
    held.shift()!();
    await second;
    assert.deepEqual(told, [2, 3, 1, 0]);
    await close();
  });

  it('commits each write alone when switched off', async () => {
    const { kysely, driver, seen, run, insert, close } = await setup(false);
    const write = run("INSERT INTO t VALUES ('a', 1)");
    assert.deepEqual(seen(), ['a']);
    await Promise.all([write, kysely.transaction().execute((trx) => insert(trx, 'b'))]);
    assert.deepEqual(seen(), ['a', 'b']);
    assert.equal(driver.commits, 0);
    await close();
  });
});
