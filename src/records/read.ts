import type { Database, Executor } from '../db/index.ts';
import { badRequest, forbidden, notFound } from '../errors/index.ts';
import { containsNul } from '../lib/index.ts';
import {
  type CompileContext,
  type CostGroup,
  compileFilter,
  compileSort,
  type Expr,
  joinSql,
  type ListSql,
  listSql,
  param,
  parseFilter,
  parseSort,
  raw,
  readPage,
  type SortKey,
  type Sql,
  sql,
  toBadRequest,
} from '../query/index.ts';
import type { Collection } from '../schema/index.ts';
import { canManage, requireRule, ruleOf } from './access.ts';
import type { RecordsContext } from './context.ts';
import { clientQueryContext, managesColumn, type RuleScope, ruleScope } from './rules.ts';
import type { AuthContext, ListQuery, ListResult, RecordValues } from './types.ts';

const DEFAULT_PER_PAGE = 30;
/** The list column telling whether the caller manages each auth record (never a field: `_` is reserved). */
export const MANAGES = '_plinth_manages';
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
  // PocketBase's order: a `null` rule, then identifiers only superusers may filter or sort by.
  requireRule(collection, 'listRule', auth);
  if (!auth.isSuperuser) checkClientIdentifiers(query);
  const scope = ruleScope(ctx, collection, 'listRule', auth);
  if (containsNul(query.filter) || containsNul(query.sort))
    throw badRequest('The filter and sort must not contain the NUL character (U+0000).');
  const page = Math.max(1, positiveInt(query.page, 1, 'page'));
  let perPage = positiveInt(query.perPage, DEFAULT_PER_PAGE, 'perPage');
  if (perPage <= 0) perPage = DEFAULT_PER_PAGE;
  perPage = Math.min(perPage, MAX_PER_PAGE);
  const offset = (page - 1) * perPage;
  if (offset > Number.MAX_SAFE_INTEGER) throw badRequest('Invalid page value.');
  const p = ctx.prepared(collection);
  // Managers see private emails: all records (manageRule "") or those a per-row column says (expression).
  const managesAll = collection.type === 'auth' && canManage(collection, auth);

  const manages = managesColumn(ctx, collection, auth);
  let list: CompiledList;
  if (!query.filter?.trim() && !query.sort?.trim() && scope.kind === 'all' && !manages) {
    // The hot path: SQL prepared once per collection.
    list = p.list;
  } else {
    list = compiledList(ctx, collection, query, auth, scope, manages);
    await ctx.fanout.check(list.costs, auth.ticket);
  }
  const { rows, total } = await readPage(ctx.db, list, {
    perPage,
    offset,
    skipTotal: query.skipTotal,
    ticket: auth.ticket,
  });
  return {
    page,
    perPage,
    totalItems: total,
    totalPages: total < 0 ? -1 : Math.ceil(total / perPage),
    items: rows.map((row) =>
      p.shape.toJson(
        p.shape.fromRow(row),
        auth,
        managesAll || Number(row[MANAGES]) === 1 || row[MANAGES] === true,
      ),
    ),
  };
}

/** A list's statements (the page, with its total, the count) and the cost groups its filter's joins add up to. */
export interface CompiledList extends ListSql {
  costs: CostGroup[];
}

/** A list's statements (query/page.ts) with the cost groups of its filter. */
export function listStatements(
  db: Database,
  columns: Sql,
  table: Sql,
  where: Sql,
  order: Sql,
  costs: CostGroup[] = [],
): CompiledList {
  return { ...listSql(db, columns, table, where, order), costs };
}

/** What only superusers may use in a client's filter or sort (PocketBase's list, matched as it does). */
const SUPERUSER_ONLY = ['@collection.', '@request.'];

/**
 * PocketBase's 403 for a filter or sort that names `@collection.*` or `@request.*`, found as plain text
 * (inside a quoted value too), before anything is parsed: rules may read them, a client may not.
 */
function checkClientIdentifiers(query: ListQuery): void {
  for (const text of [query.filter, query.sort]) {
    if (!text) continue;
    const found = SUPERUSER_ONLY.find((name) => text.includes(name));
    if (found) throw forbidden(`Only superusers can filter by ${found}`);
  }
}

/** Parses or compiles client input, turning its problems into PocketBase's 400 naming the parameter. */
function clientInput<T>(param: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw toBadRequest(err, param) ?? err;
  }
}

/**
 * Text that, in a filter or sort, can make the compiled SQL depend on more than the collection's own columns
 * and who is a superuser: `@` (request, collection, macros of the current time), `.` (paths through
 * relations, whose targets' list rules are compiled for the caller) and back-relations.
 */
const CONTEXTUAL = /[@.]|_via_/;

/**
 * The list's SQL, compiled once per collection version for a filter and sort that read only the collection's
 * own fields (the common case: a client asking for the same page shape again and again), and compiled afresh
 * otherwise. The prepared collection is dropped on every schema change, and its cache with it.
 */
