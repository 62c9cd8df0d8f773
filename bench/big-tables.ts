// Big tables (issue 16): `node bench/big-tables.ts [--engines sqlite,postgres,mysql] [--records 1000000]
// [--requests 300] [--status select|text] [--keep]`. For each engine, Plinth is started as in bench/run.ts,
// gets an `events` collection (`status` a single select of open/pending/done, or with `--status text` a
// text field with no `max`; `n` number, autodates, an index on (status, created)) through its API, and
// --records rows written straight into the table (the API would take hours for a million). Then, one
// request at a time over one keep-alive connection (latency, not throughput), it measures:
//   page        filter=status='open', sort=-created, perPage=20, skipTotal=1
//   total       the same with the total (the page and a COUNT over every matching row)
//   cursor      a page after a cursor half-way down the matches (sort=-created,-id, skipTotal)
//   total-wide  the total of status='done', which matches 90% of the table: the COUNT's worst case
// and, in the same run, the same SQL straight on the driver from this process (no HTTP, no Plinth):
// the baseline. p50/p99 of both, and their ratio. The answers are checked against the driver's first.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { checkColumns, pgColumns } from './seed.ts';
import {
  api,
  dropBenchDatabases,
  pendingBenchDatabases,
  type RunningServer,
  startPlinthOn,
} from './servers.ts';

const { values } = parseArgs({
  options: {
    engines: { type: 'string', default: 'sqlite,postgres,mysql' },
    records: { type: 'string', default: '1000000' },
    requests: { type: 'string', default: '300' },
    budget: { type: 'string', default: '20' },
    status: { type: 'string', default: 'select' },
    keep: { type: 'boolean' },
  },
});
const ENGINES = values.engines.split(',').map((e) => e.trim());
const RECORDS = Number(values.records);
const REQUESTS = Number(values.requests);
/** Seconds a side may spend on one half of a scenario before it stops early (at least 10 requests). */
const BUDGET_MS = Number(values.budget) * 1000;
for (const e of ENGINES)
  if (!['sqlite', 'postgres', 'mysql'].includes(e)) throw new Error(`unknown engine ${e}`);
if (!Number.isSafeInteger(RECORDS) || RECORDS < 1000) throw new Error('--records must be an integer >= 1000');
if (!Number.isSafeInteger(REQUESTS) || REQUESTS < 10) throw new Error('--requests must be an integer >= 10');
if (values.status !== 'select' && values.status !== 'text')
  throw new Error('--status must be select or text');

