import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, TEST_ENGINE, type TestDatabase } from './helpers/databases.ts';
import { BIN, freePort, ROOT } from './helpers/process.ts';

const PG = 'postgres://postgres@127.0.0.1:5432';
const MYSQL = 'mysql://root@127.0.0.1:3306';
/** Root may write anywhere: "not writable" cases run the CLI as nobody instead. */
const AS_ROOT = process.getuid?.() === 0;
const NOBODY = 65534;

/** `plinth serve ARGS` (optionally as another user); resolves with its exit code and stderr. */
function serve(args: string[], options: { db?: string; uid?: number } = {}) {
  return new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, 'serve', '--http', '127.0.0.1:0', ...args], {
      cwd: ROOT,
      env: { ...process.env, PLINTH_DB: options.db ?? '', PLINTH_LOG_LEVEL: 'error' },
      ...(options.uid !== undefined ? { uid: options.uid, gid: options.uid } : {}),
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.resume();
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/** Exit 1 and exactly one line on stderr, `plinth: <problem>. <fix>.`, matching `pattern`; no stack trace. */
function assertOneLine(res: { code: number | null; stderr: string }, pattern: RegExp): void {
  assert.equal(res.code, 1, res.stderr);
  assert.match(res.stderr, /^plinth: [^\n]+\. [^\n]+\.\n$/);
  assert.match(res.stderr, pattern);
  assert.doesNotMatch(res.stderr, /\n\s+at /);
}

// Every case has a time limit: a start-up that hangs fails the test.
const LIMIT = { timeout: 30_000 };

let root = '';
before(() => {
  root = mkdtempSync(join(tmpdir(), 'plinth-start-'));
  chmodSync(root, 0o755); // reachable by the user the "not writable" cases run as
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('start-up errors about the data directory and SQLite', {
  skip: TEST_ENGINE !== 'sqlite' && 'checks on files, the same on every engine',
}, () => {
  it('refuses a data dir under /proc, /sys or /dev without touching it', LIMIT, async () => {
    for (const dir of ['/proc/self/fd/0', '/proc/plinth', '/sys/plinth', '/dev/stdin'])
      assertOneLine(await serve(['--dir', dir]), /is under \/(proc|sys|dev), a kernel file system/);
    // Also through a symbolic link.
    symlinkSync('/proc/self', join(root, 'link'));
    assertOneLine(await serve(['--dir', join(root, 'link', 'data')]), /under \/proc/);
  });

  it('names a data dir that is a file, or lies under one', LIMIT, async () => {
    const file = join(root, 'file');
    writeFileSync(file, 'x');
    assertOneLine(await serve(['--dir', file]), /the data directory .*\/file is a file, not a directory/);
    assertOneLine(
      await serve(['--dir', join(file, 'data')]),
      /cannot create the data directory .*: .*\/file is a file/,
    );
  });

  it('names a data dir this user may not write', LIMIT, async () => {
    const dir = join(root, 'locked');
    mkdirSync(dir, { mode: 0o555 });
    chmodSync(dir, 0o555);
    const as = AS_ROOT ? { uid: NOBODY } : {};
    assertOneLine(
      await serve(['--dir', dir], as),
      /the data directory .*\/locked is not writable by this user/,
    );
    assertOneLine(await serve(['--dir', join(dir, 'sub')], as), /this user may not write in .*\/locked/);
  });

  it('names a SQLite file that is not a database, or is read-only', LIMIT, async () => {
    const junk = join(root, 'junk');
    mkdirSync(junk);
    writeFileSync(join(junk, 'data.db'), 'this is not a database, just text that is long enough'.repeat(20));
    assertOneLine(await serve(['--dir', junk]), /data\.db is not a SQLite database/);

    const readOnly = join(root, 'read-only');
    mkdirSync(readOnly);
    chmodSync(readOnly, 0o777);
    writeFileSync(join(readOnly, 'data.db'), '');
    chmodSync(join(readOnly, 'data.db'), 0o444);
    const as = AS_ROOT ? { uid: NOBODY } : {};
    assertOneLine(await serve(['--dir', readOnly], as), /the SQLite database .*data\.db is read-only/);
    assertOneLine(
      await serve(['--dir', junk, '--db', `sqlite:${join(root, 'missing', 'x.db')}`]),
      /cannot open the SQLite database .*missing\/x\.db/,
    );
  });
});

describe(`start-up errors on ${TEST_ENGINE}`, () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(() => database?.drop());

  it('names an address already in use, and exits (the database closed) rather than hang', LIMIT, async () => {
    const taken: Server = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    try {
      const res = await serve(['--dir', join(root, `busy-${TEST_ENGINE}`), '--http', `127.0.0.1:${port}`], {
        db: database.url,
      });
      assertOneLine(res, new RegExp(`127\\.0\\.0\\.1:${port} is already in use.*--http`));
    } finally {
      taken.close();
    }
  });

  const server = TEST_ENGINE === 'postgres' ? PG : TEST_ENGINE === 'mysql' ? MYSQL : '';
  const engine = TEST_ENGINE === 'postgres' ? 'PostgreSQL' : 'MySQL/MariaDB';
  const dir = () => join(root, `db-${TEST_ENGINE}`);
  const onServer = { skip: !server && 'needs a database server' };

  it('names a database server that refuses connections', { ...LIMIT, ...onServer }, async () => {
    const port = await freePort();
    const url = server.replace(/:\d+$/, `:${port}`);
    assertOneLine(
      await serve(['--dir', dir()], { db: `${url}/plinth` }),
      new RegExp(`cannot reach the ${engine} database at 127\\.0\\.0\\.1:${port} \\(connection refused\\)`),
    );
  });

  it('names a database that does not exist', { ...LIMIT, ...onServer }, async () => {
    assertOneLine(
      await serve(['--dir', dir()], { db: `${server}/plinth_no_such_db` }),
      /the database "plinth_no_such_db" does not exist on 127\.0\.0\.1:\d+\. Create it/,
    );
  });

  it('names credentials the server refuses, without printing the password', {
    ...LIMIT,
    ...onServer,
  }, async () => {
    // The local PostgreSQL trusts loopback (any password passes), so it gets an unknown user instead.
    const url =
      TEST_ENGINE === 'postgres'
        ? 'postgres://plinth_no_such_user:secret-pw@127.0.0.1:5432/postgres'
        : 'mysql://root:secret-pw@127.0.0.1:3306/mysql';
    const res = await serve(['--dir', dir()], { db: url });
    assertOneLine(res, new RegExp(`the ${engine} server at 127\\.0\\.0\\.1:\\d+ refused user "[a-z_]+"`));
    assert.doesNotMatch(res.stderr, /secret-pw/);
  });
});
