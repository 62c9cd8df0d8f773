// The `query` scenarios: a list over 100,000 records with a filter on an indexed field, a two-key sort
// and one expand, with and without the total count:
//
//   GET /api/collections/books/records?filter=(year>=1990 && year<2000)&sort=-year,title&expand=author
//       &perPage=30                  (query)
//       ...&skipTotal=1              (query-skiptotal)
//
// `books` (title, year, author -> authors; index on year) holds 100,000 records across 1,000 `authors`,
// generated from a fixed seed: years 1925-2024 evenly, so the filter matches about 10%. Seeding goes
// straight into the tables in transactions (100,000 creates over HTTP would take minutes per server);
// Plinth gets its collections through its API first, and the bench checks that its tables have exactly
// the columns the rows are written to. Both servers hold the same rows, so the check before load compares
// each answer, item by item (ids, order, every field, expand.author), with the page computed here in JS.
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import {
  AUTHORS_COLLECTION_ID,
  type AuthorRow,
  BOOKS_COLLECTION_ID,
  BOOKS_PATH,
  type BookRow,
  booksListBody,
} from './baseline-query.ts';
import { idSource, prng } from './random.ts';
import type { Scenario, Target } from './scenarios.ts';
import { checkColumns, insertChunked, pgColumns } from './seed.ts';
import { api, type BenchDb, type RunningServer } from './servers.ts';

const FILTER = { from: 1990, to: 2000 };
const PER_PAGE = 30;
const QUERY_PATH =
  `${BOOKS_PATH}?filter=${encodeURIComponent(`(year>=${FILTER.from} && year<${FILTER.to})`)}` +
  `&sort=-year,title&expand=author&perPage=${PER_PAGE}`;

/** The generated rows both servers are seeded with. */
export interface QueryDataset {
  authors: AuthorRow[];
  books: BookRow[];
}

/**
 * `books` records over `books / 100` authors (at least 1). Titles are `Book 000123` with the numbers a
 * random permutation, so title order is unrelated to insertion order and every engine and collation
 * sorts them alike (same prefix, then digits). Timestamps are one second apart from 2024-01-01.
 */
export function generateDataset(books: number): QueryDataset {
  const rand = prng(0x9e3779b9);
  const newId = idSource(rand);
  const base = Date.UTC(2024, 0, 1);
  let clock = 0;
  const stamp = () => new Date(base + 1000 * clock++).toISOString().replace('T', ' ');
  const authorCount = Math.max(1, Math.round(books / 100));
  const authors: AuthorRow[] = [];
  for (let i = 0; i < authorCount; i++) {
    const s = stamp();
    authors.push({ id: newId(), name: `Author ${String(i + 1).padStart(4, '0')}`, created: s, updated: s });
  }
  const numbers = Array.from({ length: books }, (_, i) => i);
  for (let i = books - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [numbers[i], numbers[j]] = [numbers[j]!, numbers[i]!];
  }
  const rows: BookRow[] = [];
  for (let i = 0; i < books; i++) {
    const s = stamp();
    rows.push({
      id: newId(),
      title: `Book ${String(numbers[i]).padStart(6, '0')}`,
      year: 1925 + Math.floor(rand() * 100),
      author: authors[Math.floor(rand() * authorCount)]!.id,
      created: s,
      updated: s,
    });
  }
  return { authors, books: rows };
}

/** The answer both servers must give, computed from the dataset (binary string order for titles). */
export function expectedAnswer(data: QueryDataset, skipTotal: boolean) {
  const matching = data.books.filter((b) => b.year >= FILTER.from && b.year < FILTER.to);
  matching.sort((a, b) => b.year - a.year || (a.title < b.title ? -1 : a.title > b.title ? 1 : 0));
  const rows = matching.slice(0, PER_PAGE);
  const ids = new Set(rows.map((r) => r.author));
  const q = { ...FILTER, page: 1, perPage: PER_PAGE, skipTotal };
  return booksListBody(
    q,
    rows,
    data.authors.filter((a) => ids.has(a.id)),
    skipTotal ? -1 : matching.length,
  );
}

/** JSON with object keys sorted, so key order (which PocketBase's clients ignore) does not count. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : x,
  );
}

/** Where `got` first differs from `want` (list fields, then item by item), or null when they match. */
function difference(got: unknown, want: ReturnType<typeof expectedAnswer>): string | null {
  const g = (got ?? {}) as Record<string, unknown>;
  for (const k of ['page', 'perPage', 'totalItems', 'totalPages'] as const) {
    if (g[k] !== want[k]) return `${k} ${JSON.stringify(g[k])}, expected ${want[k]}`;
  }
  if (!Array.isArray(g.items)) return 'no items array';
  if (g.items.length !== want.items.length) return `${g.items.length} items, expected ${want.items.length}`;
  for (let i = 0; i < want.items.length; i++) {
    const item = (g.items[i] ?? {}) as Record<string, unknown>;
    const expected = want.items[i] as Record<string, unknown>;
    for (const k of new Set([...Object.keys(expected), ...Object.keys(item)])) {
      const a = canonical(item[k]);
      const b = canonical(expected[k]);
      if (a !== b)
        return `item ${i} (id ${String(item.id)}): ${k} is ${a?.slice(0, 300)}, expected ${b?.slice(0, 300)}`;
    }
  }
  return null;
}