const log = (msg: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

// ---- data: row i is created i seconds after START, so `created` is unique and grows with i ----

const START = Date.parse('2024-01-01T00:00:00Z');
const COLUMNS = ['id', 'status', 'n', 'created', 'updated'] as const;
/** 10% open, 1% pending, the rest done: a selective filter and a wide one. */
const statusOf = (i: number) => (i % 10 === 3 ? 'open' : i % 100 === 7 ? 'pending' : 'done');
const idOf = (i: number) => `e${String(i).padStart(14, '0')}`;
const createdOf = (i: number) => new Date(START + i * 1000).toISOString().replace('T', ' ');
const matches = (status: string) => {
  let n = 0;
  for (let i = 0; i < RECORDS; i++) if (statusOf(i) === status) n++;
  return n;
};
/** The cursor: the open row half-way down the list sorted -created (rows sort by i). */
function cursorRow(): number {
  const open: number[] = [];
  for (let i = RECORDS - 1; i >= 0; i--) if (statusOf(i) === 'open') open.push(i);
  return open[Math.floor(open.length / 2)] ?? 0;
}

const COLLECTION = {
  name: 'events',
  type: 'base',
  listRule: '',
  viewRule: '',
  fields: [
    // A select's values are bounded by its options, a text field's (no `max`) are not: on MariaDB the
    // first is a VARCHAR an index covers whole, the second LONGTEXT indexed by a prefix (docs/engines.md).
    values.status === 'select'
      ? { name: 'status', type: 'select', values: ['open', 'pending', 'done'], maxSelect: 1 }
      : { name: 'status', type: 'text' },
    { name: 'n', type: 'number' },
    { name: 'created', type: 'autodate', onCreate: true, onUpdate: false },
    { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
  ],
  indexes: ['CREATE INDEX idx_events_status_created ON events (status, created)'],
};

// ---- the scenarios: Plinth's URL and the driver's SQL for the same answer ----

interface Scenario {
  name: string;
  path: string;
  /** The page's SQL with `?` placeholders (PostgreSQL's $n are made from them). */
  pageSql: string;
  params: (string | number)[];
  /** The total's SQL, or none with skipTotal. */
  countSql?: string;
  countParams?: string[];
}

function scenarios(): Scenario[] {
  const q = (filter: string, sort: string, skipTotal: boolean) =>
    `/api/collections/events/records?perPage=20&sort=${sort}&filter=${encodeURIComponent(filter)}${skipTotal ? '&skipTotal=1' : ''}`;
  const c = cursorRow();
  const cc = createdOf(c);
  const ci = idOf(c);
  const page =
    'SELECT id, status, n, created, updated FROM events WHERE status = ? ORDER BY created DESC LIMIT 20';
  const count = 'SELECT COUNT(*) AS n FROM events WHERE status = ?';
  return [
    { name: 'page', path: q(`status='open'`, '-created', true), pageSql: page, params: ['open'] },
    {
      name: 'total',
      path: q(`status='open'`, '-created', false),
      pageSql: page,
      params: ['open'],
      countSql: count,
      countParams: ['open'],
    },
    {
      name: 'cursor',
      path: q(
        `status='open' && created <= '${cc}' && (created < '${cc}' || id < '${ci}')`,
        '-created,-id',
        true,
      ),
      pageSql:
        'SELECT id, status, n, created, updated FROM events WHERE status = ? AND created <= ? AND (created < ? OR id < ?) ORDER BY created DESC, id DESC LIMIT 20',
      params: ['open', cc, cc, ci],
    },
    {
      name: 'total-wide',
      path: q(`status='done'`, '-created', false),
      pageSql: page,
      params: ['done'],
      countSql: count,
      countParams: ['done'],
    },
  ];
}

// ---- the driver, straight from this process: seeding, the baseline, the expected answers ----

interface Driver {
  /** Runs the page (and the count, at the same time on another connection on the server engines). */
  run(s: Scenario): Promise<{ ids: string[]; total: number }>;
  /** EXPLAIN of a scenario's page and count, for the report. */
  explain(s: Scenario): Promise<string[]>;
  close(): Promise<void>;
}

const BATCH = 10_000;

function sqliteDriver(file: string): Driver {
  const db = new DatabaseSync(file);
  db.exec('PRAGMA busy_timeout = 10000');
  // Plinth's reader settings, so the baseline reads as Plinth does.
  db.exec('PRAGMA temp_store = MEMORY; PRAGMA cache_size = -32000');
  const cols = (db.prepare('PRAGMA table_info(events)').all() as Array<{ name: string }>).map((r) => r.name);
  checkColumns('plinth', 'events', cols, COLUMNS);
  const statements = new Map<string, ReturnType<DatabaseSync['prepare']>>();
  const prepared = (sql: string) => {
    let st = statements.get(sql);
    if (!st) {
      st = db.prepare(sql);
      statements.set(sql, st);
    }
    return st;
  };
  return {
    async run(s) {
      const rows = prepared(s.pageSql).all(...s.params) as Array<{ id: string }>;
      const total = s.countSql
        ? Number((prepared(s.countSql).get(...s.countParams!) as { n: number }).n)
        : -1;
      return { ids: rows.map((r) => r.id), total };
    },
    async explain(s) {
      const plan = (sql: string, p: (string | number)[]) =>
        (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...p) as Array<{ detail: string }>)
          .map((r) => r.detail)
          .join('; ');
      return [plan(s.pageSql, s.params), ...(s.countSql ? [plan(s.countSql, s.countParams!)] : [])];
    },
    async close() {
      db.close();
    },
  };
}

function seedSqlite(file: string): void {
  const db = new DatabaseSync(file);
  try {
    db.exec('PRAGMA busy_timeout = 10000');
    const insert = db.prepare('INSERT INTO events (id, status, n, created, updated) VALUES (?, ?, ?, ?, ?)');
    for (let i = 0; i < RECORDS; i += BATCH) {
      db.exec('BEGIN IMMEDIATE');
      for (let j = i; j < Math.min(RECORDS, i + BATCH); j++) {
        const created = createdOf(j);
        insert.run(idOf(j), statusOf(j), j, created, created);
      }
      db.exec('COMMIT');
    }
    db.exec('ANALYZE');
  } finally {
    db.close();
  }
}

const toDollar = (sql: string) => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

async function pgDriver(url: string): Promise<Driver> {
  // Two connections: the count runs beside the page, as Plinth runs them.
  const a = new pg.Client({ connectionString: url });
  const b = new pg.Client({ connectionString: url });
  await a.connect();
  await b.connect();
  checkColumns('plinth', 'events', await pgColumns(a, 'events'), COLUMNS);
  // Named statements: parsed and planned once per connection, the driver at its best. Plinth sorts
  // text in code-point order (COLLATE "C"), so the baseline does too.
  const named = (sql: string) => ({
    name: `s${Buffer.from(sql).toString('base64url').slice(-40)}`,
    text: sql,
  });
  const pgSql = (sql: string) =>
    toDollar(sql).replace(/ORDER BY created DESC/, 'ORDER BY created COLLATE "C" DESC');
  return {
    async run(s) {
      const [page, count] = await Promise.all([
        a.query({ ...named(pgSql(s.pageSql)), values: s.params }),
        s.countSql ? b.query({ ...named(toDollar(s.countSql)), values: s.countParams }) : undefined,
      ]);
      return { ids: page.rows.map((r) => r.id), total: count ? Number(count.rows[0].n) : -1 };
    },
    async explain(s) {
      const plan = async (sql: string, p: unknown[]) =>
        (await a.query(`EXPLAIN ${sql}`, p)).rows.map((r) => r['QUERY PLAN']).join(' / ');
      return [
        await plan(pgSql(s.pageSql), s.params),
        ...(s.countSql ? [await plan(toDollar(s.countSql), s.countParams!)] : []),
      ];
    },
    async close() {
      await a.end();
      await b.end();
    },
  };
}

async function seedPostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (let i = 0; i < RECORDS; i += BATCH) {
      const cols: [string[], string[], number[], string[]] = [[], [], [], []];
      for (let j = i; j < Math.min(RECORDS, i + BATCH); j++) {
        cols[0].push(idOf(j));
        cols[1].push(statusOf(j));
        cols[2].push(j);
        cols[3].push(createdOf(j));
      }
      await client.query(
        'INSERT INTO events (id, status, n, created, updated) SELECT a, b, c, d, d FROM unnest($1::text[], $2::text[], $3::float8[], $4::text[]) AS t(a, b, c, d)',
        cols,
      );
    }
    // Statistics and the visibility map now (index-only counts need it), not by autovacuum mid-run.
    await client.query('VACUUM ANALYZE events');
  } finally {
    await client.end();
  }
}

