import type { ColumnKind, SqlDialect } from '../db/index.ts';
import type { Collection } from './collection.ts';
import { fieldType } from './fields/index.ts';
import { parseViewQuery } from './view-query.ts';

/**
 * The SELECT a view collection's database view runs: the superuser's query wrapped once more, so that
 * each column comes out stored as its field's kind on every engine (ids as text, numbers as doubles,
 * JSON as valid JSON) and the records layer can read, filter and sort it like a table.
 */
export function viewSelectSql(dialect: SqlDialect, c: Collection): string {
  const query = String(c.options.viewQuery ?? '');
  // The query was checked when saved; parsing again only recovers how each column was written.
  const bare = new Map(parseViewQuery(query, () => 'readable').columns.map((col) => [col.alias, col.bare]));
  const q = dialect.quote;
  const columns = c.fields.map((f) => {
    // PostgreSQL folds an unquoted name to lower case: refer to it the way it was written.
    const ref = `_pv.${bare.get(f.name) ? f.name : q(f.name)}`;
    const kind: ColumnKind = f.name === 'id' ? 'id' : fieldType(f.type).column(f);
    return `${castAs(dialect, kind, ref)} AS ${q(f.name)}`;
  });
  return `SELECT ${columns.join(', ')} FROM (${query}) AS _pv`;
}

export function createViewSql(dialect: SqlDialect, c: Collection): string {
  return `CREATE VIEW ${dialect.quote(c.name)} AS ${viewSelectSql(dialect, c)}`;
}

export function dropViewSql(dialect: SqlDialect, name: string): string {
  return `DROP VIEW IF EXISTS ${dialect.quote(name)}`;
}

function castAs(dialect: SqlDialect, kind: ColumnKind, ref: string): string {
  const engine = dialect.name;
  if (kind === 'jsonArray' || kind === 'jsonObject') return ref;
  if (engine === 'postgres') {
    if (kind === 'number') return `CAST(${ref} AS DOUBLE PRECISION)`;
    if (kind === 'bool') return `CAST(${ref} AS BOOLEAN)`;
    if (kind === 'json') return `to_jsonb(${ref})`;
    return dialect.castTextSql(ref);
  }
  if (engine === 'mysql') {
    if (kind === 'number') return `(${ref} + 0e0)`;
    if (kind === 'bool') return ref;
    if (kind === 'json')
      return `CASE WHEN JSON_VALID(${ref}) THEN ${ref} ELSE JSON_QUOTE(CAST(${ref} AS CHAR)) END`;
    return dialect.castTextSql(ref);
  }
  if (kind === 'number' || kind === 'bool') return ref;
  if (kind === 'json') return `CASE WHEN json_valid(${ref}) THEN ${ref} ELSE json_quote(${ref}) END`;
  return dialect.castTextSql(ref);
}
