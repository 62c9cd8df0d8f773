import type { Database } from '../db/index.ts';
import { nowString } from '../lib/index.ts';

/** Reads one JSON value from `_params` (settings, signing keys); undefined if none is stored. */
export async function readParam<T>(db: Database, id: string): Promise<T | undefined> {
  const text = await readParamText(db, id);
  return text === undefined ? undefined : (JSON.parse(text) as T);
}

/**
 * Stores one JSON value in `_params`, replacing any earlier one, in one transaction. Two writers at once
 * (two nodes on a new database): the second's INSERT meets the first's row, which its DELETE could not see
 * yet; it tries again, and the last to commit wins.
 */
export async function writeParam(db: Database, id: string, value: unknown): Promise<void> {
  const q = db.dialect.quote;
  for (let attempt = 1; ; attempt++) {
    const now = nowString();
    try {
      await db.transaction(async (trx) => {
        await db.run(trx, `DELETE FROM ${q('_params')} WHERE ${q('id')} = ?`, [id]);
        await db.run(
          trx,
          `INSERT INTO ${q('_params')} (${q('id')}, ${q('value')}, ${q('created')}, ${q('updated')}) VALUES (?, ?, ?, ?)`,
          [id, JSON.stringify(value), now, now],
        );
      });
      return;
    } catch (err) {
      if (attempt >= 3 || db.dialect.translateError(err)?.kind !== 'unique') throw err;
    }
  }
}

/**
 * Stores one JSON value in `_params` unless one is there already; answers whether it did. For a value
 * made once (the first signing key): of two nodes starting on a new database, one stores its own and the
 * other finds it.
 */
export async function insertParam(db: Database, id: string, value: unknown): Promise<boolean> {
  const q = db.dialect.quote;
  const now = nowString();
  try {
    await db.run(
      db.kysely,
      `INSERT INTO ${q('_params')} (${q('id')}, ${q('value')}, ${q('created')}, ${q('updated')}) VALUES (?, ?, ?, ?)`,
      [id, JSON.stringify(value), now, now],
    );
    return true;
  } catch (err) {
    if (db.dialect.translateError(err)?.kind === 'unique') return false;
    throw err;
  }
}

/** The stored JSON text of one `_params` value, as it is in the database. */
export async function readParamText(db: Database, id: string): Promise<string | undefined> {
  const q = db.dialect.quote;
  const rows = await db.run<{ value: string }>(
    db.kysely,
    `SELECT ${q('value')} FROM ${q('_params')} WHERE ${q('id')} = ?`,
    [id],
  );
  return rows[0]?.value;
}

/**
 * Replaces a `_params` value only if it still holds `previous` (its text as read): a background re-write
 * (re-encrypting secrets) that cannot undo a change another node made meanwhile.
 */
export async function swapParam(db: Database, id: string, previous: string, value: unknown): Promise<void> {
  const q = db.dialect.quote;
  await db.run(
    db.kysely,
    `UPDATE ${q('_params')} SET ${q('value')} = ?, ${q('updated')} = ? WHERE ${q('id')} = ? AND ${q('value')} = ?`,
    [JSON.stringify(value), nowString(), id, previous],
  );
}