async function mysqlDriver(url: string): Promise<Driver> {
  const a = await mysql.createConnection({ uri: url });
  const b = await mysql.createConnection({ uri: url });
  const [colRows] = await a.query(
    'SELECT column_name AS name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?',
    ['events'],
  );
  checkColumns(
    'plinth',
    'events',
    (colRows as Array<{ name: string }>).map((r) => r.name),
    COLUMNS,
  );
  return {
    async run(s) {
      // execute(): server-side prepared statements, cached per connection by mysql2.
      const [page, count] = await Promise.all([
        a.execute(s.pageSql, s.params),
        s.countSql ? b.execute(s.countSql, s.countParams) : undefined,
      ]);
      const rows = page[0] as Array<{ id: string }>;
      const n = count ? Number((count[0] as Array<{ n: number }>)[0]?.n) : -1;
      return { ids: rows.map((r) => r.id), total: n };
    },
    async explain(s) {
      const plan = async (sql: string, p: unknown[]) =>
        ((await a.query(`EXPLAIN ${sql}`, p))[0] as Array<Record<string, unknown>>)
          .map((r) => `${r.type} key=${r.key} rows=${r.rows} ${r.Extra ?? ''}`)
          .join(' / ');
      return [
        await plan(s.pageSql, s.params),
        ...(s.countSql ? [await plan(s.countSql, s.countParams!)] : []),
      ];
    },
    async close() {
      await a.end();
      await b.end();
    },
  };
}

