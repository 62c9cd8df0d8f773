// The bare SQLite baseline: what plain `node:http` + `node:sqlite` can do for the same requests Plinth
// serves in the benchmark (get, list and create on `posts`; the books list of the `query` scenarios,
// see bench/baseline-query.ts). Plinth's figures are reported as ratios against this server, measured
// in the same run, so machine speed cancels out. It is deliberately minimal (no framework, no
// validation beyond what keeps it honest, prepared statements created once) but it does the same
// database work as Plinth: same table shape, same index, same durability, COUNT for the list total.
//
// Run standalone: node bench/baseline-sqlite.ts --port 8091 --dir .bench-tmp/base [--seed 1000]
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import {
  type AuthorRow,
  authorIds,
  BOOKS_PATH,
  type BookRow,
  booksListBody,
  parseBooksQuery,
  queryTablesSql,
} from './baseline-query.ts';

// The constants and small helpers below are shared with bench/baseline-postgres.ts, so that both
// baselines answer with the same bytes and do the same HTTP work.
const COLLECTION_ID = 'pbc_bench';
const COLLECTION_NAME = 'posts';
export const PER_PAGE = 20;
const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
export const RECORDS_PATH = '/api/collections/posts/records';

export interface PostRow {
  id: string;
  title: string;
  n: number;
  created: string;
  updated: string;
}

/** Options for {@link startBaselineSqlite}; `seed` inserts that many records before listening. */
export interface BaselineOptions {
  port: number;
  host?: string;
  dir: string;
  seed?: number;
  /** Bind with SO_REUSEPORT, as each worker of `--workers N` does (the kernel spreads connections). */
  reusePort?: boolean;
}

/** PocketBase-style 15-char [a-z0-9] id. The modulo bias (256 % 36) is irrelevant for a benchmark. */
export function newId(): string {
  const bytes = randomBytes(15);
  let id = '';
  for (const b of bytes) id += ID_ALPHABET[b % ID_ALPHABET.length];
  return id;
}

/** PocketBase's datetime format: `YYYY-MM-DD HH:MM:SS.sssZ` (UTC). */
export function nowStamp(): string {
  return new Date().toISOString().replace('T', ' ');
}

/** Opens the database with the same schema and durability as Plinth's default (WAL + synchronous=FULL). */
export function openBaselineDb(dir: string): DatabaseSync {
  mkdirSync(dir, { recursive: true });
  const db = new DatabaseSync(join(dir, 'baseline.db'));
  // Several processes write the file with `--workers N`: one waits for the other's write lock.
  db.exec('PRAGMA busy_timeout=10000');
  db.exec('PRAGMA journal_mode=WAL');
  db.exec('PRAGMA synchronous=FULL');
  // Plinth's connection settings (src/db/sqlite-driver.ts); they matter for the 100,000-row `query`
  // scenarios (sorts in memory, a page cache that holds the table), not for the 1,000 `posts`.
  db.exec('PRAGMA temp_store=MEMORY');
  db.exec('PRAGMA cache_size=-32000');
  db.exec(`CREATE TABLE IF NOT EXISTS posts (
    id TEXT PRIMARY KEY NOT NULL,
    title TEXT DEFAULT '' NOT NULL,
    n NUMERIC DEFAULT 0 NOT NULL,
    created TEXT DEFAULT '' NOT NULL,
    updated TEXT DEFAULT '' NOT NULL
  )`);
  db.exec('CREATE INDEX IF NOT EXISTS idx_posts_created ON posts (created)');
  for (const sql of queryTablesSql('sqlite')) db.exec(sql);
  return db;
}

/** Record JSON in PocketBase's shape and key order. */
export function toRecord(row: PostRow) {
  return {
    collectionId: COLLECTION_ID,
    collectionName: COLLECTION_NAME,
    id: row.id,
    title: row.title,
    n: row.n,
    created: row.created,
    updated: row.updated,
  };
}