function compiledList(
  ctx: RecordsContext,
  collection: Collection,
  query: ListQuery,
  auth: AuthContext,
  scope: RuleScope,
  manages: Sql | undefined,
): CompiledList {
  const compile = () => {
    const filter = clientInput('filter', () =>
      query.filter?.trim() ? parseFilter(query.filter) : undefined,
    );
    const sort = clientInput('sort', () => parseSort(query.sort ?? ''));
    return compileList(ctx, collection, filter, sort, auth, scope, manages);
  };
  const text = `${query.filter ?? ''}\u0000${query.sort ?? ''}`;
  // An auth collection's email reads differently for its owner, so its lists are compiled per request.
  if (scope.kind !== 'all' || manages || collection.type === 'auth' || CONTEXTUAL.test(text))
    return compile();
  const cache = ctx.prepared(collection).lists;
  const key = `${auth.isSuperuser ? 's' : 'c'}${text}`;
  let found = cache.get(key);
  if (!found) {
    // Only what compiled is kept: a bad filter or sort is parsed, and refused, every time.
    found = compile();
    if (cache.size >= LIST_CACHE_LIMIT) cache.clear();
    cache.set(key, found);
  }
  return found;
}

/** Distinct filter and sort pairs kept compiled per collection; a flood of one-off filters only clears it. */
const LIST_CACHE_LIMIT = 128;

function compileList(
  ctx: RecordsContext,
  collection: Collection,
  filter: Expr | undefined,
  sort: SortKey[],
  auth: AuthContext,
  scope: RuleScope,
  manages: Sql | undefined,
): CompiledList {
  const costs: CostGroup[] = [];
  const qctx: CompileContext = { ...clientQueryContext(ctx, collection, auth), costs };
  const table = raw(qctx.baseRef);
  // The list rule is ANDed in: the caller sees (and counts) only what it may list.
  const conditions: Sql[] = scope.kind === 'where' ? [sql`(${scope.sql})`] : [];
  if (filter) conditions.push(clientInput('filter', () => sql`(${compileFilter(filter, qctx)})`));
  const where = conditions.length ? sql` WHERE ${joinSql(conditions, ' AND ')}` : raw('');
  const order = sort.length ? clientInput('sort', () => sql` ORDER BY ${compileSort(sort, qctx)}`) : raw('');
  const columns = manages
    ? sql`${table}.*, (CASE WHEN ${manages} THEN 1 ELSE 0 END) AS ${raw(ctx.db.dialect.quote(MANAGES))}`
    : sql`${table}.*`;
  return listStatements(ctx.db, columns, table, where, order, costs);
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
  const scope = ruleScope(ctx, collection, 'viewRule', auth);
  const values = await findRecord(ctx, ctx.db.kysely, collection, id);
  if (!values || !(await ruleAllows(ctx, ctx.db.kysely, collection, id, scope, auth))) throw notFound();
  const manages = collection.type === 'auth' && (await managesRecord(ctx, collection, id, auth));
  return ctx.prepared(collection).shape.toJson(values, auth, manages);
}

/**
 * True if the caller manages the auth record `id` (may change its email, password without the old one,
 * and verified state): superusers, and callers the collection's `manageRule` lets through for that record.
 * `body` is the update's body as rules read it (`InputResult.ruleBody`).
 */
export async function managesRecord(
  ctx: RecordsContext,
  collection: Collection,
  id: string,
  auth: AuthContext,
  body: Record<string, unknown> = {},
) {
  if (collection.type !== 'auth') return false;
  if (canManage(collection, auth)) return true;
  if (ruleOf(collection, 'manageRule') === null) return false;
  const scope = ruleScope(ctx, collection, 'manageRule', auth, body);
  return ruleAllows(ctx, ctx.db.kysely, collection, id, scope, auth);
}

/**
 * True if the record `id` is within the rule's scope, read through `executor` (inside a transaction), or
 * in the query lane as `auth`'s query when `executor` is the database itself.
 */
export async function ruleAllows(
  ctx: RecordsContext,
  executor: Executor,
  collection: Collection,
  id: string,
  scope: RuleScope,
  auth?: AuthContext,
): Promise<boolean> {
  if (scope.kind === 'all') return true;
  const table = raw(ctx.db.dialect.quote(collection.name));
  const q = sql`SELECT 1 AS ${raw(ctx.db.dialect.quote('ok'))} FROM ${table} WHERE ${table}.${raw(ctx.db.dialect.quote('id'))} = ${param(id)} AND (${scope.sql})`;
  // Outside a transaction a rule's cost depends on the data: it runs in the query lane.
  const rows =
    executor === ctx.db.kysely
      ? await ctx.db.query(q.text, q.params, auth?.ticket)
      : await ctx.db.run(executor, q.text, q.params);
  return rows.length > 0;
}
