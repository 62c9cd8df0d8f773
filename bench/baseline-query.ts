// The baselines' side of the `query` scenarios (bench/query-scenario.ts): the `authors` and `books`
// tables, the one request shape they answer, and the JSON they answer with. Shared by
// bench/baseline-sqlite.ts and bench/baseline-postgres.ts, so both baselines do the same HTTP work.
//
// The request is PocketBase's list with a filter on an indexed field, a two-key sort and one expand:
//   GET /api/collections/books/records?filter=(year>=A && year<B)&sort=-year,title&expand=author
//       &perPage=N[&page=P][&skipTotal=1]
// No query language here: the baseline accepts exactly that shape (anything else is a 400) and runs
// hand-written SQL for it: the page query, one batched lookup of the page's authors for the expand, and
// a COUNT with the same WHERE unless skipTotal. It reads the two bounds, the page and perPage from the
// URL, so it answers what was asked, not a canned page.

export const BOOKS_PATH = '/api/collections/books/records';
/** Collection ids Plinth is given too (explicit ids on create), so both servers answer the same bytes. */
export const AUTHORS_COLLECTION_ID = 'pbc_bench_authors';
export const BOOKS_COLLECTION_ID = 'pbc_bench_books';

export interface AuthorRow {
  id: string;
  name: string;
  created: string;
  updated: string;
}

export interface BookRow {
  id: string;
  title: string;
  year: number;
  author: string;
  created: string;
  updated: string;
}

/** What the baseline reads from the URL; `error` when the URL is not the one shape it serves. */
export type BooksQuery =
  | { error?: undefined; from: number; to: number; page: number; perPage: number; skipTotal: boolean }
  | { error: string };

const FILTER_RE = /^\(?\s*year\s*>=\s*(\d+)\s*&&\s*year\s*<\s*(\d+)\s*\)?$/;

/** Reads the query string (without `?`) of a books list request. */
export function parseBooksQuery(search: string): BooksQuery {
  const params = new URLSearchParams(search);
  const m = FILTER_RE.exec(params.get('filter') ?? '');
  if (!m) return { error: 'Unsupported filter.' };
  if ((params.get('sort') ?? '') !== '-year,title') return { error: 'Unsupported sort.' };
  if ((params.get('expand') ?? '') !== 'author') return { error: 'Unsupported expand.' };
  const perPage = Number(params.get('perPage') ?? 30);
  const page = Number(params.get('page') ?? 1);
  if (!Number.isSafeInteger(perPage) || perPage < 1 || perPage > 1000) return { error: 'Invalid perPage.' };
  if (!Number.isSafeInteger(page) || page < 1) return { error: 'Invalid page.' };
  const skip = params.get('skipTotal');
  return {
    from: Number(m[1]),
    to: Number(m[2]),
    page,
    perPage,
    skipTotal: skip === '1' || skip === 'true',
  };
}

/** The distinct author ids of a page, in first-seen order (what the batched expand lookup asks for). */
export function authorIds(rows: BookRow[]): string[] {
  return [...new Set(rows.map((r) => r.author).filter((id) => id !== ''))];
}

function authorRecord(row: AuthorRow) {
  return {
    collectionId: AUTHORS_COLLECTION_ID,
    collectionName: 'authors',
    id: row.id,
    name: row.name,
    created: row.created,
    updated: row.updated,
  };
}

/** PocketBase's list JSON for a page of books with `expand.author`; `total` is -1 under skipTotal. */
export function booksListBody(
  q: BooksQuery & { error?: undefined },
  rows: BookRow[],
  authors: AuthorRow[],
  total: number,
) {
  const byId = new Map(authors.map((a) => [a.id, a]));
  return {
    page: q.page,
    perPage: q.perPage,
    totalItems: total,
    totalPages: total < 0 ? -1 : Math.ceil(total / q.perPage),
    items: rows.map((row) => {
      const author = byId.get(row.author);
      return {
        collectionId: BOOKS_COLLECTION_ID,
        collectionName: 'books',
        id: row.id,
        title: row.title,
        year: row.year,
        author: row.author,
        created: row.created,
        updated: row.updated,
        ...(author ? { expand: { author: authorRecord(author) } } : {}),
      };
    }),
  };
}

/**
 * The tables and index, as Plinth creates them for the collections in bench/query-scenario.ts (a
 * relation holding one id is a TEXT column; numbers are NUMERIC on SQLite and DOUBLE PRECISION on
 * PostgreSQL). Plinth's PostgreSQL tables also carry a `_rowid BIGSERIAL` of their own, as for `posts`.
 */
export function queryTablesSql(engine: 'sqlite' | 'postgres'): string[] {
  const number = engine === 'sqlite' ? 'NUMERIC' : 'DOUBLE PRECISION';
  return [
    `CREATE TABLE IF NOT EXISTS authors (
      id TEXT PRIMARY KEY NOT NULL,
      name TEXT DEFAULT '' NOT NULL,
      created TEXT DEFAULT '' NOT NULL,
      updated TEXT DEFAULT '' NOT NULL
    )`,
    `CREATE TABLE IF NOT EXISTS books (
      id TEXT PRIMARY KEY NOT NULL,
      title TEXT DEFAULT '' NOT NULL,
      year ${number} DEFAULT 0 NOT NULL,
      author TEXT DEFAULT '' NOT NULL,
      created TEXT DEFAULT '' NOT NULL,
      updated TEXT DEFAULT '' NOT NULL
    )`,
    'CREATE INDEX IF NOT EXISTS idx_books_year ON books (year)',
  ];
}
