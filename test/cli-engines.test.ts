import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, TEST_ENGINE, type TestDatabase } from './helpers/databases.ts';
import { freePort, runCli, spawnServe, superuserSignInStatus } from './helpers/process.ts';

describe(`the plinth command on ${TEST_ENGINE}`, {
  skip: TEST_ENGINE === 'sqlite' ? 'the SQLite CLI is covered by cli.test.ts' : false,
}, () => {
  let database: TestDatabase;
  let dir = '';
  before(async () => {
    database = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'plinth-cli-db-'));
  });
  after(async () => {
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a superuser with --db, serves with PLINTH_DB, and signs in', async () => {
    const created = await runCli([
      'superuser',
      'upsert',
      'ops@example.com',
      'first-password',
      '--dir',
      dir,
      '--db',
      database.url,
    ]);
    assert.equal(created.code, 0, created.stderr);
    const port = await freePort();
    const server = await spawnServe(['--http', `127.0.0.1:${port}`, '--dir', dir], {
      PLINTH_DB: database.url,
    });
    try {
      assert.equal(
        await superuserSignInStatus(`http://127.0.0.1:${port}`, 'ops@example.com', 'first-password'),
        200,
      );
    } finally {
      server.child.kill('SIGTERM');
      assert.equal(await server.exited, 0);
    }
  });

  it('prints a superuser command that reaches the same database (with --db), and it works as printed', async () => {
    const fresh = await createTestDatabase();
    const freshDir = mkdtempSync(join(tmpdir(), 'plinth-cli-hint-'));
    const port = await freePort();
    const server = await spawnServe(['--http', `127.0.0.1:${port}`, '--dir', freshDir, '--db', fresh.url]);
    try {
      const hint = await server.waitFor(/or run: npx plinth (superuser upsert EMAIL PASSWORD.*)/);
      assert.ok(hint, server.stdout());
      const command = hint[1] as string;
      assert.ok(command.includes(`--db ${fresh.url}`), command);
      assert.ok(command.includes(`--dir ${freshDir}`), command);
      // Run it as printed (the words are plain: no quoting in these paths and URLs).
      const args = command.replace('EMAIL PASSWORD', 'hint@example.com hint-password-1').split(' ');
      const created = await runCli(args);
      assert.equal(created.code, 0, created.stderr);
      assert.equal(
        await superuserSignInStatus(`http://127.0.0.1:${port}`, 'hint@example.com', 'hint-password-1'),
        200,
      );
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      await fresh.drop();
      rmSync(freshDir, { recursive: true, force: true });
    }
  });
});
