import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mysqlPool, postgresPool } from './pools.ts';

// Against the local services that `npm test` runs every engine on.
const PG = process.env.PLINTH_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MYSQL = process.env.PLINTH_TEST_MYSQL ?? 'mysql://root@127.0.0.1:3306/';

describe('connection pools', () => {
  it('give PostgreSQL connections a 30 s statement timeout', async () => {
    const pool = postgresPool(PG);
    try {
      const { rows } = await pool.query('SHOW statement_timeout');
      assert.equal(rows[0].statement_timeout, '30s');
    } finally {
      await pool.end();
    }
  });

  it('give MariaDB connections the same limit and exact utf8mb4 text', async () => {
    const pool = mysqlPool(MYSQL).promise();
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
});