/** The two scenarios; `check` is the same comparison {@link verifyQuery} makes. */
export function queryScenarios(data: () => QueryDataset): Scenario[] {
  const scenario = (name: string, skipTotal: boolean): Scenario => ({
    name,
    method: 'GET',
    path: () => (skipTotal ? `${QUERY_PATH}&skipTotal=1` : QUERY_PATH),
    check: (json) => difference(json, expectedAnswer(data(), skipTotal)),
  });
  return [scenario('query', false), scenario('query-skiptotal', true)];
}

/** Plinth's collections for the scenario: public list/view (the expand needs authors' view rule). */
const AUTHORS_COLLECTION = {
  id: AUTHORS_COLLECTION_ID,
  name: 'authors',
  type: 'base',
  listRule: '',
  viewRule: '',
  fields: [
    { name: 'name', type: 'text' },
    { name: 'created', type: 'autodate', onCreate: true, onUpdate: false },
    { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
  ],
};
const BOOKS_COLLECTION = {
  id: BOOKS_COLLECTION_ID,
  name: 'books',
  type: 'base',
  listRule: '',
  viewRule: '',
  fields: [
    { name: 'title', type: 'text' },
    { name: 'year', type: 'number' },
    { name: 'author', type: 'relation', collectionId: AUTHORS_COLLECTION_ID, maxSelect: 1 },
    { name: 'created', type: 'autodate', onCreate: true, onUpdate: false },
    { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
  ],
  indexes: ['CREATE INDEX idx_books_year ON books (year)'],
};

const AUTHOR_COLUMNS = ['id', 'name', 'created', 'updated'] as const;
const BOOK_COLUMNS = ['id', 'title', 'year', 'author', 'created', 'updated'] as const;

/** Creates Plinth's collections through its API (the baselines create their tables at start). */
async function createPlinthCollections(server: RunningServer): Promise<void> {
  for (const body of [AUTHORS_COLLECTION, BOOKS_COLLECTION]) {
    const res = await api(server.baseUrl, 'POST', '/api/collections', body, server.adminHeaders);
    if (res.status !== 200) {
      throw new Error(`creating the ${body.name} collection failed: ${res.status} ${res.text.slice(0, 300)}`);
    }
  }
}

function seedSqlite(server: string, file: string, data: QueryDataset): void {
  const db = new DatabaseSync(file);
  try {
    db.exec('PRAGMA busy_timeout = 10000');
    const columns = (table: string) =>
      (db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((c) => c.name);
    checkColumns(server, 'authors', columns('authors'), AUTHOR_COLUMNS);
    checkColumns(server, 'books', columns('books'), BOOK_COLUMNS);
    const insertAuthor = db.prepare('INSERT INTO authors (id, name, created, updated) VALUES (?, ?, ?, ?)');
    const insertBook = db.prepare(
      'INSERT INTO books (id, title, year, author, created, updated) VALUES (?, ?, ?, ?, ?, ?)',
    );
    db.exec('BEGIN IMMEDIATE');
    for (const a of data.authors) insertAuthor.run(a.id, a.name, a.created, a.updated);
    db.exec('COMMIT');
    insertChunked(db, insertBook, data.books, (b) => [b.id, b.title, b.year, b.author, b.created, b.updated]);
    // Planner statistics on both servers alike, so both plan from the same facts.
    db.exec('ANALYZE');
  } finally {
    db.close();
  }
}

async function seedPostgres(server: string, url: string, data: QueryDataset): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const columns = (table: string) => pgColumns(client, table);
    checkColumns(server, 'authors', await columns('authors'), AUTHOR_COLUMNS);
    checkColumns(server, 'books', await columns('books'), BOOK_COLUMNS);
    await client.query('BEGIN');
    await client.query(
      'INSERT INTO authors (id, name, created, updated) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])',
      AUTHOR_COLUMNS.map((c) => data.authors.map((a) => a[c])),
    );
    const CHUNK = 10_000;
    for (let i = 0; i < data.books.length; i += CHUNK) {
      const chunk = data.books.slice(i, i + CHUNK);
      await client.query(
        'INSERT INTO books (id, title, year, author, created, updated) SELECT * FROM unnest($1::text[], $2::text[], $3::float8[], $4::text[], $5::text[], $6::text[])',
        BOOK_COLUMNS.map((c) => chunk.map((b) => b[c])),
      );
    }
    await client.query('COMMIT');
    // Statistics and the visibility map now, on both servers alike: otherwise autovacuum would do it
    // some time into the measurements, changing plans (and index-only COUNTs) halfway through.
    await client.query('VACUUM ANALYZE authors');
    await client.query('VACUUM ANALYZE books');
  } finally {
    await client.end();
  }
}

/** Seeds one server (Plinth: collections through the API first) with the dataset's rows. */
export async function seedQuery(server: RunningServer, data: QueryDataset): Promise<void> {
  if (server.name === 'plinth') await createPlinthCollections(server);
  const db: BenchDb = server.db;
  if (db.engine === 'sqlite') seedSqlite(server.name, db.file, data);
  else await seedPostgres(server.name, db.url, data);
}

/**
 * Sends each query scenario's request once to each server and compares the answer with the expected
 * page: the same ids in the same order, the same fields, the same expand.author, the same totals.
 */
export async function verifyQuery(targets: Target[], scenarios: Scenario[]): Promise<string[]> {
  const problems: string[] = [];
  for (const target of targets) {
    for (const s of scenarios) {
      const res = await api(target.server.baseUrl, s.method, s.path(target));
      const problem =
        res.status !== 200 ? `status ${res.status}: ${res.text.slice(0, 300)}` : s.check(res.json, target);
      if (problem) problems.push(`${target.server.name} ${s.name}: ${problem}`);
    }
  }
  return problems;
}
