import { createHash, randomBytes } from 'node:crypto';
import { lazyPackage } from '../lib/index.ts';
import type { ServerUrl } from './server-tools.ts';
import type { DatabaseSummary } from './sqlite-snapshot.ts';

const pg = lazyPackage<typeof import('pg')>('pg');
const mysql = lazyPackage<typeof import('mysql2/promise')>('mysql2/promise');

/** One connection to the server, to the database named in `db` (or to `postgres`/none for admin work). */
async function connect(db: ServerUrl, database = db.database) {
  if (db.engine === 'postgres') {
    const client = new (pg().Client)({
      host: db.host,
      port: Number(db.port),
      user: db.user,
      password: db.password,
      database,
    });
    await client.connect();
    return {
      query: async (sql: string) => (await client.query(sql)).rows as Record<string, unknown>[],
      q: (name: string) => `"${name.replaceAll('"', '""')}"`,
      close: () => client.end(),
    };
  }
  const conn = await mysql().createConnection({
    host: db.host,
    port: Number(db.port),
    user: db.user,
    password: db.password,
    database: database || undefined,
    charset: 'utf8mb4_bin',
    dateStrings: true,
    supportBigNumbers: true,
  });
  return {
    query: async (sql: string) => (await conn.query(sql))[0] as Record<string, unknown>[],
    q: (name: string) => `\`${name.replaceAll('`', '``')}\``,
    close: () => conn.end(),
  };
}

/** A name for a scratch database beside the live one, named after it. */
export const scratchName = (db: ServerUrl) =>
  `${db.database.slice(0, 40)}_bk_${randomBytes(4).toString('hex')}`;

/** A new empty database beside the live one (named `name`, or a new scratch name); answers its URL parts. */
export async function createScratch(db: ServerUrl, name = scratchName(db)): Promise<ServerUrl> {
  const admin = await connect(db);
  try {
    await admin.query(
      db.engine === 'postgres'
        ? `CREATE DATABASE ${admin.q(name)}`
        : `CREATE DATABASE ${admin.q(name)} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
    );
  } finally {
    await admin.close();
  }
  return { ...db, database: name };
}

/** Drops a scratch database (PostgreSQL: closing any session still on it). */
export async function dropScratch(db: ServerUrl, scratch: ServerUrl): Promise<void> {
  const admin = await connect(db);
  try {
    await admin.query(
      `DROP DATABASE IF EXISTS ${admin.q(scratch.database)}${db.engine === 'postgres' ? ' WITH (FORCE)' : ''}`,
    );
  } finally {
    await admin.close();
  }
}

/** The same summary as on SQLite (sqlite-worker.js): `_collections` rows hashed in id order, counts per table. */
export async function summarizeServer(db: ServerUrl): Promise<DatabaseSummary> {
  const c = await connect(db);
  try {
    const cols = [
      'id',
      'name',
      'type',
      'fields',
      'indexes',
      'listRule',
      'viewRule',
      'createRule',
      'updateRule',
      'deleteRule',
      'options',
    ];
    const rows = await c.query(
      `SELECT ${cols.map(c.q).join(', ')} FROM ${c.q('_collections')} ORDER BY ${c.q('id')}`,
    );
    const hash = createHash('sha256');
    for (const row of rows) hash.update(`${JSON.stringify(cols.map((k) => row[k] ?? null))}\n`);
    const counts: Record<string, number> = {};
    for (const row of rows) {
      if (row.type === 'view') continue;
      const [n] = await c.query(`SELECT count(*) AS n FROM ${c.q(String(row.name))}`);
      counts[String(row.name)] = Number(n?.n);
    }
    return { schemaChecksum: hash.digest('hex'), counts };
  } finally {
    await c.close();
  }
}
