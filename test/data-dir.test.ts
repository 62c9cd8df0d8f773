import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config/index.ts';
import { createLogger } from '../src/log/index.ts';
import { createTestDatabase, TEST_ENGINE, type TestDatabase } from './helpers/databases.ts';

/**
 * The data dir is private: 0700, the SQLite database and its -wal/-shm files 0600, the encryption key
 * file 0600, whatever the umask; an existing dir or file open to others is tightened, with a log line.
 */
const modeOf = (path: string) => statSync(path).mode & 0o777;

describe('data dir and file permissions', () => {
  let root: string;
  let previousUmask: number;
  const databases: TestDatabase[] = [];

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'plinth-perms-'));
    // The loosest umask: nothing may rely on it to make files private.
    previousUmask = process.umask(0);
  });
  after(async () => {
    process.umask(previousUmask);
    for (const d of databases) await d.drop();
    rmSync(root, { recursive: true, force: true });
  });

  /** Starts and stops Plinth on `dir`; returns the warnings it logged. */
  async function boot(dir: string): Promise<string[]> {
    const database = await createTestDatabase();
    databases.push(database);
    const lines: string[] = [];
    const log = createLogger('warn', { write: (line: string) => void lines.push(line) });
    const app = await createApp(loadConfig({ dir, db: database.url }, {}), log);
    try {
      // A write, so SQLite has made its -wal and -shm files.
      await app.auth.upsertSuperuser('root@example.com', 'root-password-1');
      if (TEST_ENGINE === 'sqlite') {
        for (const suffix of ['', '-wal', '-shm']) {
          const file = join(dir, `data.db${suffix}`);
          assert.ok(existsSync(file), file);
          assert.equal(modeOf(file).toString(8), '600', file);
        }
      }
    } finally {
      await app.close();
    }
    return lines.map((l) => String(JSON.parse(l).msg));
  }

  afterEach(() => process.umask(0));

  it('creates a new data dir 0700 and its database and key file 0600 under umask 000', async () => {
    const dir = join(root, 'fresh', 'nested');
    const warnings = await boot(dir);
    assert.equal(modeOf(dir).toString(8), '700');
    assert.equal(modeOf(join(dir, 'encryption.key')).toString(8), '600');
    assert.equal(existsSync(join(dir, 'data.db')), TEST_ENGINE === 'sqlite');
    assert.ok(!warnings.some((w) => /open to other users/.test(w)), warnings.join('\n'));
  });

  it('tightens an existing dir, database and key files that others could read, and says so', async () => {
    const dir = join(root, 'loose');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o777);
    if (TEST_ENGINE === 'sqlite') {
      writeFileSync(join(dir, 'data.db'), '');
      chmodSync(join(dir, 'data.db'), 0o666);
    }
    const warnings = await boot(dir);
    assert.equal(modeOf(dir).toString(8), '700');
    assert.ok(
      warnings.some((w) => w.includes(dir) && /mode 0777\); changed to 0700/.test(w)),
      warnings.join('\n'),
    );
    // A second start finds nothing to fix.
    const again = await boot(dir);
    assert.ok(!again.some((w) => /open to other users/.test(w)), again.join('\n'));
  });

  it('tightens loosened key files at the next start', async () => {
    const dir = join(root, 'restart');
    await boot(dir);
    chmodSync(join(dir, 'encryption.key'), 0o644);
    // The key file of older installs (read only when the database has no keys): still a secret.
    writeFileSync(join(dir, 'jwt_keys.json'), '{"keys":[]}', { mode: 0o644 });
    const warnings = await boot(dir);
    for (const name of ['encryption.key', 'jwt_keys.json']) {
      assert.equal(modeOf(join(dir, name)).toString(8), '600', name);
      assert.ok(
        warnings.some((w) => w.includes(name)),
        warnings.join('\n'),
      );
    }
  });

  it('leaves a file that is not a SQLite database alone when a sqlite: URL names it', async () => {
    const dir = join(root, 'notdb');
    mkdirSync(dir);
    const other = join(dir, 'notes.txt');
    writeFileSync(other, 'not a database', { mode: 0o644 });
    chmodSync(other, 0o644);
    const config = loadConfig({ dir, db: `sqlite:${other}` }, {});
    await assert.rejects(createApp(config, createLogger('silent')));
    assert.equal(modeOf(other).toString(8), '644');
  });
});
