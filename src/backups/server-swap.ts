import type { Connection } from 'mysql2/promise';
import type { Client } from 'pg';
import { lazyPackage } from '../lib/index.ts';
import type { ServerUrl } from './server-tools.ts';

const pg = lazyPackage<typeof import('pg')>('pg');
const mysql = lazyPackage<typeof import('mysql2/promise')>('mysql2/promise');

const pgName = (name: string) => `"${name.replaceAll('"', '""')}"`;
const myName = (name: string) => `\`${name.replaceAll('`', '``')}\``;
/** PostgreSQL's "database is being accessed by other users": a session got in between; tried again. */
const IN_USE = '55006';
const SWAP_ATTEMPTS = 5;

/** A connection to PostgreSQL's maintenance database: a database cannot be renamed from inside itself. */
async function pgAdmin(server: ServerUrl): Promise<Client> {
  const client = new (pg().Client)({
    host: server.host,
    port: Number(server.port),
    user: server.user,
    password: server.password,
    database: 'postgres',
  });
  await client.connect();
  return client;
}

/** A connection to the MariaDB server, on no database in particular. */
function myAdmin(server: ServerUrl) {
  return mysql().createConnection({
    host: server.host,
    port: Number(server.port),
    user: server.user,
    password: server.password,
    multipleStatements: false,
  });
}

/** Whether `name` exists on a PostgreSQL server. */
export async function pgDatabaseExists(server: ServerUrl, name: string): Promise<boolean> {
  const admin = await pgAdmin(server);
  try {
    return (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
  } finally {
    await admin.end();
  }
}

/**
 * Lets connections into the live database again if a swap cut short by a crash left them refused. Safe at
 * every start of every node: at worst it makes a swap running on another node retry or fail, which leaves
 * the old data in use.
 */
export async function reopenPostgres(server: ServerUrl): Promise<boolean> {
  const admin = await pgAdmin(server);
  try {
    const row = (
      await admin.query('SELECT datallowconn FROM pg_database WHERE datname = $1', [server.database])
    ).rows[0] as { datallowconn: boolean } | undefined;
    if (!row || row.datallowconn) return false;
    await admin.query(`ALTER DATABASE ${pgName(server.database)} WITH ALLOW_CONNECTIONS true`);
    return true;
  } finally {
    await admin.end();
  }
}

/**
 * Swaps the verified `scratch` database in under the live name, the live one moving to `old`. New
 * connections to the live database are refused first and the open ones (this node's pool, other nodes',
 * tools') ended, because PostgreSQL renames no database anyone is connected to; both renames then commit in
 * one transaction, so the name points to the old data or the new, never neither. Pools reconnect by name
 * and find the restored database. Whatever fails, connections are let in again.
 */
export async function swapPostgres(server: ServerUrl, scratch: string, old: string): Promise<void> {
  const admin = await pgAdmin(server);
  try {
    await admin.query(`ALTER DATABASE ${pgName(server.database)} WITH ALLOW_CONNECTIONS false`);
    for (let attempt = 1; ; attempt++) {
      await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [server.database],
      );
      try {
        await admin.query('BEGIN');
        await admin.query(`ALTER DATABASE ${pgName(server.database)} RENAME TO ${pgName(old)}`);
        await admin.query(`ALTER DATABASE ${pgName(scratch)} RENAME TO ${pgName(server.database)}`);
        await admin.query('COMMIT');
        return;
      } catch (err) {
        await admin.query('ROLLBACK').catch(() => {});
        if ((err as { code?: string }).code !== IN_USE || attempt >= SWAP_ATTEMPTS) throw err;
      }
    }
  } finally {
    // After a swap the live name is the restored database, whose connections were never refused.
    await reopenPostgres(server)
      .catch(() => {})
      .finally(() => admin.end());
  }
}

/** Base tables of a MariaDB database (none when it does not exist). */
async function baseTables(conn: Connection, db: string): Promise<string[]> {
  const [rows] = await conn.query(
    "SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'",
    [db],
  );
  return (rows as Array<{ n: string }>).map((r) => r.n);
}