export function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Starts the baseline; resolves once it listens. Statements are prepared once, here, not per request. */
export async function startBaselineSqlite(opts: BaselineOptions): Promise<Server> {
  const db = openBaselineDb(opts.dir);
  const getById = db.prepare('SELECT id, title, n, created, updated FROM posts WHERE id = ?');
  const listPage = db.prepare(
    'SELECT id, title, n, created, updated FROM posts ORDER BY created DESC LIMIT ? OFFSET ?',
  );
  const countAll = db.prepare('SELECT COUNT(*) AS c FROM posts');
  const insert = db.prepare('INSERT INTO posts (id, title, n, created, updated) VALUES (?, ?, ?, ?, ?)');
  // The `query` scenarios (bench/baseline-query.ts): the page, the batched expand lookup (one prepared
  // statement per number of ids, made on first use) and the COUNT with the same WHERE.
  const booksPage = db.prepare(
    'SELECT id, title, year, author, created, updated FROM books WHERE year >= ? AND year < ? ORDER BY year DESC, title ASC LIMIT ? OFFSET ?',
  );
  const booksCount = db.prepare('SELECT COUNT(*) AS c FROM books WHERE year >= ? AND year < ?');
  const authorsByIds = new Map<number, ReturnType<DatabaseSync['prepare']>>();
  function authorsIn(ids: string[]): AuthorRow[] {
    if (!ids.length) return [];
    let stmt = authorsByIds.get(ids.length);
    if (!stmt) {
      const marks = ids.map(() => '?').join(', ');
      stmt = db.prepare(`SELECT id, name, created, updated FROM authors WHERE id IN (${marks})`);
      authorsByIds.set(ids.length, stmt);
    }
    return stmt.all(...ids) as unknown as AuthorRow[];
  }

  function create(title: string, n: number): PostRow {
    const stamp = nowStamp();
    const row = { id: newId(), title, n, created: stamp, updated: stamp };
    insert.run(row.id, row.title, row.n, row.created, row.updated);
    return row;
  }

  if (opts.seed && opts.seed > 0) {
    db.exec('BEGIN');
    for (let i = 0; i < opts.seed; i++) create(`seed ${i}`, i);
    db.exec('COMMIT');
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (path === '/api/health') return send(res, 200, { code: 200, message: 'API is healthy.', data: {} });
    if (path === RECORDS_PATH && req.method === 'GET') {
      // Fixed page shape: the benchmark always asks ?perPage=20&sort=-created; the count runs every time,
      // as it does in Plinth (totalItems/totalPages).
      const items = listPage.all(PER_PAGE, 0) as unknown as PostRow[];
      const total = (countAll.get() as { c: number }).c;
      return send(res, 200, {
        items: items.map(toRecord),
        page: 1,
        perPage: PER_PAGE,
        totalItems: total,
        totalPages: Math.ceil(total / PER_PAGE),
      });
    }
    if (path === BOOKS_PATH && req.method === 'GET') {
      const bq = parseBooksQuery(q === -1 ? '' : url.slice(q + 1));
      if (bq.error !== undefined) return send(res, 400, { status: 400, message: bq.error, data: {} });
      const rows = booksPage.all(
        bq.from,
        bq.to,
        bq.perPage,
        (bq.page - 1) * bq.perPage,
      ) as unknown as BookRow[];
      const authors = authorsIn(authorIds(rows));
      const total = bq.skipTotal ? -1 : (booksCount.get(bq.from, bq.to) as { c: number }).c;
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
      return send(res, 200, toRecord(create(title, n)));
    }
    if (path.startsWith(`${RECORDS_PATH}/`) && req.method === 'GET') {
      const row = getById.get(decodeURIComponent(path.slice(RECORDS_PATH.length + 1))) as PostRow | undefined;
      if (!row) return send(res, 404, { status: 404, message: 'Not found.', data: {} });
      return send(res, 200, toRecord(row));
    }
    send(res, 404, { status: 404, message: 'Not found.', data: {} });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      console.error(err);
      if (!res.headersSent) send(res, 500, { status: 500, message: 'Internal error.', data: {} });
    });
  });
  server.on('close', () => db.close());
  await new Promise<void>((resolve) =>
    server.listen({ port: opts.port, host: opts.host ?? '127.0.0.1', reusePort: opts.reusePort }, resolve),
  );
  return server;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8091' },
      host: { type: 'string', default: '127.0.0.1' },
      dir: { type: 'string', default: '.bench-tmp/baseline' },
      seed: { type: 'string', default: '0' },
      // Processes on one port, as `plinth serve --workers N` runs (bench/workers.ts): the primary makes
      // the table, then each worker opens the file and binds the port with SO_REUSEPORT.
      workers: { type: 'string', default: '1' },
    },
  });
  const workers = Number(values.workers);
  if (workers > 1 && cluster.isPrimary) {
    openBaselineDb(values.dir).close();
    for (let i = 0; i < workers; i++) cluster.fork();
    for (const sig of ['SIGTERM', 'SIGINT'] as const)
      process.on(sig, () => {
        for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
      });
  } else {
    const server = await startBaselineSqlite({
      port: Number(values.port),
      host: values.host,
      dir: values.dir,
      seed: cluster.isPrimary ? Number(values.seed) : 0,
      reusePort: workers > 1,
    });
    console.log(`baseline-sqlite listening on http://${values.host}:${values.port} (pid ${process.pid})`);
    // Close cleanly so the WAL is checkpointed and the parent sees a normal exit.
    for (const sig of ['SIGTERM', 'SIGINT'] as const)
      process.on(sig, () => {
        server.close(() => process.exit(0));
        server.closeAllConnections();
      });
  }
}
