import { CompiledQuery } from 'kysely';
import { type AnyTrx, BOUNDED_TEXT_CHARS, type Database } from '../db/index.ts';
import { type CollectionRow, collectionFromRow } from './collection.ts';
import { columnSpecs } from './column-types.ts';

/**
 * The system migration that stores the bounded text columns of tables made before bounded text existed
 * (MySQL/MariaDB: LONGTEXT → VARCHAR(255)), so that their indexes order lists and answer counts.
 *
 * One `ALTER TABLE … MODIFY` per table: atomic on InnoDB, and MariaDB turns an index's 255-character
 * prefix of the column into the whole column by itself. A crash between tables leaves the migration
 * unrecorded, and the next start does the rest: it reads the columns' types again and changes only those
 * still LONGTEXT. A column holding a longer value (written by hand: Plinth never writes one) keeps
 * LONGTEXT, which is as before: indexes over it use a prefix, and a later change of the field works on
 * either. Returns the columns changed, as `table.column`.
 */
export async function boundTextColumns(trx: AnyTrx, db: Database): Promise<string[]> {
  if (!db.dialect.boundedText) return [];
  const q = db.dialect.quote;
  const run = <R>(text: string, params: unknown[] = []) =>
    trx.executeQuery<R>(CompiledQuery.raw(text, params)).then((r) => r.rows);
  const rows = await run<CollectionRow>(`SELECT * FROM ${q('_collections')} ORDER BY ${q('id')}`);
  const changed: string[] = [];
  for (const c of rows.map((r) => collectionFromRow(r))) {
    if (c.type === 'view') continue;
    const types = new Map(
      (
        await run<{ name: string; type: string }>(
          'SELECT column_name AS name, data_type AS type FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?',
          [c.name],
        )
      ).map((r) => [String(r.name), String(r.type).toLowerCase()]),
    );
    const modify: string[] = [];
    for (const spec of columnSpecs(c).values()) {
      if (!spec.bounded || types.get(spec.name) !== 'longtext') continue;
      const long = await run(
        `SELECT 1 AS ${q('n')} FROM ${q(c.name)} WHERE CHAR_LENGTH(${q(spec.name)}) > ${BOUNDED_TEXT_CHARS} LIMIT 1`,
      );
      if (long.length) continue;
      modify.push(`MODIFY COLUMN ${db.dialect.columnSql(spec)}`);
      changed.push(`${c.name}.${spec.name}`);
    }
    if (modify.length) await run(`ALTER TABLE ${q(c.name)} ${modify.join(', ')}`);
  }
  return changed;
}
