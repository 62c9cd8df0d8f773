import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import { createTestDatabase, TEST_ENGINE, type TestDatabase } from './helpers/databases.ts';
import { freePort, killGroup, runCli, spawnServe } from './helpers/process.ts';

// MariaDB commits every DDL statement as it runs, so a schema change is a series of committed steps. A
// crash between them must not leave a collection's definition and its table disagreeing: each step's undo
// is journaled before it runs, and the next start replays the journal (src/schema/schema-journal.ts).
// Here `plinth serve` is killed with SIGKILL in the middle of a real change, at several points.

const mysqlOnly =
  TEST_ENGINE !== 'mysql' && 'SQLite and PostgreSQL roll a failed schema change back with its transaction';

const ROWS = 30_000;
const FIRST = `r${'0'.repeat(14)}`;
const EMAIL = 'schema@example.com';
const PASSWORD = 'schema-password';

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies and rows, read field by field.
type Json = any;

describe('a schema change cut short by a crash (MariaDB)', { skip: mysqlOnly }, () => {
  let db: TestDatabase;
  let sql: mysql.Pool;
  let collectionId = '';
  const dir = mkdtempSync(join(tmpdir(), 'plinth-journal-'));

  before(async () => {
    db = await createTestDatabase();
    sql = mysql.createPool({ uri: db.url, connectionLimit: 2 });
    const made = await runCli(['superuser', 'upsert', EMAIL, PASSWORD, '--dir', dir, '--db', db.url]);
    assert.equal(made.code, 0, made.stderr);
  });
  // A failed assertion must not leave a server behind (it would keep the test process alive).
  const children: ChildProcess[] = [];
  after(async () => {
    for (const child of children) killGroup(child, 'SIGKILL');
    await sql?.end();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start() {
    const port = await freePort();
    const server = await spawnServe(['--http', `127.0.0.1:${port}`, '--dir', dir, '--db', db.url]);
    children.push(server.child);
    const base = `http://127.0.0.1:${port}`;
    const login = await fetch(`${base}/api/collections/_superusers/auth-with-password`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ identity: EMAIL, password: PASSWORD }),
    });
    const { token } = (await login.json()) as { token: string };
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${base}${path}`, {
        method,
        headers: { 'content-type': 'application/json', authorization: token },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    return { server, call };
  }

  /** The journal's undo steps, or undefined when there is none. */
  async function journal(): Promise<{ phase: string; undo: unknown[] } | undefined> {
    const [rows] = await sql.query("SELECT `value` FROM `_schemaJournal` WHERE `id` = 'current'");
    const row = (rows as Json[])[0];
    return row ? JSON.parse(row.value) : undefined;
  }

  /** The collection's definition agrees with its table, all its rows are there, and no journal is left. */
  async function consistent(call: Awaited<ReturnType<typeof start>>['call']) {
    assert.equal(await journal(), undefined, 'the journal was replayed and removed');
    const got = await call('GET', `/api/collections/${collectionId}`);
    const collection = (await got.json()) as Json;
    assert.equal(got.status, 200, JSON.stringify(collection));
    const [columns] = await sql.query(
      'SELECT COLUMN_NAME AS name, DATA_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
      [collection.name],
    );
    const names = (columns as Json[]).map((c) => c.name).filter((n: string) => n !== '_rowid');
    assert.deepEqual(
      names.sort(),
      collection.fields.map((f: Json) => f.name).sort(),
      'the table has exactly the fields the collection defines',
    );
    const [[count]] = (await sql.query(`SELECT COUNT(*) AS total FROM \`${collection.name}\``)) as Json;
    assert.equal(Number(count.total), ROWS);
    // The select field holds one value or a list, as its definition says, through the records API.
    const many = collection.fields.find((f: Json) => f.id === 'field_tag').maxSelect > 1;
    const res = await call('GET', `/api/collections/${collectionId}/records/${FIRST}`);
    const first = (await res.json()) as Json;
    assert.deepEqual(first.tag, many ? ['b'] : 'b', 'the values came through');
    return collection;
  }

  // Several steps, each committed on its own by MariaDB: the table renamed, a column renamed, a select
  // field's values converted to lists (a copy set aside first), an index built over the rows.
  const change = {
    name: 'big2',
    fields: [
      { id: 'field_title', name: 'heading', type: 'text' },
      { id: 'field_code', name: 'code', type: 'text' },
      { id: 'field_tag', name: 'tag', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
    ],
    indexes: ['CREATE INDEX `idx_big_code` ON `big2` (`code`)'],
  };

  it('is undone at the next start, wherever the crash came, and can then be made in full', async (t) => {
    const { server, call } = await start();
    const made = await call('POST', '/api/collections', {
      name: 'big',
      type: 'base',
      fields: [
        { id: 'field_title', name: 'title', type: 'text' },
        { id: 'field_code', name: 'code', type: 'text' },
        { id: 'field_tag', name: 'tag', type: 'select', values: ['a', 'b', 'c'], maxSelect: 1 },
      ],
    });
    assert.equal(made.status, 200);
    collectionId = ((await made.json()) as Json).id;
    for (let i = 0; i < ROWS; i += 3000) {
      const rows = Array.from({ length: Math.min(3000, ROWS - i) }, (_, k) => {
        const id = `r${String(i + k).padStart(14, '0')}`;
        return [id, `title ${i + k}`, `c${(i + k) % 97}`, ['b', 'a', 'c'][(i + k) % 3]];
      });
      await sql.query('INSERT INTO `big` (`id`, `title`, `code`, `tag`) VALUES ?', [rows]);
    }
    server.kill('SIGKILL');
    await server.exited;

    // Killed once the journal shows 1 to 6 steps done (the definition's own undo is the first): every
    // time the next start undoes it.
    const seen: number[] = [];
    for (const steps of [1, 2, 3, 4, 5, 6]) {
      const { server: s, call: c } = await start();
      const before = await consistent(c);
      assert.equal(before.name, 'big', 'still the old schema');
      const patch = c('PATCH', '/api/collections/big', change).catch(() => undefined);
      let found: Awaited<ReturnType<typeof journal>>;
      for (let i = 0; i < 2000 && s.child.exitCode === null; i++) {
        found = await journal();
        if (found && found.undo.length >= steps) break;
        await new Promise((r) => setTimeout(r, 2));
      }
      s.kill('SIGKILL');
      await s.exited;
      await patch;
      if (found) seen.push(found.undo.length);
    }
    t.diagnostic(`killed with ${seen.join(', ')} steps journaled`);
    assert.ok(
      new Set(seen).size >= 3,
      `the crash came mid-change at three points or more (steps seen: ${seen.join(', ')})`,
    );

    // Then the same change, uninterrupted, is made in full.
    const { server: last, call: final } = await start();
    await consistent(final);
    const res = await final('PATCH', '/api/collections/big', change);
    assert.equal(res.status, 200, await res.text());
    const done = await consistent(final);
    assert.deepEqual(
      done.fields.map((f: Json) => f.name),
      ['id', 'heading', 'code', 'tag'],
    );
    last.child.kill('SIGTERM');
    await last.exited;
  });
});