async function seedMysql(url: string): Promise<void> {
  const conn = await mysql.createConnection({ uri: url });
  try {
    const CHUNK = 5000;
    for (let i = 0; i < RECORDS; i += CHUNK) {
      const rows: unknown[][] = [];
      for (let j = i; j < Math.min(RECORDS, i + CHUNK); j++) {
        const created = createdOf(j);
        rows.push([idOf(j), statusOf(j), j, created, created]);
      }
      await conn.query('INSERT INTO events (id, status, n, created, updated) VALUES ?', [rows]);
    }
    await conn.query('ANALYZE TABLE events');
  } finally {
    await conn.end();
  }
}

// ---- measuring ----

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;

interface Stat {
  p50: number;
  p99: number;
  /** Requests measured (fewer than asked when the time budget ran out). */
  n: number;
}
/** Runs `fn` n times one after another, or until the budget is spent (a COUNT of 900,000 rows on MariaDB). */
async function timeIt(n: number, fn: () => Promise<unknown>): Promise<Stat> {
  const ms: number[] = [];
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
    if (i >= 9 && performance.now() - started > BUDGET_MS) break;
  }
  ms.sort((x, y) => x - y);
  return { p50: pct(ms, 0.5), p99: pct(ms, 0.99), n: ms.length };
}

interface Row {
  engine: string;
  scenario: string;
  matches: number;
  plinth: Stat;
  driver: Stat;
  plan: string[];
}

