import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDatabase, runMigrations } from '../db/index.ts';
import { createLogger } from '../log/index.ts';
import { createEntryPacker, type PackedBatch, unpackEntries } from './entry-pack.js';
import { workerSink } from './sinks.ts';
import { LOGS_MIGRATIONS } from './table.ts';

const dir = mkdtempSync(join(tmpdir(), 'plinth-log-sink-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** This process's threads named `plinth-logs` (Linux: /proc lists each thread's name). */
function logThreads(): number {
  let n = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === 'plinth-logs') n++;
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return n;
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let waited = 0; !check(); waited += 20) {
    if (waited > 5000) assert.fail(`still not ${what} after 5 s`);
    await sleep(20);
  }
}

let made = 0;
/** A batch of `n` request entries, with URLs /1, /2... in the order they were made. */
function entries(n: number): PackedBatch {
  const packer = createEntryPacker();
  for (let i = 0; i < n; i++)
    packer.push([
      Date.now(),
      200,
      1,
      'GET',
      `/${++made}`,
      undefined,
      'ua',
      '',
      '',
      undefined,
      undefined,
      undefined,
    ]);
  const batch = packer.take();
  assert.equal(batch?.entries, n);
  return batch as PackedBatch;
}

describe('the SQLite request log sink', async () => {
  const file = join(dir, 'auxiliary.db');
  const db = createDatabase({
    url: `sqlite:${file}`,
    dataDir: dir,
    sqliteSynchronous: 'NORMAL',
    log: createLogger('silent'),
  });
  after(() => db.close());
  await runMigrations(db, LOGS_MIGRATIONS);
  const stored = async () =>
    (
      await db.run<{ msg: string; data: string }>(
        db.kysely,
        `SELECT "msg", "data" FROM "_logs" ORDER BY "seq"`,
        [],
      )
    ).map((r) => JSON.parse(r.data).url as string);
  const expected = () => Array.from({ length: made }, (_, i) => `/${i + 1}`);

  it('writes small batches on the event loop, big ones on a thread that ends when idle and starts again', async () => {
    const sink = workerSink(file, { inlineEntries: 4, idleMs: 200 });
    after(() => sink.close());
    assert.equal(await sink.write(entries(3)), 0);
    assert.equal(logThreads(), 0, 'a small batch starts no thread');
    const big = entries(10);
    assert.equal(await sink.write(big), 0);
    assert.equal(logThreads(), 1, 'a big batch starts the thread');
    // Its buffer was moved to the thread and comes back with the answer, for the next batches.
    assert.ok(big.bytes.byteLength > 0, 'the buffer is back');
    const urls: unknown[] = [];
    unpackEntries(big.bytes, (slots) => urls.push(slots[4]));
    assert.deepEqual(urls, expected().slice(-10));
    assert.equal(await sink.write(entries(2)), 0, 'a small batch goes to the running thread');
    await until('ended when idle', () => logThreads() === 0);
    assert.equal(await sink.write(entries(3)), 0);
    assert.equal(logThreads(), 0);
    // Started again: its keys follow the ones written on the event loop meanwhile.
    const again = Promise.all([sink.write(entries(10)), sink.write(entries(1))]);
    assert.deepEqual(await again, [0, 0]);
    assert.equal(logThreads(), 1);
    assert.deepEqual(await stored(), expected(), 'every entry once, in the order written');
    await sink.close();
    await until('ended at close', () => logThreads() === 0);
    await assert.rejects(sink.write(entries(1)), /closed/);
    made--;
  });

  it('gives a small batch to the thread while another connection holds the lock, and writes it', async () => {
    const sink = workerSink(file, { inlineEntries: 4, idleMs: 200 });
    after(() => sink.close());
    const other = new DatabaseSync(file);
    other.exec('BEGIN IMMEDIATE');
    const written = sink.write(entries(2));
    await until('started for the batch the event loop could not write at once', () => logThreads() === 1);
    await sleep(100);
    other.exec('COMMIT');
    other.close();
    assert.equal(await written, 0);
    assert.deepEqual(await stored(), expected());
    await until('ended when idle', () => logThreads() === 0);
    await sink.close();
  });
});
