import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config/index.ts';
import { createDatabase } from '../src/db/index.ts';
import { createLogger } from '../src/log/index.ts';
import { ForeignTablesError } from '../src/schema/index.ts';
import { createTestDatabase, TEST_ENGINE } from './helpers/databases.ts';

/** A fresh database on the test engine holding the given tables, then Plinth started on it. */
async function startOver(tables: string[]) {
  const database = await createTestDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'plinth-foreign-'));
  const log = createLogger('silent');
  const url = database.url || `sqlite:${join(dir, 'data.db')}`;
  const raw = createDatabase({ url, dataDir: dir, sqliteSynchronous: 'FULL', log });
  for (const t of tables) await sql.raw(`CREATE TABLE ${raw.dialect.quote(t)} (x INT)`).execute(raw.kysely);
  await raw.close();
  const config = loadConfig({ dir, db: url, http: '127.0.0.1:0', logLevel: 'silent' }, {});
  const cleanup = async () => {
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const app = await createApp(config, log);
    const close = async () => {
      await app.close();
      await cleanup();
    };
    return { result: 'started' as const, close };
  } catch (err) {
    await cleanup();
    return { result: err, close: async () => {} };
  }
}

describe(`a database that is not Plinth's (${TEST_ENGINE})`, () => {
  it('is refused, untouched, when it holds a table Plinth would create', async () => {
    const { result } = await startOver(['orders', 'users']);
    assert.ok(result instanceof ForeignTablesError, String(result));
    assert.deepEqual(result.tables, ['users']);
    assert.match(result.message, /refusing to touch it/);
  });

  it('is taken over when its tables do not clash', async () => {
    const first = await startOver(['orders']);
    assert.equal(first.result, 'started');
    await first.close();
  });
});
