import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createDatabase, type Database, runMigrations } from '../db/index.ts';
import { createLogger } from '../log/index.ts';
import { createEntryPacker, type PackedBatch } from './entry-pack.js';
import { sqlSink } from './sinks.ts';
import { LOGS_MIGRATIONS } from './table.ts';

// Against the real local PostgreSQL and MariaDB (CI starts both), each in a scratch database dropped at
// the end: the SQL sink writes request logs into the server database itself.
const PG = process.env.PLINTH_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MYSQL = process.env.PLINTH_TEST_MYSQL ?? 'mysql://root@127.0.0.1:3306/';

const engines = {
  postgres: {
    async create(name: string) {
      await pgAdmin(`CREATE DATABASE "${name}"`);
      return withPath(PG, name);
    },
    drop: (name: string) => pgAdmin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  },
  mysql: {
    async create(name: string) {
      await mysqlAdmin(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
      return withPath(MYSQL, name);
    },
    drop: (name: string) => mysqlAdmin(`DROP DATABASE IF EXISTS \`${name}\``),
  },
};

function withPath(admin: string, name: string): string {
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

async function pgAdmin(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

async function mysqlAdmin(text: string): Promise<void> {
  const conn = await mysql.createConnection(MYSQL);
  try {
    await conn.query(text);
  } finally {
    await conn.end();
  }
}

/** A request entry's slots (entry-rows.js lists them): GET `url`, answered 200. */
const request = (url: string, agent = 'ua') => [
  Date.now(),
  200,
  1,
  'GET',
  url,
  undefined,
  agent,
  '',
  '',
  undefined,
  undefined,
  undefined,
];
/** Any other entry: level, message, data as JSON text. */
const other = (level: number, message: string, data: string) => [
  Date.now(),
  -1,
  level,
  message,
  data,
  undefined,
  undefined,
  undefined,
  undefined,
  undefined,
  undefined,
  undefined,
];

function batchOf(entries: unknown[][]): PackedBatch {
  const packer = createEntryPacker();
  for (const slots of entries) packer.push(slots);
  const batch = packer.take();
  assert.equal(batch?.entries, entries.length);
  return batch as PackedBatch;
}

// What a client controls ends up in a row's message and data: none of it may reach another row or column.
const HOSTILE = [
  '/a"},{"i":"x","c":"","l":9,"m":"forged","d":"{}"}',
  '/b\\"\\\\ \' ; DROP TABLE _logs; --',
  '/c\u0000nul',
  '/d\\u0000escaped',
  '/e 😀 日本 \u2028\u2029',
];

for (const [engine, admin] of Object.entries(engines)) {
  describe(`the request log sink on ${engine}`, () => {
    const name = `plinth_u_${randomBytes(6).toString('hex')}`;
    let db: Database;
    before(async () => {
      db = createDatabase({
        url: await admin.create(name),
        dataDir: '',
        sqliteSynchronous: 'FULL',
        log: createLogger('silent'),
      });
      await runMigrations(db, LOGS_MIGRATIONS);
    });
    after(async () => {
      await db?.close();
      await admin.drop(name);
    });
    const q = (id: string) => db.dialect.quote(id);
    const stored = async () =>
      (
        await db.run<{ id: string; created: string; level: number; message: string; data: unknown }>(
          db.kysely,
          `SELECT ${q('id')}, ${q('created')}, ${q('level')}, ${q('message')}, ${q('data')} FROM ${q('_logs')} ORDER BY ${q('id')}`,
          [],
        )
      ).map((r) => ({
        ...r,
        level: Number(r.level),
        data: typeof r.data === 'string' ? JSON.parse(r.data) : r.data,
      }));
    const clear = () => db.run(db.kysely, `DELETE FROM ${q('_logs')}`, []);

    it('stores a batch in order, with PocketBase columns, and what clients sent as sent', async () => {
      await clear();
      const sink = sqlSink(db);
      const failed = await sink.write(
        batchOf([...HOSTILE.map((url) => request(url)), other(8, 'a "quoted" \\ message', '{"n":[1,2]}')]),
      );
      assert.equal(failed, 0);
      const rows = await stored();
      assert.equal(rows.length, HOSTILE.length + 1, 'one row per entry, none forged');
      assert.deepEqual(
        rows.slice(0, HOSTILE.length).map((r) => r.data.url),
        HOSTILE.map((url) => url.replaceAll('\u0000', '\ufffd').replaceAll('\\u0000', '\\ufffd')),
      );
      assert.deepEqual(
        rows.map((r) => r.level),
        [...HOSTILE.map(() => 0), 8],
      );
      assert.equal(rows[0]?.message, `GET ${HOSTILE[0]}`);
      assert.deepEqual(rows.at(-1), {
        ...rows.at(-1),
        message: 'a "quoted" \\ message',
        data: { n: [1, 2] },
      });
      for (const r of rows) {
        assert.match(r.id, /^[a-z0-9]{15}$/);
        assert.match(r.created, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$/);
      }
    });

    it('stores a message with a lone surrogate (packed as UTF-8, so as U+FFFD)', async () => {
      await clear();
      assert.equal(await sqlSink(db).write(batchOf([other(0, 'half \ud800 pair', '{}')])), 0);
      assert.deepEqual(
        (await stored()).map((r) => r.message),
        ['half \ufffd pair'],
      );
    });

    it('loses only the bad entry of a batch, never its neighbours', async () => {
      await clear();
      const failed = await sqlSink(db).write(
        batchOf([request('/1'), other(Number.NaN, 'bad', '{}'), request('/3')]),
      );
      assert.equal(failed, 1, 'a level that is not a number is refused');
      assert.deepEqual(
        (await stored()).map((r) => r.data.url),
        ['/1', '/3'],
      );
    });

    it('stores a batch bigger than one INSERT statement whole', async () => {
      await clear();
      const urls = Array.from({ length: 450 }, (_, i) => `/big/${i}`);
      assert.equal(await sqlSink(db).write(batchOf(urls.map((u) => request(u)))), 0);
      assert.deepEqual(
        (await stored()).map((r) => r.data.url),
        urls,
      );
    });
  });
}
