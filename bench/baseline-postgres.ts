// The bare PostgreSQL baseline: what plain `node:http` + `pg` can do for the same requests Plinth serves
// in the benchmark, on the same engine (get, list and create on `posts`; the books list of the `query`
// scenarios, see bench/baseline-query.ts). Like bench/baseline-sqlite.ts (whose helpers it shares,
// so both baselines send the same bytes) it is deliberately minimal, but it does the same database work
// as Plinth on PostgreSQL: a `posts` table of the same shape (TEXT id primary key, TEXT title,
// DOUBLE PRECISION n, TEXT created/updated) with the same index on `created`, a pool of 10 connections
// (Plinth's pool size), and the list runs its COUNT too, alongside the page query on a second connection
// (Plinth sends it as a column of the page's statement: src/records/read.ts).
// Every query is a named (prepared) statement: parsed and planned once per connection, then only bound
// and executed.
//
// Run standalone against a database you created:
//   node bench/baseline-postgres.ts --port 8092 --url postgres://postgres@127.0.0.1:5432/DB [--seed 1000]
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import pg from 'pg';
import {
  type AuthorRow,
  authorIds,
  BOOKS_PATH,
  type BookRow,
  booksListBody,
  parseBooksQuery,
  queryTablesSql,
} from './baseline-query.ts';
import {
  newId,
  nowStamp,
  PER_PAGE,
  type PostRow,
  RECORDS_PATH,
  readBody,
  send,
  toRecord,
} from './baseline-sqlite.ts';

/** Options for {@link startBaselinePostgres}; `seed` inserts that many records before listening. */
export interface PostgresBaselineOptions {
  port: number;
  host?: string;
  /** `postgres://` URL of an existing (normally empty) database; the table is created if missing. */
  url: string;
  seed?: number;
}

// The statements, each with a name: `pg` prepares a named statement once per connection and afterwards
// sends only Bind/Execute. Same columns and order as Plinth's table (Plinth also adds a `_rowid`
// BIGSERIAL column of its own, which the baseline has no use for).
const GET_BY_ID = {
  name: 'posts_get',
  text: 'SELECT id, title, n, created, updated FROM posts WHERE id = $1',
};
const LIST_PAGE = {
  name: 'posts_list',
  text: 'SELECT id, title, n, created, updated FROM posts ORDER BY created DESC LIMIT $1 OFFSET $2',
};
const COUNT_ALL = { name: 'posts_count', text: 'SELECT COUNT(*) AS c FROM posts' };
const INSERT = {
  name: 'posts_insert',
  text: 'INSERT INTO posts (id, title, n, created, updated) VALUES ($1, $2, $3, $4, $5)',
};

// The `query` scenarios (bench/baseline-query.ts): the page, the batched expand lookup (one statement
// for any number of ids: `= ANY` of a text array) and the COUNT with the same WHERE. Titles sort in
// code-point order (`COLLATE "C"`), PocketBase's order, whatever the database's default collation.
const BOOKS_PAGE = {
  name: 'books_page',
  text: 'SELECT id, title, year, author, created, updated FROM books WHERE year >= $1 AND year < $2 ORDER BY year DESC, title COLLATE "C" ASC LIMIT $3 OFFSET $4',
};
const BOOKS_COUNT = {
  name: 'books_count',
  text: 'SELECT COUNT(*) AS c FROM books WHERE year >= $1 AND year < $2',
};
const AUTHORS_IN = {
  name: 'authors_in',
  text: 'SELECT id, name, created, updated FROM authors WHERE id = ANY($1::text[])',
};

/** Creates the table and index (as Plinth does on PostgreSQL) if they do not exist yet. */
export async function createBaselineSchema(pool: pg.Pool): Promise<void> {
  await pool.query(`CREATE TABLE IF NOT EXISTS posts (
    id TEXT PRIMARY KEY NOT NULL,
    title TEXT DEFAULT '' NOT NULL,
    n DOUBLE PRECISION DEFAULT 0 NOT NULL,
    created TEXT DEFAULT '' NOT NULL,
    updated TEXT DEFAULT '' NOT NULL
  )`);
  await pool.query('CREATE INDEX IF NOT EXISTS idx_posts_created ON posts (created)');
  for (const sql of queryTablesSql('postgres')) await pool.query(sql);
}

