import { randomBytes } from 'node:crypto';
import { lazyPackage } from '../../src/lib/lazy.ts';

// Loaded on first use: most test processes need one driver or none, and mysql2 alone takes ~0.1 s of CPU
// to load, in each of some 350 test processes.
const pg = lazyPackage<typeof import('pg')>('pg');
const mysql = lazyPackage<typeof import('mysql2/promise')>('mysql2/promise');

/** The engine a test run targets: `PLINTH_TEST_DB` = sqlite (default), postgres or mysql. */
export const TEST_ENGINE = (process.env.PLINTH_TEST_DB ?? 'sqlite') as 'sqlite' | 'postgres' | 'mysql';

const PG_ADMIN = process.env.PLINTH_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MYSQL_ADMIN = process.env.PLINTH_TEST_MYSQL ?? 'mysql://root@127.0.0.1:3306/';

export interface TestDatabase {
  /** The URL to pass as `db`; empty for embedded SQLite. */
  url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database on the test engine (or `engine`), dropped again by `drop()`. */
export async function createTestDatabase(engine = TEST_ENGINE): Promise<TestDatabase> {
  const name = `plinth_t_${randomBytes(6).toString('hex')}`;
  if (engine === 'postgres') {
    await pgAdmin(`CREATE DATABASE "${name}"`);
    const url = new URL(PG_ADMIN);
    url.pathname = `/${name}`;
    return { url: url.toString(), drop: () => pgAdmin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
  }
  if (engine === 'mysql') {
    await mysqlAdmin(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    const url = new URL(MYSQL_ADMIN);
    url.pathname = `/${name}`;
    return { url: url.toString(), drop: () => mysqlAdmin(`DROP DATABASE IF EXISTS \`${name}\``) };
  }
  return { url: '', drop: async () => {} };
}

/** Runs one statement as PostgreSQL's administrator, on the maintenance database. */
export async function pgAdmin(sql: string): Promise<void> {
  const client = new (pg().Client)({ connectionString: PG_ADMIN });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Runs one statement as MariaDB's administrator, on no database. */
export async function mysqlAdmin(sql: string): Promise<void> {
  const conn = await mysql().createConnection(MYSQL_ADMIN);
  try {
    await conn.query(sql);
  } finally {
    await conn.end();
  }
}

/**
 * The scratch databases (`NAME_bk_...`, `NAME_old_...`) a backup or restore left beside the database of
 * `url`; none for SQLite. A finished or refused restore leaves none.
 */
export async function scratchDatabases(url: string | undefined): Promise<string[]> {
  if (!url || TEST_ENGINE === 'sqlite') return [];
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  const like = `${name.slice(0, 40)}\\_%`;
  if (TEST_ENGINE === 'postgres') {
    const client = new (pg().Client)({ connectionString: PG_ADMIN });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT datname FROM pg_database WHERE datname LIKE $1', [like]);
      return rows.map((r: { datname: string }) => r.datname);
    } finally {
      await client.end();
    }
  }
  const conn = await mysql().createConnection(MYSQL_ADMIN);
  try {
    const [rows] = await conn.query(
      'SELECT SCHEMA_NAME AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?',
      [like],
    );
    return (rows as Array<{ n: string }>).map((r) => r.n);
  } finally {
    await conn.end();
  }
}
