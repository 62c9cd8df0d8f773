import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { createLogger } from '../../log/index.ts';
import { createDatabase, type Database } from '../database.ts';
import { numberPlaceholders } from '../dialect.ts';
import { postgresDialect as d } from './postgres.ts';

// Runs against the real local PostgreSQL (CI starts it), in a scratch database dropped at the end.
const ADMIN = process.env.PLINTH_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const NAME = `plinth_u_${randomBytes(6).toString('hex')}`;

async function admin(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

function scratchUrl(): string {
  const url = new URL(ADMIN);
  url.pathname = `/${NAME}`;
  return url.toString();
}

/** A plain client of the scratch database, for what needs two sessions at once. */
async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: scratchUrl() });
  await c.connect();
  return c;
}

describe('the PostgreSQL dialect', () => {
  let db: Database;
  const exec = async (text: string) => {
    await sql.raw(text).execute(db.kysely);
  };
  const fails = (text: string, params: unknown[] = []) =>
    db.run(db.kysely, text, params).then(
      () => assert.fail(`expected ${text} to fail`),
      (err: unknown) => err,
    );
  const create = (table: string, columns: Parameters<typeof d.createTableSql>[1]) =>
    Promise.all(d.createTableSql(table, columns).map(exec));

  before(async () => {
    await admin(`CREATE DATABASE "${NAME}"`);
    db = createDatabase({
      url: scratchUrl(),
      dataDir: '',
      sqliteSynchronous: 'FULL',
      log: createLogger('silent'),
    });
  });
  after(async () => {
    await db?.close();
    await admin(`DROP DATABASE IF EXISTS "${NAME}" WITH (FORCE)`);
  });

  describe('error translation', () => {
    it('names the column of a unique violation on the primary key', async () => {
      await create('u1', [
        { name: 'id', kind: 'id' },
        { name: 'title', kind: 'text' },
      ]);
      await db.run(db.kysely, 'INSERT INTO "u1" ("id") VALUES (?)', ['a']);
      const err = await fails('INSERT INTO "u1" ("id") VALUES (?)', ['a']);
      assert.deepEqual(d.translateError(err), { kind: 'unique', columns: ['id'] });
    });

    it('names the column of a case-insensitive (LOWER) unique index', async () => {
      await create('u2', [
        { name: 'id', kind: 'id' },
        { name: 'email', kind: 'text' },
      ]);
      for (const s of d.createIndexSql({
        name: 'u2_email',
        table: 'u2',
        unique: true,
        columns: [{ name: 'email', nocase: true }],
      }))
        await exec(s);
      await db.run(db.kysely, 'INSERT INTO "u2" ("id", "email") VALUES (?, ?)', ['1', 'Ann@Example.com']);
      const err = await fails('INSERT INTO "u2" ("id", "email") VALUES (?, ?)', ['2', 'ann@example.COM']);
      assert.deepEqual(d.translateError(err), { kind: 'unique', columns: ['email'] });
    });

    it('names every column of a multi-column unique index, quoted names included', async () => {
      await create('u3', [
        { name: 'id', kind: 'id' },
        { name: 'a', kind: 'text' },
        { name: 'Mixed Case', kind: 'text' },
      ]);
      for (const s of d.createIndexSql({
        name: 'u3_ab',
        table: 'u3',
        unique: true,
        columns: [{ name: 'a' }, { name: 'Mixed Case', nocase: true }],
      }))
        await exec(s);
      await db.run(db.kysely, 'INSERT INTO "u3" ("id", "a", "Mixed Case") VALUES (?, ?, ?)', ['1', 'x', 'Y']);
      const err = await fails('INSERT INTO "u3" ("id", "a", "Mixed Case") VALUES (?, ?, ?)', ['2', 'x', 'y']);
      assert.deepEqual(d.translateError(err), { kind: 'unique', columns: ['a', 'Mixed Case'] });
    });

    it('translates not-null and too-long values, and leaves other errors as "other"', async () => {
      await exec('CREATE TABLE "n1" ("a" TEXT NOT NULL, "b" VARCHAR(3))');
      const notNull = await fails('INSERT INTO "n1" ("a") VALUES (?)', [null]);
      assert.deepEqual(d.translateError(notNull), { kind: 'notNull', columns: ['a'] });
      const tooLong = await fails('INSERT INTO "n1" ("a", "b") VALUES (?, ?)', ['x', 'abcd']);
      assert.equal(d.translateError(tooLong)?.kind, 'tooLong');
      const syntax = await fails('SELEC 1');
      assert.deepEqual(d.translateError(syntax), { kind: 'other', columns: [] });
      assert.equal(d.translateError(new Error('not from the database')), undefined);
      assert.equal(d.translateError('a string'), undefined);
    });

    it('reads a database refusing connections or gone under its name (a restore swapping it) as an outage', async () => {
      const connectError = async (database: string) => {
        const url = new URL(ADMIN);
        url.pathname = `/${database}`;
        const client = new pg.Client({ connectionString: url.toString() });
        return client.connect().then(
          () => client.end().then(() => undefined),
          (err: unknown) => err,
        );
      };
      const closed = `${NAME}_closed`;
      await admin(`CREATE DATABASE "${closed}" WITH ALLOW_CONNECTIONS false`);
      try {
        assert.deepEqual(d.translateError(await connectError(closed)), { kind: 'unavailable', columns: [] });
      } finally {
        await admin(`DROP DATABASE "${closed}"`);
      }
      assert.deepEqual(d.translateError(await connectError(`${NAME}_gone`)), {
        kind: 'unavailable',
        columns: [],
      });
    });

    it('asks for a retry on a serialization failure and on a deadlock', async () => {
      await exec('CREATE TABLE "s1" ("k" TEXT PRIMARY KEY, "v" INT NOT NULL)');
      await exec(`INSERT INTO "s1" VALUES ('a', 0), ('b', 0)`);
      const [one, two] = [await client(), await client()];
      try {
        // Write skew under SERIALIZABLE: each reads both rows and writes one; one of them must fail.
        for (const c of [one, two]) {
          await c.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
          await c.query('SELECT sum(v) FROM "s1"');
        }
        const errors: unknown[] = [];
        for (const [c, k] of [
          [one, 'a'],
          [two, 'b'],
        ] as const)
          await c.query(`UPDATE "s1" SET v = 1 WHERE k = '${k}'`).catch((e: unknown) => errors.push(e));
        // COMMIT of a failed transaction rolls back without an error of its own.
        for (const c of [one, two]) await c.query('COMMIT').catch((e: unknown) => errors.push(e));
        assert.equal(errors.length, 1);
        assert.equal((errors[0] as { code?: string }).code, '40001');
        assert.deepEqual(d.translateError(errors[0]), { kind: 'retry', columns: [] });

        // A deadlock: each holds one row and waits for the other's.
        await one.query('BEGIN');
        await two.query('BEGIN');
        await one.query(`UPDATE "s1" SET v = 2 WHERE k = 'a'`);
        await two.query(`UPDATE "s1" SET v = 2 WHERE k = 'b'`);
        // The victim rolls back at once, so that the other can go on.
        const results = await Promise.allSettled(
          [
            [one, 'b'],
            [two, 'a'],
          ].map(([c, k]) =>
            (c as pg.Client).query(`UPDATE "s1" SET v = 3 WHERE k = '${k}'`).catch(async (err: unknown) => {
              await (c as pg.Client).query('ROLLBACK');
              throw err;
            }),
          ),
        );
        const rejected = results.filter((r) => r.status === 'rejected');
        assert.equal(rejected.length, 1);
        assert.equal((rejected[0]!.reason as { code?: string }).code, '40P01');
        assert.deepEqual(d.translateError(rejected[0]!.reason), { kind: 'retry', columns: [] });
      } finally {
        await Promise.all([one.query('ROLLBACK').catch(() => {}), two.query('ROLLBACK').catch(() => {})]);
        await Promise.all([one.end(), two.end()]);
      }
    });
  });

  describe('column conversion', () => {
    it('turns text into a one-item (or empty) list and back into the last item, with defaults', async () => {
      await create('c1', [
        { name: 'id', kind: 'id' },
        { name: 'tag', kind: 'text' },
      ]);
      for (const [id, tag] of [
        ['1', ''],
        ['2', 'x'],
        ['3', 'it\'s "quoted"'],
      ])
        await db.run(db.kysely, 'INSERT INTO "c1" ("id", "tag") VALUES (?, ?)', [id, tag]);
      for (const s of d.convertColumnSql('c1', 'tag', 'text', 'jsonArray')) await exec(s);
      await db.run(db.kysely, 'INSERT INTO "c1" ("id") VALUES (?)', ['4']);
      const lists = await db.run<{ id: string; tag: unknown }>(
        db.kysely,
        'SELECT id, tag FROM "c1" ORDER BY id',
        [],
      );
      assert.deepEqual(
        lists.map((r) => r.tag),
        [[], ['x'], ['it\'s "quoted"'], []],
      );

      await db.run(db.kysely, 'UPDATE "c1" SET "tag" = ? WHERE id = ?', [JSON.stringify(['a', 'b']), '2']);
      for (const s of d.convertColumnSql('c1', 'tag', 'jsonArray', 'text')) await exec(s);
      await db.run(db.kysely, 'INSERT INTO "c1" ("id") VALUES (?)', ['5']);
      const texts = await db.run<{ id: string; tag: unknown }>(
        db.kysely,
        'SELECT id, tag FROM "c1" ORDER BY id',
        [],
      );
      assert.deepEqual(
        texts.map((r) => r.tag),
        ['', 'b', 'it\'s "quoted"', '', ''],
      );
    });

    it('returns no statements for conversions that need none', () => {
      assert.deepEqual(d.convertColumnSql('t', 'c', 'text', 'text'), []);
      assert.deepEqual(d.convertColumnSql('t', 'c', 'number', 'bool'), []);
    });
  });

  describe('JSON arrays', () => {
    it('finds rows whose list holds the value as a string item, and nothing else', async () => {
      await create('j1', [
        { name: 'id', kind: 'id' },
        { name: 'tags', kind: 'jsonArray' },
      ]);
      for (const [id, tags] of [
        ['1', ['a', 'b']],
        ['2', ['ab']],
        ['3', []],
        ['4', ['1']],
        ['5', [1]],
        ['6', ['a"b']],
      ] as const)
        await db.run(db.kysely, 'INSERT INTO "j1" ("id", "tags") VALUES (?, ?)', [id, JSON.stringify(tags)]);
      const ids = async (value: string) =>
        (
          await db.run<{ id: string }>(
            db.kysely,
            `SELECT id FROM "j1" WHERE ${d.jsonArrayContainsSql('tags')} ORDER BY id`,
            [value],
          )
        ).map((r) => r.id);
      assert.deepEqual(await ids('a'), ['1']);
      assert.deepEqual(await ids('ab'), ['2']);
      assert.deepEqual(await ids('1'), ['4']);
      assert.deepEqual(await ids('a"b'), ['6']);
      assert.deepEqual(await ids('["a"]'), []);
      assert.deepEqual(await ids(''), []);
    });
  });

  describe('locks', () => {
    it('takes the schema lock for one transaction at a time, across connections', async () => {
      const order: string[] = [];
      const change = (name: string, ms: number) =>
        db.transaction(
          async () => {
            order.push(`${name} start`);
            await new Promise((r) => setTimeout(r, ms));
            order.push(`${name} end`);
          },
          { schemaLock: true },
        );
      await Promise.all([change('a', 150), change('b', 0), change('c', 0)]);
      for (let i = 0; i < order.length; i += 2) {
        assert.match(order[i]!, / start$/);
        assert.equal(order[i + 1], order[i]!.replace('start', 'end'), order.join(', '));
      }
      // The lock is transaction-scoped: nothing holds it now.
      const c = await client();
      try {
        const { rows } = await c.query(
          `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        );
        assert.equal(rows[0].n, 0);
      } finally {
        await c.end();
      }
    });

    it('locks a row read FOR UPDATE until the reading transaction ends', async () => {
      await exec('CREATE TABLE "l1" ("id" TEXT PRIMARY KEY, "n" INT NOT NULL)');
      await exec(`INSERT INTO "l1" VALUES ('a', 0)`);
      const select = `SELECT * FROM "l1" WHERE "id" = ? LIMIT 1${d.lockingSelectSuffix('update')}`;
      const bump = () =>
        db.transaction(async (trx) => {
          const [row] = await db.run<{ n: number }>(trx, select, ['a']);
          await new Promise((r) => setTimeout(r, 5));
          await db.run(trx, 'UPDATE "l1" SET "n" = ? WHERE "id" = ?', [row!.n + 1, 'a']);
        });
      await Promise.all(Array.from({ length: 8 }, bump));
      const [row] = await db.run<{ n: number }>(db.kysely, 'SELECT n FROM "l1"', []);
      assert.equal(row!.n, 8);
      assert.equal(d.lockingSelectSuffix('share'), ' FOR SHARE');
    });
  });
});

describe('numberPlaceholders', () => {
  it('numbers ? placeholders in order', () => {
    assert.equal(
      numberPlaceholders('SELECT * FROM t WHERE a = ? AND b IN (?, ?)'),
      'SELECT * FROM t WHERE a = $1 AND b IN ($2, $3)',
    );
    assert.equal(numberPlaceholders('SELECT 1'), 'SELECT 1');
  });

  it('leaves ? inside quoted strings and identifiers untouched', () => {
    assert.equal(
      numberPlaceholders(`SELECT '?', "a?b", ? FROM "t?" WHERE x = 'it''s ?' AND y = ?`),
      `SELECT '?', "a?b", $1 FROM "t?" WHERE x = 'it''s ?' AND y = $2`,
    );
    assert.equal(numberPlaceholders('SELECT "say ""?"""  , ?'), 'SELECT "say ""?"""  , $1');
  });
});