/** Starts the baseline; resolves once it listens. The HTTP server's 'close' ends the pool. */
export async function startBaselinePostgres(opts: PostgresBaselineOptions): Promise<Server> {
  const pool = new pg.Pool({ connectionString: opts.url, max: 10 });
  // An idle client that loses its connection emits here; without a listener it would crash the process.
  pool.on('error', (err) => console.error('pool:', err.message));
  await createBaselineSchema(pool);

  async function create(title: string, n: number): Promise<PostRow> {
    const stamp = nowStamp();
    const row = { id: newId(), title, n, created: stamp, updated: stamp };
    await pool.query({ ...INSERT, values: [row.id, row.title, row.n, row.created, row.updated] });
    return row;
  }

  if (opts.seed && opts.seed > 0) {
    for (let i = 0; i < opts.seed; i++) await create(`seed ${i}`, i);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (path === '/api/health') return send(res, 200, { code: 200, message: 'API is healthy.', data: {} });
    if (path === RECORDS_PATH && req.method === 'GET') {
      // Fixed page shape (the benchmark always asks ?perPage=20&sort=-created). The page and the count
      // run concurrently on two pooled connections.
      const [page, count] = await Promise.all([
        pool.query<PostRow>({ ...LIST_PAGE, values: [PER_PAGE, 0] }),
        pool.query<{ c: string }>({ ...COUNT_ALL, values: [] }),
      ]);
      const total = Number(count.rows[0]!.c); // COUNT(*) is a bigint: `pg` returns it as a string
      return send(res, 200, {
        items: page.rows.map(toRecord),
        page: 1,
        perPage: PER_PAGE,
        totalItems: total,
        totalPages: Math.ceil(total / PER_PAGE),
      });
    }
    if (path === BOOKS_PATH && req.method === 'GET') {
      const bq = parseBooksQuery(q === -1 ? '' : url.slice(q + 1));
      if (bq.error !== undefined) return send(res, 400, { status: 400, message: bq.error, data: {} });
      // The page then its authors on one pooled connection, the COUNT at the same time on another.
      const pageWithAuthors = pool
        .query<BookRow>({ ...BOOKS_PAGE, values: [bq.from, bq.to, bq.perPage, (bq.page - 1) * bq.perPage] })
        .then(async ({ rows }) => {
          const ids = authorIds(rows);
          const authors = ids.length
            ? (await pool.query<AuthorRow>({ ...AUTHORS_IN, values: [ids] })).rows
            : [];
          return { rows, authors };
        });
      const count = bq.skipTotal
        ? Promise.resolve(-1)
        : pool
            .query<{ c: string }>({ ...BOOKS_COUNT, values: [bq.from, bq.to] })
            .then((r) => Number(r.rows[0]!.c));
      const [{ rows, authors }, total] = await Promise.all([pageWithAuthors, count]);
      return send(res, 200, booksListBody(bq, rows, authors, total));
    }
    if (path === RECORDS_PATH && req.method === 'POST') {
      let body: { title?: unknown; n?: unknown };
      try {
        body = JSON.parse(await readBody(req));
      } catch {
        return send(res, 400, { status: 400, message: 'Invalid JSON body.', data: {} });
      }
      const title = typeof body.title === 'string' ? body.title : '';
      const n = typeof body.n === 'number' ? body.n : 0;
      return send(res, 200, toRecord(await create(title, n)));
    }
    if (path.startsWith(`${RECORDS_PATH}/`) && req.method === 'GET') {
      const id = decodeURIComponent(path.slice(RECORDS_PATH.length + 1));
      const { rows } = await pool.query<PostRow>({ ...GET_BY_ID, values: [id] });
      if (!rows[0]) return send(res, 404, { status: 404, message: 'Not found.', data: {} });
      return send(res, 200, toRecord(rows[0]));
    }
    send(res, 404, { status: 404, message: 'Not found.', data: {} });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      console.error(err);
      if (!res.headersSent) send(res, 500, { status: 500, message: 'Internal error.', data: {} });
    });
  });
  server.on('close', () => void pool.end());
  await new Promise<void>((resolve) => server.listen(opts.port, opts.host ?? '127.0.0.1', resolve));
  return server;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8092' },
      host: { type: 'string', default: '127.0.0.1' },
      url: { type: 'string' },
      seed: { type: 'string', default: '0' },
    },
  });
  if (!values.url) {
    console.error('baseline-postgres.ts: --url postgres://... is required');
    process.exit(2);
  }
  const server = await startBaselinePostgres({
    port: Number(values.port),
    host: values.host,
    url: values.url,
    seed: Number(values.seed),
  });
  console.log(`baseline-postgres listening on http://${values.host}:${values.port}`);
  // Close cleanly so the pool's connections end and the parent sees a normal exit.
  for (const sig of ['SIGTERM', 'SIGINT'] as const)
    process.on(sig, () => {
      server.close(() => process.exit(0));
      server.closeAllConnections();
    });
}
