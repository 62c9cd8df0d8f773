// `plinth migrate ...` on every engine: each command, hostile input (names, folders, counts, broken
// files), and two nodes starting at once with a pending migration (one applies it). A process costs
// seconds: the command runs as one where its exit code and terminal output are the point, in-process
// (the same function, its output captured) elsewhere.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../src/app.ts';
import { migrate } from '../src/cli/migrate.ts';
import { loadConfig } from '../src/config/index.ts';
import { createLogger } from '../src/log/index.ts';
import { TEST_ENGINE } from './helpers/databases.ts';
import {
  createCollectionText,
  type MigrationsFixture,
  migrationsFixture,
  migrationText,
} from './helpers/migrations.ts';
import { freePort, runCli, spawnServe } from './helpers/process.ts';

/** No stack trace reaches the terminal: the error is one readable line. */
const noStack = (text: string) => assert.doesNotMatch(text, /\n\s+at /, text);

const cliOnly =
  TEST_ENGINE !== 'sqlite' &&
  'what the command prints and exits with does not depend on the engine (test/migrations.test.ts runs the runner itself on every engine)';

describe(`plinth migrate on ${TEST_ENGINE}`, () => {
  let fx: MigrationsFixture;
  const spawned = (...args: string[]) =>
    runCli(['migrate', ...args, ...fx.flags, '--migrations-dir', fx.migrationsDir]);
  /** The command in this process, with its output captured. */
  const command = async (args: string[], migrationsDir: string) => {
    const config = loadConfig(
      { dir: fx.dataDir, db: fx.database.url, migrationsDir, maxEventLoopDelayMs: 0 },
      {},
    );
    let stdout = '';
    let stderr = '';
    const io = {
      out: (t: string) => {
        stdout += t;
      },
      err: (t: string) => {
        stderr += t;
      },
    };
    const code = await migrate(config, args, () => createApp(config, createLogger('silent')), io);
    return { code, stdout, stderr };
  };
  const cli = (...args: string[]) => command(args, fx.migrationsDir);
  before(async () => {
    fx = await migrationsFixture();
  });
  after(() => fx?.close());

  it('creates a blank file that applies, and refuses names that are paths or odd', {
    skip: cliOnly,
  }, async () => {
    const made = await spawned('create', 'add_posts');
    assert.equal(made.code, 0, made.stderr);
    const [file] = readdirSync(fx.migrationsDir);
    assert.match(file!, /^\d{10}_add_posts\.ts$/);
    assert.ok(made.stdout.includes(join(fx.migrationsDir, file!)));
    for (const name of ['../escape', 'a b;rm -rf x', '']) {
      const res = await cli('create', name);
      assert.equal(res.code, 1, `${name}: ${res.stdout}${res.stderr}`);
      assert.match(res.stderr, /invalid migration name/);
      noStack(res.stderr);
    }
    assert.deepEqual(readdirSync(fx.migrationsDir), [file]);
    assert.equal(existsSync(join(fx.root, 'escape.ts')), false);
    const up = await cli('up');
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, new RegExp(`Applied ${file}\\n1 migration\\(s\\) applied`));
  });

  it('exits 1 with the file and its error when a migration throws, and records nothing', {
    skip: cliOnly,
  }, async () => {
    fx.write('2000000000_posts.ts', createCollectionText('posts'));
    fx.write(
      '2000000001_boom.js',
      migrationText("await m.records.create('posts', {}); throw new TypeError('boom at row 3');"),
    );
    const res = await spawned('up');
    assert.equal(res.code, 1, res.stdout);
    assert.match(res.stdout, /Applied 2000000000_posts\.ts/);
    assert.match(
      res.stderr,
      /^plinth: migration 2000000001_boom\.js \(up\) failed: TypeError: boom at row 3\n$/,
    );
    const app = await fx.open();
    assert.deepEqual((await app.migrations.applied()).slice(1), ['2000000000_posts.ts']);
    const rows = await app.records.list(
      app.collections.get('posts'),
      {},
      { collection: null, record: null, isSuperuser: true },
    );
    assert.equal(rows.totalItems, 0);
    // serve applies pending migrations first: it does not start past one that fails.
    const port = String(await freePort());
    const serve = await runCli([
      'serve',
      '--http',
      `127.0.0.1:${port}`,
      ...fx.flags,
      '--migrations-dir',
      fx.migrationsDir,
    ]);
    assert.equal(serve.code, 1, serve.stdout);
    assert.match(
      serve.stderr,
      /plinth: migration 2000000001_boom\.js \(up\) failed: TypeError: boom at row 3/,
    );
    assert.doesNotMatch(serve.stdout, /listening/);
    noStack(serve.stderr);
    rmSync(join(fx.migrationsDir, '2000000001_boom.js'));
  });

  it('refuses bad counts and actions, and reverts no more than were applied', { skip: cliOnly }, async () => {
    for (const args of [
      ['down', 'abc'],
      ['down', '0'],
      ['down', '-1'],
      ['sideways'],
      ['up', 'extra'],
      ['create'],
    ]) {
      const res = await cli(...args);
      assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
      noStack(res.stderr);
    }
    const res = await cli('down', '50');
    assert.equal(res.code, 0, res.stderr);
    assert.match(
      res.stdout,
      /Reverted 2000000000_posts\.ts\nReverted \d+_add_posts\.ts\nOnly 2 migration\(s\) were applied; all reverted\./,
    );
    assert.match((await cli('down')).stdout, /No migrations to revert\./);
  });

  it('fails cleanly on a migrations dir that is a file, or cannot be read', { skip: cliOnly }, async () => {
    const file = join(fx.root, 'not-a-dir');
    writeFileSync(file, 'x');
    const loop = join(fx.root, 'loop');
    symlinkSync(loop, loop);
    for (const [dir, message] of [
      [file, /migrations dir .*not-a-dir is not a folder/],
      [loop, /cannot read migrations dir .*loop: ELOOP/],
    ] as const) {
      for (const action of ['up', 'create']) {
        const res = await command([action, ...(action === 'create' ? ['x'] : [])], dir);
        assert.equal(res.code, 1, res.stdout);
        assert.match(res.stderr, message);
        noStack(res.stderr);
      }
    }
  });

  it('writes a snapshot, forgets applied files that are gone, and says so', { skip: cliOnly }, async () => {
    assert.equal((await cli('up')).code, 0);
    const snap = await cli('collections');
    assert.equal(snap.code, 0, snap.stderr);
    const [, path] = /Created (.*_collections_snapshot\.ts)/.exec(snap.stdout) ?? [];
    assert.ok(path && existsSync(path), snap.stdout);
    rmSync(join(fx.migrationsDir, '2000000000_posts.ts'));
    const down = await cli('down');
    assert.equal(down.code, 0, down.stderr);
    const blocked = await cli('down');
    assert.equal(blocked.code, 1);
    assert.match(blocked.stderr, /applied migration 2000000000_posts\.ts has no file/);
    const sync = await cli('history-sync');
    assert.equal(sync.code, 0, sync.stderr);
    assert.match(sync.stdout, /Forgot 2000000000_posts\.ts\n1 record\(s\) of missing files removed\./);
    assert.match((await cli('history-sync')).stdout, /History is in sync\./);
  });

  it('applies pending migrations when two nodes start at once: one runs each, both serve', async () => {
    fx.write(
      '3000000000_marker.ts',
      migrationText(`
      await m.collections.create({ name: 'marks', type: 'base', fields: [{ name: 'pid', type: 'text' }] });
      await m.records.create('marks', { pid: String(process.pid) });
      await new Promise((r) => setTimeout(r, 300));`),
    );
    const env = { PLINTH_MIGRATIONS_DIR: fx.migrationsDir };
    const ports = [await freePort(), await freePort()];
    const nodes = await Promise.all(
      ports.map((p) => spawnServe(['--http', `127.0.0.1:${p}`, ...fx.flags], env)),
    );
    try {
      const app = await fx.open();
      const marks = await app.records.list(
        app.collections.get('marks'),
        {},
        { collection: null, record: null, isSuperuser: true },
      );
      assert.equal(marks.totalItems, 1);
      assert.ok((await app.migrations.applied()).includes('3000000000_marker.ts'));
    } finally {
      for (const node of nodes) node.child.kill('SIGTERM');
      for (const node of nodes) assert.equal(await node.exited, 0, node.stdout());
    }
  });
});
