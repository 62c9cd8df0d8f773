import type { Database, QueryOptions } from '../db/index.ts';
import { pageClause, raw, type Sql, sql } from './sql.ts';

/**
 * A list's statements, built from the same parts so that the total always counts what the page lists:
 * the page (without its LIMIT), the same with the total as one more column, and the count alone.
 */
export interface ListSql {
  select: Sql;
  selectWithTotal: Sql;
  count: Sql;
}

/**
 * The column a page's rows carry their list's total in, on server engines (`Database.countsInPage`). Never a
 * field or a log's key: names starting with `_` are reserved.
 */
const TOTAL = '_plinth_total';

/**
 * A list's statements from the columns it selects and what follows them (`FROM …`). The total is an
 * uncorrelated subquery, which the engines run once per statement (docs/decisions/0016).
 */
export function listSql(db: Database, columns: Sql, table: Sql, where: Sql, order: Sql): ListSql {
  const count = sql`SELECT COUNT(*) AS total FROM ${table}${where}`;
  return {
    select: sql`SELECT ${columns} FROM ${table}${where}${order}`,
    selectWithTotal: sql`SELECT ${columns}, (${count}) AS ${raw(db.dialect.quote(TOTAL))} FROM ${table}${where}${order}`,
    count,
  };
}

export interface PageRequest {
  perPage: number;
  offset: number;
  /** No total (-1): the page alone, one statement on every engine. */
  skipTotal?: boolean;
  /** The caller's share of the query lane. */
  ticket?: QueryOptions;
}

/** One page of a list, and its total (-1 when skipped). */
export async function readPage(
  db: Database,
  list: ListSql,
  { perPage, offset, skipTotal, ticket }: PageRequest,
): Promise<{ rows: Record<string, unknown>[]; total: number }> {
  const pageOf = pageClause(perPage, offset);
  const withPage = (select: Sql) => ({
    sql: select.text + pageOf.text,
    params: [...select.params, ...pageOf.params],
  });
  // A short page tells the total without the count (an empty one only on the first page).
  const short = (n: number) => n < perPage && (n > 0 || offset === 0);
  if (skipTotal) {
    const page = withPage(list.select);
    return { rows: await db.query(page.sql, page.params, ticket), total: -1 };
  }
  if (db.countsInPage) {
    // Server engines: the total is a column of the page's own statement (one round trip, one snapshot).
    const page = withPage(list.selectWithTotal);
    const rows = await db.query<Record<string, unknown>>(page.sql, page.params, ticket);
    if (short(rows.length)) return { rows, total: offset + rows.length };
    if (rows.length > 0) return { rows, total: Number(rows[0]?.[TOTAL]) };
    // Past the last page: no row to carry the total.
    const [counted] = await db.query<{ total?: unknown }>(list.count.text, list.count.params, ticket);
    return { rows, total: Number(counted?.total ?? 0) };
  }
  // SQLite: the page and its count in one trip to a reader, or on the event loop (one snapshot).
  const [rows = [], counted] = (await db.queryBatch(
    [withPage(list.select), { sql: list.count.text, params: list.count.params }],
    ticket,
  )) as [Record<string, unknown>[], { total?: unknown }[]];
  return { rows, total: short(rows.length) ? offset + rows.length : Number(counted?.[0]?.total ?? 0) };
}
