// Seeding helpers shared by the scenarios that write rows straight into Plinth's tables.
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import type pg from 'pg';

/** Refuses to write rows into a table whose columns are not exactly the ones written (plus PG's _rowid). */
export function checkColumns(server: string, table: string, have: string[], want: readonly string[]): void {
  const extra = have.filter((c) => !want.includes(c) && c !== '_rowid');
  const missing = want.filter((c) => !have.includes(c));
  if (extra.length || missing.length) {
    throw new Error(
      `${server}: table ${table} has columns ${have.join(', ')}; expected ${want.join(', ')} (missing: ${missing.join(', ') || '-'}, extra: ${extra.join(', ') || '-'})`,
    );
  }
}

/** The column names of a PostgreSQL table in the current schema. */
export async function pgColumns(client: pg.Client, table: string): Promise<string[]> {
  const result = await client.query<{ name: string }>(
    'SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1',
    [table],
  );
  return result.rows.map((r) => r.name);
}

const CHUNK = 10_000;

/** Runs `insert` for every row, in SQLite transactions of 10,000 rows. */
export function insertChunked<T>(
  db: DatabaseSync,
  insert: StatementSync,
  rows: readonly T[],
  params: (row: T) => SQLInputValue[],
): void {
  for (let i = 0; i < rows.length; i += CHUNK) {
    db.exec('BEGIN IMMEDIATE');
    for (const row of rows.slice(i, i + CHUNK)) insert.run(...params(row));
    db.exec('COMMIT');
  }
}
