import type { Executor } from '../db/index.ts';
import { badRequest, notFound } from '../errors/index.ts';
import { containsNul } from '../lib/index.ts';
import { parseSort } from '../query/index.ts';
import type { Collection } from '../schema/index.ts';
import { requireRule } from './access.ts';
import type { RecordsContext } from './context.ts';
import type { AuthContext, ListQuery, ListResult, RecordValues } from './types.ts';

const DEFAULT_PER_PAGE = 30;
const MAX_PER_PAGE = 1000;

function positiveInt(value: unknown, fallback: number, name: string): number {
  if (value === undefined || value === '' || value === null) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw badRequest(`Invalid ${name} value.`);
  return n;
}

/** `GET /records`: a page of records the caller may list. */
export async function listRecords(
  ctx: RecordsContext,
  collection: Collection,
  query: ListQuery,
  auth: AuthContext,
): Promise<ListResult<Record<string, unknown>>> {
  requireRule(collection, 'listRule', auth);
  if (containsNul(query.filter) || containsNul(query.sort))
    throw badRequest('The filter and sort must not contain the NUL character (U+0000).');
  if (query.filter && query.filter.trim() !== '') throw badRequest('Filtering is not supported yet.');
  const page = Math.max(1, positiveInt(query.page, 1, 'page'));
  let perPage = positiveInt(query.perPage, DEFAULT_PER_PAGE, 'perPage');
  if (perPage <= 0) perPage = DEFAULT_PER_PAGE;
  perPage = Math.min(perPage, MAX_PER_PAGE);
  const sort = parseSort(query.sort ?? '', collection, auth.isSuperuser);
  const p = ctx.prepared(collection);
  const offset = (page - 1) * perPage;
  if (offset > Number.MAX_SAFE_INTEGER) throw badRequest('Invalid page value.');

  const [rows, total] = await Promise.all([
    ctx.db.run<Record<string, unknown>>(ctx.db.kysely, p.list(sort), [perPage, offset]),
    query.skipTotal
      ? Promise.resolve(-1)
      : ctx.db.run<{ total: number }>(ctx.db.kysely, p.count, []).then((r) => Number(r[0]?.total ?? 0)),
  ]);
  return {
    page,
    perPage,
    totalItems: total,
    totalPages: total < 0 ? -1 : Math.ceil(total / perPage),
    items: rows.map((row) => p.shape.toJson(p.shape.fromRow(row), auth)),
  };
}

/**
 * Stored values of one record, or undefined. No access check: for use cases that do their own. `forUpdate`
 * (inside a transaction) locks the row until it ends, so that what is written back from it loses nothing.
 * No id holds U+0000 (ids are checked on create), and PostgreSQL cannot even be asked about one.
 */
export async function findRecord(
  ctx: RecordsContext,
  executor: Executor,
  collection: Collection,
  id: string,
  forUpdate = false,
): Promise<RecordValues | undefined> {
  if (typeof id !== 'string' || id === '' || id.length > 255 || id.includes('\u0000')) return undefined;
  const p = ctx.prepared(collection);
  const sql = forUpdate ? p.selectByIdForUpdate : p.selectById;
  const [row] = await ctx.db.run<Record<string, unknown>>(executor, sql, [id]);
  return row ? p.shape.fromRow(row) : undefined;
}

/** `GET /records/:id`. A record the view rule hides is a 404, like a missing one. */
export async function viewRecord(
  ctx: RecordsContext,
  collection: Collection,
  id: string,
  auth: AuthContext,
): Promise<Record<string, unknown>> {
  requireRule(collection, 'viewRule', auth);
  const values = await findRecord(ctx, ctx.db.kysely, collection, id);
  if (!values) throw notFound();
  return ctx.prepared(collection).shape.toJson(values, auth);
}
