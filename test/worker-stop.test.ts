// A worker of `plinth serve --workers N` gets a stop's signal twice: from the terminal or the process
// group, and again from the primary, which passes it on. The second can come after the worker has closed
// and while its process ends; it must not end the process there by Node's default for the signal (the
// process would skip its exit handlers, and one of CI's runs lost a worker's report that way).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, TEST_ENGINE, type TestDatabase } from './helpers/databases.ts';
import { freePort, spawnServe } from './helpers/process.ts';

const PRELOAD = join(import.meta.dirname, 'helpers', 'late-exit.mjs');

describe('a worker that has closed', {
  skip: TEST_ENGINE !== 'sqlite' && 'about process signals, not the engine',
}, () => {
  let database: TestDatabase;
  let dir = '';
  let exits = '';

  before(async () => {
    database = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'plinth-worker-stop-'));
    exits = mkdtempSync(join(tmpdir(), 'plinth-worker-stop-exits-'));
  });

  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(exits, { recursive: true, force: true });
    await database?.drop();
  });

  it('ends by itself when signalled again as it ends (its exit handlers run)', async () => {
    const port = await freePort();
    const server = await spawnServe(['--http', `127.0.0.1:${port}`, '--dir', dir, '--workers', '2'], {
      PLINTH_DB: database.url,
      PLINTH_TEST_EXIT_DIR: exits,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${PRELOAD}`,
    });
    assert.ok(await server.waitFor(/Workers: +\d+ processes/, 20_000), server.stdout());
    server.kill('SIGTERM');
    const ending = () => readdirSync(exits).filter((f) => f.endsWith('.ending'));
    for (let i = 0; i < 400 && ending().length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    const pids = ending().map((f) => Number.parseInt(f, 10));
    assert.equal(pids.length, 2, server.stdout());
    // What the primary's SIGTERM does when it comes late; a terminal's second Ctrl-C is the primary's to
    // handle, not a worker's.
    for (const pid of pids) process.kill(pid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    writeFileSync(join(exits, 'release'), '');
    assert.equal(await server.exited, 0, server.stdout());
    for (const pid of pids)
      assert.ok(existsSync(join(exits, `${pid}.exited`)), `worker ${pid} was ended by the signal`);
  });
});
