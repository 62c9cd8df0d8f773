import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mysqlPool, postgresPool } from './pools.ts';

// Against the local services that `npm test` runs every engine on.
const PG = process.env.PLINTH_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MYSQL = process.env.PLINTH_TEST_MYSQL ?? 'mysql://root@127.0.0.1:3306/';
const LIMITS = { statementTimeoutMs: 30_000, clientTimeoutMs: 35_000 };

describe('connection pools', () => {
  it('give PostgreSQL connections a 30 s statement timeout', async () => {
    const pool = postgresPool(PG, LIMITS);
    try {
      const { rows } = await pool.query('SHOW statement_timeout');
      assert.equal(rows[0].statement_timeout, '30s');
    } finally {
      await pool.end();
    }
  });

  it('give MariaDB connections the same limit and exact utf8mb4 text', async () => {
    const pool = mysqlPool(MYSQL, LIMITS).promise();
    try {
      const [rows] = (await pool.query(
        'SELECT @@max_statement_time AS t, @@character_set_client AS cs',
      )) as unknown as [Array<{ t: number; cs: string }>];
      assert.equal(Number(rows[0]!.t), 30);
      assert.equal(rows[0]!.cs, 'utf8mb4');
    } finally {
      await pool.end();
    }
  });

  it('leave statements unlimited where the limits are 0 (the pool schema changes run on)', async () => {
    const pool = postgresPool(PG, { statementTimeoutMs: 0, clientTimeoutMs: 0 }, 1);
    try {
      const { rows } = await pool.query('SHOW statement_timeout');
      assert.equal(rows[0].statement_timeout, '0');
    } finally {
      await pool.end();
    }
    const my = mysqlPool(MYSQL, { statementTimeoutMs: 0, clientTimeoutMs: 0 }, 1).promise();
    try {
      const [rows] = (await my.query('SELECT @@max_statement_time AS t')) as unknown as [
        Array<{ t: number }>,
      ];
      assert.equal(Number(rows[0]!.t), 0);
    } finally {
      await my.end();
    }
  });

  it('give up on a hung server from the client side', async () => {
    const pool = postgresPool(PG, { statementTimeoutMs: 10_000, clientTimeoutMs: 200 }, 1);
    try {
      await assert.rejects(pool.query('SELECT pg_sleep(2)'), /Query read timeout/);
    } finally {
      await pool.end();
    }
    const my = mysqlPool(MYSQL, { statementTimeoutMs: 10_000, clientTimeoutMs: 200 }, 1);
    try {
      const err = await new Promise<unknown>((resolve) => {
        my.getConnection((e, conn) => {
          if (e) return resolve(e);
          conn.query('SELECT SLEEP(2)', (qe: unknown) => {
            conn.destroy();
            resolve(qe);
          });
        });
      });
      assert.equal((err as { code?: string }).code, 'PROTOCOL_SEQUENCE_TIMEOUT');
    } finally {
      await my.promise().end();
    }
  });

  it('survive a PostgreSQL connection cut while checked out and idle (no uncaught error)', async () => {
    const pool = postgresPool(PG, LIMITS, 1);
    const admin = postgresPool(PG, LIMITS, 1);
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    // The test runner would report the error too; it is collected here to be asserted on.
    process.on('uncaughtException', onUncaught);
    try {
      // Checked out between two statements, as inside a transaction, when the server ends it.
      const client = await pool.connect();
      const { rows } = await client.query('SELECT pg_backend_pid() AS pid');
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(uncaught, []);
      await assert.rejects(client.query('SELECT 1'));
      client.release(true);
      assert.equal((await pool.query('SELECT 1 AS one')).rows[0].one, 1, 'the pool connects again');
    } finally {
      process.off('uncaughtException', onUncaught);
      await pool.end();
      await admin.end();
    }
  });
});
