import type { Database } from '../db/index.ts';
import { nowString } from '../lib/index.ts';

/** Reads one JSON value from `_params` (settings, signing keys); undefined if none is stored. */
export async function readParam<T>(db: Database, id: string): Promise<T | undefined> {
  const q = db.dialect.quote;
  const rows = await db.run<{ value: string }>(
    db.kysely,
    `SELECT ${q('value')} FROM ${q('_params')} WHERE ${q('id')} = ?`,
    [id],
  );
  return rows[0] ? (JSON.parse(rows[0].value) as T) : undefined;
}

/** Stores one JSON value in `_params`, replacing any earlier one, in one transaction. */
export async function writeParam(db: Database, id: string, value: unknown): Promise<void> {
  const q = db.dialect.quote;
  const now = nowString();
  await db.transaction(async (trx) => {
    await db.run(trx, `DELETE FROM ${q('_params')} WHERE ${q('id')} = ?`, [id]);
    await db.run(
      trx,
      `INSERT INTO ${q('_params')} (${q('id')}, ${q('value')}, ${q('created')}, ${q('updated')}) VALUES (?, ?, ?, ?)`,
      [id, JSON.stringify(value), now, now],
    );
  });
}