/** Whether the verified scratch database still holds its tables, i.e. the swap has not happened. */
export async function mariadbHoldsTables(server: ServerUrl, scratch: string): Promise<boolean> {
  const conn = await myAdmin(server);
  try {
    return (await baseTables(conn, scratch)).length > 0;
  } finally {
    await conn.end();
  }
}

/** The table, moved in with the restored tables, that says which views the live database must have. */
export const VIEWS_JOURNAL = '_plinth_restore_views';

/**
 * Writes the scratch database's views into a table of that database, their definitions pointing at the
 * live database's tables. Views cannot move between databases; this table moves with the tables, in the
 * same `RENAME TABLE`, so after the swap the live database itself says which views are still to be made.
 */
export async function journalMariadbViews(server: ServerUrl, scratch: string): Promise<void> {
  const conn = await myAdmin(server);
  try {
    const [views] = await conn.query(
      'SELECT TABLE_NAME AS n, VIEW_DEFINITION AS d FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?',
      [scratch],
    );
    const table = `${myName(scratch)}.${myName(VIEWS_JOURNAL)}`;
    await conn.query(
      `CREATE TABLE ${table} (name VARCHAR(255) PRIMARY KEY, definition LONGTEXT NOT NULL) ENGINE=InnoDB`,
    );
    for (const v of views as Array<{ n: string; d: string }>)
      await conn.query(`INSERT INTO ${table} (name, definition) VALUES (?, ?)`, [
        v.n,
        v.d.replaceAll(`${myName(scratch)}.`, `${myName(server.database)}.`),
      ]);
  } finally {
    await conn.end();
  }
}

/**
 * Moves every base table of the live database to `old` and every one of `scratch` to the live database
 * in one `RENAME TABLE`, which MariaDB applies whole or not at all; connections keep working and see the
 * new tables by name. The views follow in {@link finishMariadbViews}.
 */
export async function swapMariadb(server: ServerUrl, scratch: string, old: string): Promise<void> {
  const conn = await myAdmin(server);
  try {
    await conn.query(`CREATE DATABASE IF NOT EXISTS ${myName(old)}`);
    const moves = [
      ...(await baseTables(conn, server.database)).map(
        (t) => `${myName(server.database)}.${myName(t)} TO ${myName(old)}.${myName(t)}`,
      ),
      ...(await baseTables(conn, scratch)).map(
        (t) => `${myName(scratch)}.${myName(t)} TO ${myName(server.database)}.${myName(t)}`,
      ),
    ];
    await conn.query(`RENAME TABLE ${moves.join(', ')}`).catch(async (err) => {
      // Nothing moved: the database made for the old tables is empty, and goes.
      if (!(await baseTables(conn, old)).length) await conn.query(`DROP DATABASE IF EXISTS ${myName(old)}`);
      throw err;
    });
  } finally {
    await conn.end();
  }
}

/**
 * Makes the live database's views those of the journal a swap moved in, then drops the journal; nothing
 * to do without one. Run right after the swap and at every start: a crash between the table swap and the
 * views leaves the journal, and the next start finishes the views. Views over other views are made once
 * what they read exists.
 */
export async function finishMariadbViews(server: ServerUrl): Promise<boolean> {
  const conn = await myAdmin(server);
  try {
    const live = myName(server.database);
    if (!(await baseTables(conn, server.database)).includes(VIEWS_JOURNAL)) return false;
    const [rows] = await conn.query(`SELECT name, definition FROM ${live}.${myName(VIEWS_JOURNAL)}`);
    const [current] = await conn.query(
      'SELECT TABLE_NAME AS n FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?',
      [server.database],
    );
    for (const v of current as Array<{ n: string }>)
      await conn.query(`DROP VIEW IF EXISTS ${live}.${myName(v.n)}`);
    let pending = rows as Array<{ name: string; definition: string }>;
    while (pending.length) {
      const failed: typeof pending = [];
      let lastError: unknown;
      for (const v of pending)
        await conn.query(`CREATE VIEW ${live}.${myName(v.name)} AS ${v.definition}`).catch((err) => {
          failed.push(v);
          lastError = err;
        });
      if (failed.length === pending.length) throw lastError;
      pending = failed;
    }
    await conn.query(`DROP TABLE ${live}.${myName(VIEWS_JOURNAL)}`);
    return true;
  } finally {
    await conn.end();
  }
}
