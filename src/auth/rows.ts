import type { Database } from '../db/index.ts';
import { formatDate, newRecordId } from '../lib/index.ts';

/**
 * Small SQL helpers for auth's bookkeeping collections (`_otps`, `_mfas`, `_authOrigins`,
 * `_externalAuths`): rows the auth layer writes itself, with ids and dates as the records API shows them.
 */
export async function insertRow(
  db: Database,
  table: string,
  values: Record<string, string>,
): Promise<string> {
  const q = db.dialect.quote;
  const id = newRecordId();
  const now = formatDate(new Date());
  const row: Record<string, string> = { id, ...values, created: now, updated: now };
  const names = Object.keys(row);
  await db.run(
    db.kysely,
    `INSERT INTO ${q(table)} (${names.map(q).join(', ')}) VALUES (${names.map(() => '?').join(', ')})`,
    Object.values(row),
  );
  return id;
}

export async function findRow(
  db: Database,
  table: string,
  id: string,
): Promise<Record<string, unknown> | undefined> {
  // Ids are ours ([a-z0-9]); anything else is not a row, and some engines cannot even be asked (NUL).
  if (!/^[a-z0-9]{1,100}$/.test(id)) return undefined;
  const q = db.dialect.quote;
  const rows = await db.run<Record<string, unknown>>(
    db.kysely,
    `SELECT * FROM ${q(table)} WHERE ${q('id')} = ?`,
    [id],
  );
  return rows[0];
}

/** Deletes rows matching every given column; returns nothing (callers do not need the count). */
export async function deleteRows(db: Database, table: string, where: Record<string, string>): Promise<void> {
  const q = db.dialect.quote;
  const keys = Object.keys(where);
  await db.run(
    db.kysely,
    `DELETE FROM ${q(table)} WHERE ${keys.map((k) => `${q(k)} = ?`).join(' AND ')}`,
    Object.values(where),
  );
}

/** Epoch ms of a stored date text (`2026-01-02 10:00:00.000Z`); 0 when empty or unreadable. */
export const dateMs = (text: unknown) =>
  typeof text === 'string' && text ? Date.parse(text.replace(' ', 'T')) || 0 : 0;
