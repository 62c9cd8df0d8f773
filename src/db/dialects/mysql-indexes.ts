import { createHash } from 'node:crypto';
import type { ColumnKind, IndexSpec } from '../dialect.ts';

/** How the MySQL dialect quotes, writes literals and folds case (passed in to avoid an import cycle). */
export interface MysqlSqlHelpers {
  quote(identifier: string): string;
  literal(value: string | number): string;
  foldCaseSql(expr: string): string;
}

/** InnoDB's longest index key (DYNAMIC rows), in bytes; utf8mb4 takes up to 4 bytes a character. */
const MAX_KEY_BYTES = 3072;
const MAX_PREFIX_CHARS = 255;

/**
 * Kinds stored as text: LONGTEXT, indexable only by a prefix, or (bounded text) VARCHAR(255), for which a
 * prefix of 255 characters is the whole column (MariaDB makes it a whole key part, which orders and covers).
 */
const isLongText = (kind: ColumnKind | undefined) => kind !== 'id' && kind !== 'number' && kind !== 'bool';

/**
 * The invisible generated column behind a unique index: `_idx_<index name>`, shortened with a hash past
 * MySQL's 64-character identifier limit. Derived from the index name alone, so dropping the index finds it.
 */
export function uniqueKeyColumn(indexName: string): string {
  const name = `_idx_${indexName}`;
  if (name.length <= 64) return name;
  return `${name.slice(0, 47)}_${createHash('sha1').update(indexName).digest('hex').slice(0, 16)}`;
}

/**
 * The key a unique index compares: SHA-256 of the indexed values (JSON_ARRAY is an unambiguous encoding of
 * the tuple; COLLATE NOCASE columns folded like SQLite's NOCASE), or NULL for a row the index does not
 * cover — its WHERE is not true, or one of its values is NULL. NULLs never collide, as in a partial index.
 */
export function uniqueKeySql(index: IndexSpec, h: MysqlSqlHelpers): string {
  const conditions = [
    ...(index.where ?? []).map((w) => `${h.quote(w.column)} ${w.op} ${h.literal(w.value)}`),
    ...index.columns.map((c) => `${h.quote(c.name)} IS NOT NULL`),
  ];
  const values = index.columns.map((c) =>
    c.nocase && (c.kind === undefined || c.kind === 'text' || c.kind === 'id')
      ? h.foldCaseSql(h.quote(c.name))
      : h.quote(c.name),
  );
  return `CASE WHEN ${conditions.join(' AND ')} THEN UNHEX(SHA2(JSON_ARRAY(${values.join(', ')}), 256)) END`;
}

/**
 * MariaDB cannot index LONGTEXT whole, nor an expression, nor a subset of rows. A unique index therefore
 * becomes a unique index on one invisible virtual column holding `uniqueKeySql` (both added by one ALTER,
 * which fails whole on duplicates). A plain index only speeds up reads: it indexes text by a prefix, and
 * drops COLLATE NOCASE and WHERE (they change which rows it covers, never what a query returns).
 */
export function mysqlCreateIndexSql(index: IndexSpec, h: MysqlSqlHelpers): string[] {
  const table = h.quote(index.table);
  if (index.unique) {
    const column = h.quote(uniqueKeyColumn(index.name));
    return [
      `ALTER TABLE ${table} ADD COLUMN ${column} BINARY(32) AS (${uniqueKeySql(index, h)}) VIRTUAL INVISIBLE, ADD UNIQUE INDEX ${h.quote(index.name)} (${column})`,
    ];
  }
  // A column listed twice (allowed elsewhere) is an error here, and adds nothing to a plain index.
  const columns = index.columns.filter((c, i) => index.columns.findIndex((o) => o.name === c.name) === i);
  const texts = columns.filter((c) => isLongText(c.kind)).length;
  const fixed = columns.reduce(
    (sum, c) => sum + (c.kind === 'id' ? 4 * 255 : c.kind === 'number' ? 8 : c.kind === 'bool' ? 1 : 0),
    0,
  );
  const prefix = Math.max(
    1,
    Math.min(MAX_PREFIX_CHARS, Math.floor((MAX_KEY_BYTES - fixed) / (4 * Math.max(texts, 1)))),
  );
  const cols = columns.map(
    (c) => `${h.quote(c.name)}${isLongText(c.kind) ? `(${prefix})` : ''}${c.desc ? ' DESC' : ''}`,
  );
  return [`CREATE INDEX ${h.quote(index.name)} ON ${table} (${cols.join(', ')})`];
}

/** Drops an index made by `mysqlCreateIndexSql`, with its key column. */
export function mysqlDropIndexSql(index: IndexSpec, h: MysqlSqlHelpers): string[] {
  const table = h.quote(index.table);
  if (!index.unique) return [`DROP INDEX ${h.quote(index.name)} ON ${table}`];
  return [
    `ALTER TABLE ${table} DROP INDEX ${h.quote(index.name)}, DROP COLUMN ${h.quote(uniqueKeyColumn(index.name))}`,
  ];
}