async function benchEngine(engine: string, runDir: string, rows: Row[]): Promise<void> {
  const server: RunningServer = await startPlinthOn(engine, runDir);
  let driver: Driver | undefined;
  try {
    const created = await api(server.baseUrl, 'POST', '/api/collections', COLLECTION, server.adminHeaders);
    if (created.status !== 200)
      throw new Error(`creating events: ${created.status} ${created.text.slice(0, 300)}`);
    const t = performance.now();
    const db = server.db;
    if (db.engine === 'sqlite') seedSqlite(db.file);
    else if (db.engine === 'postgres') await seedPostgres(db.url);
    else await seedMysql(db.url);
    log(
      `${engine}: seeded ${RECORDS.toLocaleString('en')} records in ${((performance.now() - t) / 1000).toFixed(1)} s (status: ${values.status})`,
    );
    driver =
      db.engine === 'sqlite'
        ? sqliteDriver(db.file)
        : db.engine === 'postgres'
          ? await pgDriver(db.url)
          : await mysqlDriver(db.url);
    const d = driver;
    // The floor: what one HTTP round trip to Plinth costs with no database work (the driver side has none).
    const health = () => api(server.baseUrl, 'GET', '/api/health');
    await timeIt(50, health);
    const floor = await timeIt(REQUESTS, health);
    rows.push({
      engine,
      scenario: 'http-floor',
      matches: 0,
      plinth: floor,
      driver: floor,
      plan: ['GET /api/health'],
    });
    for (const s of scenarios()) {
      // Check first: Plinth's page must be the driver's page, and its total the driver's count.
      const want = await d.run(s);
      const got = await api(server.baseUrl, 'GET', s.path);
      const body = got.json as { items?: Array<{ id: string }>; totalItems?: number } | undefined;
      const ids = body?.items?.map((r) => r.id) ?? [];
      if (
        got.status !== 200 ||
        ids.join() !== want.ids.join() ||
        body?.totalItems !== want.total ||
        ids.length !== 20
      )
        throw new Error(
          `${engine} ${s.name}: Plinth answered ${got.status} ${got.text.slice(0, 300)}; want ids ${want.ids.slice(0, 3).join()}… total ${want.total}`,
        );
      const status = s.params[0] as string;
      // Warm-up (page cache, JIT, prepared statements), then alternate halves so drift hits both alike.
      const half = Math.ceil(REQUESTS / 2);
      const warm = Math.min(50, half);
      await timeIt(warm, () => api(server.baseUrl, 'GET', s.path));
      await timeIt(warm, () => d.run(s));
      const p1 = await timeIt(half, () => api(server.baseUrl, 'GET', s.path));
      const d1 = await timeIt(half, () => d.run(s));
      const d2 = await timeIt(half, () => d.run(s));
      const p2 = await timeIt(half, () => api(server.baseUrl, 'GET', s.path));
      const avg = (x: Stat, y: Stat): Stat => ({
        p50: (x.p50 + y.p50) / 2,
        p99: Math.max(x.p99, y.p99),
        n: x.n + y.n,
      });
      const r: Row = {
        engine,
        scenario: s.name,
        matches: matches(status),
        plinth: avg(p1, p2),
        driver: avg(d1, d2),
        plan: await d.explain(s),
      };
      rows.push(r);
      log(
        `${engine} ${s.name}: plinth p50 ${r.plinth.p50.toFixed(2)} ms (halves ${p1.p50.toFixed(2)}/${p2.p50.toFixed(2)}), driver p50 ${r.driver.p50.toFixed(2)} ms (halves ${d1.p50.toFixed(2)}/${d2.p50.toFixed(2)})`,
      );
    }
  } finally {
    await driver?.close().catch(() => {});
    await server.stop();
  }
}

const runDir = join(
  import.meta.dirname,
  '..',
  '.bench-tmp',
  `big-${process.pid}-${randomBytes(3).toString('hex')}`,
);
mkdirSync(runDir, { recursive: true });
process.once('SIGINT', () => {
  log(`interrupted; databases left: ${pendingBenchDatabases().join(', ') || 'none'}; data in ${runDir}`);
  process.exit(130);
});
const rows: Row[] = [];
let failed = false;
try {
  for (const engine of ENGINES) {
    try {
      await benchEngine(engine, runDir, rows);
    } catch (err) {
      failed = true;
      console.error(`${engine}: ${(err as Error).stack}`);
    }
    // Drop each engine's database before the next engine seeds its million rows.
    if (!values.keep && (await dropBenchDatabases()).length) failed = true;
  }
} finally {
  if (!values.keep) rmSync(runDir, { recursive: true, force: true });
  else log(`kept ${runDir} and databases ${pendingBenchDatabases().join(', ') || 'none'}`);
}

const f = (x: number) => x.toFixed(2).padStart(7);
console.log(
  `${RECORDS.toLocaleString('en')} records, up to ${REQUESTS} sequential requests per scenario and side (n), 1 connection; ms`,
);
console.log(
  'engine    scenario     matches   plinth p50     p99    n   driver p50     p99    n   driver/plinth p50',
);
for (const r of rows) {
  console.log(
    `${r.engine.padEnd(9)} ${r.scenario.padEnd(11)} ${String(r.matches).padStart(8)}  ${f(r.plinth.p50)} ${f(r.plinth.p99)} ${String(r.plinth.n).padStart(4)}  ${f(r.driver.p50)} ${f(r.driver.p99)} ${String(r.driver.n).padStart(4)}  ${(r.driver.p50 / r.plinth.p50).toFixed(2)}×`,
  );
}
console.log('\nplans (driver EXPLAIN of the page; of the count):');
for (const r of rows) console.log(`${r.engine} ${r.scenario}: ${r.plan.join(' | ')}`);
process.exit(failed ? 1 : 0);
