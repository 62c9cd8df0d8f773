import type { Database } from '../db/index.ts';
import { badRequest, notFound } from '../errors/index.ts';
import { containsNul } from '../lib/index.ts';
import {
  type CompileContext,
  compileFilter,
  compileSort,
  joinSql,
  listSql,
  parseFilter,
  parseSort,
  queryDialect,
  raw,
  readPage,
  type Sql,
  sql,
  toBadRequest,
} from '../query/index.ts';
import { LOGS_COLLECTION, LOGS_TABLE, LOGS_VIEW, seqOfId } from './table.ts';

export interface LogsQuery {
  page?: unknown;
  perPage?: unknown;
  sort?: string;
  filter?: string;
  skipTotal?: boolean;
}

export interface LogRow {
  id: string;
  created: string;
  level: number;
  message: string;
  data: Record<string, unknown>;
}

const DEFAULT_PER_PAGE = 30;
const MAX_PER_PAGE = 1000;

/** Reads `_logs` for the superuser routes: pages filtered and sorted in the query language, one entry, stats. */
export function createLogReader(db: Database) {
  const q = db.dialect.quote;
  const dialect = queryDialect(db.dialect);
  // SQLite's table is keyed by `seq` and read through a view that makes the id and message (table.ts).
  const keyed = db.dialect.name === 'sqlite';
  const table = q(keyed ? LOGS_VIEW : LOGS_TABLE);
  const key = `${table}.${q(keyed ? 'seq' : 'id')}`;
  const columns = ['id', 'created', 'level', 'message', 'data'].map((c) => `${table}.${q(c)}`).join(', ');

  function context(): CompileContext {
    let n = 0;
    return {
      dialect,
      base: LOGS_COLLECTION,
      baseRef: table,
      isSuperuser: true,
      collection: () => undefined,
      alias: () => `_q${++n}`,
      now: new Date(),
    };
  }

  /** The WHERE clause of a client's filter, or nothing; its problems are PocketBase's 400. */
  function where(filter: string | undefined, ctx: CompileContext): Sql {
    if (containsNul(filter)) throw badRequest('The filter must not contain the NUL character (U+0000).');
    if (!filter?.trim()) return raw('');
    return clientInput('filter', () => sql` WHERE ${compileFilter(parseFilter(filter), ctx)}`);
  }

  const fromRow = (row: Record<string, unknown>): LogRow => ({
    id: String(row.id),
    created: String(row.created),
    level: Number(row.level),
    message: String(row.message),
    data: parseData(row.data),
  });

  return {
    /** `GET /api/logs`: newest first unless `sort` says otherwise (`@rowid` is the order of writing). */
    async list(query: LogsQuery) {
      const page = Math.max(1, whole(query.page, 1, 'page'));
      let perPage = whole(query.perPage, DEFAULT_PER_PAGE, 'perPage');
      if (perPage <= 0) perPage = DEFAULT_PER_PAGE;
      perPage = Math.min(perPage, MAX_PER_PAGE);
      const offset = (page - 1) * perPage;
      if (containsNul(query.sort)) throw badRequest('The sort must not contain the NUL character (U+0000).');
      const ctx = context();
      const filter = where(query.filter, ctx);
      // Ids are made in time order and `_logs` has no `created` index (table.ts): `created` sorts as the
      // key, and so do the id and `@rowid` (the order of writing).
      const keys = clientInput('sort', () => parseSort(query.sort ?? ''));
      const byKey = (k: (typeof keys)[number]) =>
        k.kind === 'rowid' || (k.kind === 'field' && (k.name === 'created' || k.name === 'id'));
      const terms = keys.map((k) =>
        byKey(k)
          ? raw(`${key} ${'desc' in k && k.desc ? 'DESC' : 'ASC'}`)
          : clientInput('sort', () => compileSort([k], ctx)),
      );
      const order = terms.length ? sql` ORDER BY ${joinSql(terms, ', ')}` : raw(` ORDER BY ${key} DESC`);
      const list = listSql(db, raw(columns), raw(table), filter, order);
      const { rows, total } = await readPage(db, list, { perPage, offset, skipTotal: query.skipTotal });
      return {
        page,
        perPage,
        totalItems: total,
        totalPages: total < 0 ? -1 : Math.ceil(total / perPage),
        items: rows.map(fromRow),
      };
    },

    /** `GET /api/logs/{id}`. */
    async view(id: string): Promise<LogRow> {
      if (!id || id.length > 255 || containsNul(id)) throw notFound();
      const seq = keyed ? seqOfId(id) : id;
      if (seq === undefined) throw notFound();
      const [row] = await db.run<Record<string, unknown>>(
        db.kysely,
        `SELECT ${columns} FROM ${table} WHERE ${key} = ?`,
        [seq],
      );
      if (!row) throw notFound();
      return fromRow(row);
    },

    /** `GET /api/logs/stats`: how many entries each hour had (hours with none are left out), oldest first. */
    async stats(filter: string | undefined): Promise<{ total: number; date: string }[]> {
      const ctx = context();
      const hour = raw(`SUBSTR(${table}.${q('created')}, 1, 13)`);
      const text = sql`SELECT ${hour} AS ${raw(q('hour'))}, COUNT(*) AS ${raw(q('total'))} FROM ${raw(table)}${where(filter, ctx)} GROUP BY ${hour} ORDER BY ${hour}`;
      const rows = await db.query<{ hour: string; total: unknown }>(text.text, text.params);
      return rows.map((r) => ({ total: Number(r.total), date: `${r.hour}:00:00.000Z` }));
    },
  };
}

export type LogReader = ReturnType<typeof createLogReader>;

function whole(value: unknown, fallback: number, name: string): number {
  if (value === undefined || value === '' || value === null) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw badRequest(`Invalid ${name} value.`);
  return n;
}

/** PostgreSQL and MySQL answer JSON columns parsed, SQLite as text. */
function parseData(value: unknown): Record<string, unknown> {
  if (typeof value !== 'string') return (value ?? {}) as Record<string, unknown>;
  try {
    return JSON.parse(value) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** Problems of a client's filter or sort as PocketBase's 400 naming the parameter. */
function clientInput<T>(param: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw toBadRequest(err, param) ?? err;
  }
}
