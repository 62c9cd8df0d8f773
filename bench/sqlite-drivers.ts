// `node bench/sqlite-drivers.ts --better-sqlite3 DIR`: node:sqlite (what Plinth uses) against better-sqlite3
// on the same database work, in one process, each workload run by each driver in turn, round after round
// (alternating which goes first), on files made alike: the statements Plinth's hot paths run (a get by
// id, a list page with its total, an indexed filtered page), rows read as objects, and writes both ways
// Plinth makes them (one durable INSERT a transaction with synchronous=FULL; 64 INSERTs a transaction, as
// a group commit makes them, with synchronous=NORMAL). Reported per workload: operations a second and CPU
// time an operation for each driver (medians of the rounds), and better-sqlite3 against node:sqlite.
//
// better-sqlite3 is not a dependency of Plinth: DIR is a folder where it is installed. Since version 13 its
// npm package carries prebuilt binaries (Node-API) for Linux, macOS and Windows, so
//   mkdir -p /tmp/bsq && cd /tmp/bsq && npm init -y && npm install better-sqlite3
// is enough (no download from GitHub, no compiler).
//
// Flags: --better-sqlite3 DIR (required) --rows N (10000) --rounds N (5) --ms M (1500, per workload
//        and driver a round) --json
import { mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseArgs } from 'node:util';
import { newId } from './baseline-sqlite.ts';
import { median } from './stats.ts';

const { values: flags } = parseArgs({
  options: {
    'better-sqlite3': { type: 'string' },
    rows: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '5' },
    ms: { type: 'string', default: '1500' },
    json: { type: 'boolean', default: false },
  },
});
if (!flags['better-sqlite3']) {
  console.error('sqlite-drivers.ts: --better-sqlite3 DIR is required (see the comment at the top)');
  process.exit(2);
}
const ROWS = Number(flags.rows);
const TMP = join(import.meta.dirname, '..', '.bench-tmp', `sqlite-drivers-${process.pid}`);

/** The little both drivers are used through here: statements that run, read one row, or read all. */
interface Statement {
  /** Rows as arrays of values (node:sqlite `setReturnArrays`, better-sqlite3 `raw`). */
  arrays(): Statement;
  run(...params: unknown[]): unknown;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}
interface Connection {
  exec(sql: string): void;
  prepare(sql: string): Statement;
  close(): void;
}
interface Driver {
  name: string;
  open(file: string): Connection;
}

/** A connection whose statements can answer arrays, whatever the driver calls it. */
function withArrays(db: Connection, toArrays: (stmt: Statement) => void): Connection {
  const prepare = db.prepare.bind(db);
  db.prepare = (sql) => {
    const stmt = prepare(sql);
    stmt.arrays = () => {
      toArrays(stmt);
      return stmt;
    };
    return stmt;
  };
  return db;
}
type Raw = { setReturnArrays(on: boolean): void; raw(on: boolean): void };
const nodeSqlite: Driver = {
  name: 'node:sqlite',
  open: (file) =>
    withArrays(new DatabaseSync(file) as unknown as Connection, (s) =>
      (s as unknown as Raw).setReturnArrays(true),
    ),
};
const Better = createRequire(join(resolve(flags['better-sqlite3']), 'package.json'))(
  'better-sqlite3',
) as new (
  file: string,
) => Connection;
const betterSqlite3: Driver = {
  name: 'better-sqlite3',
  open: (file) => withArrays(new Better(file), (s) => (s as unknown as Raw).raw(true)),
};

const PAGE = 'SELECT id, title, n, created, updated FROM posts';

/** A database of `ROWS` posts (the bench's table: id key, created and n indexed), WAL. */
function makeDatabase(driver: Driver, file: string): Connection {
  const db = driver.open(file);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec(
    'CREATE TABLE posts (id TEXT PRIMARY KEY NOT NULL, title TEXT NOT NULL, n INTEGER NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL)',
  );
  db.exec('CREATE INDEX posts_created ON posts (created)');
  db.exec('CREATE INDEX posts_n ON posts (n)');
  const insert = db.prepare('INSERT INTO posts (id, title, n, created, updated) VALUES (?, ?, ?, ?, ?)');
  db.exec('BEGIN');
  for (let i = 0; i < ROWS; i++) {
    const at = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString().replace('T', ' ');
    insert.run(newId(), `post number ${i}`, i % 1000, at, at);
  }
  db.exec('COMMIT');
  return db;
}

interface Workload {
  name: string;
  /** Prepares on `db` and answers the operation to repeat (`i` counts the calls). */
  setup(db: Connection): (i: number) => void;
}

const WORKLOADS: Workload[] = [
  {
    name: 'get by id',
    setup(db) {
      const ids = (db.prepare('SELECT id FROM posts').all() as { id: string }[]).map((r) => r.id);
      const get = db.prepare(`${PAGE} WHERE id = ?`);
      return (i) => {
        if (!get.get(ids[(i * 7919) % ids.length])) throw new Error('missing row');
      };
    },
  },
  {
    name: 'list 20 with the total',
    setup(db) {
      const page = db.prepare(`${PAGE} ORDER BY created DESC LIMIT 20 OFFSET ?`);
      const count = db.prepare('SELECT COUNT(*) AS c FROM posts');
      return (i) => {
        if (page.all((i % 10) * 20).length !== 20) throw new Error('short page');
        count.get();
      };
    },
  },
  {
    name: 'list 20, rows as arrays (as the readers ask)',
    setup(db) {
      const page = db.prepare(`${PAGE} ORDER BY created DESC LIMIT 20 OFFSET ?`).arrays();
      return (i) => {
        if (page.all((i % 10) * 20).length !== 20) throw new Error('short page');
      };
    },
  },
  {
    name: 'filtered page (indexed)',
    setup(db) {
      const page = db.prepare(`${PAGE} WHERE n >= ? AND n < ? ORDER BY n DESC LIMIT 20`);
      return (i) => {
        const from = i % 900;
        page.all(from, from + 100);
      };
    },
  },
  {
    name: 'durable create (FULL, 1 a transaction)',
    setup(db) {
      db.exec('PRAGMA synchronous = FULL');
      const insert = db.prepare('INSERT INTO posts (id, title, n, created, updated) VALUES (?, ?, ?, ?, ?)');
      const at = '2026-06-01 00:00:00.000Z';
      return (i) => insert.run(newId(), `new ${i}`, i % 1000, at, at);
    },
  },
  {
    name: 'grouped create (NORMAL, 64 a transaction)',
    setup(db) {
      db.exec('PRAGMA synchronous = NORMAL');
      const insert = db.prepare('INSERT INTO posts (id, title, n, created, updated) VALUES (?, ?, ?, ?, ?)');
      const at = '2026-06-01 00:00:00.000Z';
      return (i) => {
        db.exec('BEGIN IMMEDIATE');
        for (let k = 0; k < 64; k++) insert.run(newId(), `new ${i}.${k}`, k, at, at);
        db.exec('COMMIT');
      };
    },
  },
];
/** Rows each operation of a workload writes or reads as one request would: grouped creates count 64. */
const PER_OP: Record<string, number> = { 'grouped create (NORMAL, 64 a transaction)': 64 };

/** Repeats `op` for `ms`: operations a second and CPU µs an operation (this process, all threads). */
function measure(op: (i: number) => void, ms: number): { opsPerSecond: number; cpuUs: number } {
  const start = performance.now();
  const cpu = process.cpuUsage();
  let i = 0;
  while (performance.now() - start < ms) for (let k = 0; k < 16; k++) op(i++);
  const used = process.cpuUsage(cpu);
  const seconds = (performance.now() - start) / 1000;
  return { opsPerSecond: i / seconds, cpuUs: (used.user + used.system) / i };
}

rmSync(TMP, { recursive: true, force: true });
mkdirSync(TMP, { recursive: true });
const drivers = [nodeSqlite, betterSqlite3];
const results = new Map<string, { ops: number[]; cpu: number[] }>();
try {
  for (let round = 0; round < Number(flags.rounds); round++) {
    for (const workload of WORKLOADS) {
      for (const driver of round % 2 ? [...drivers].reverse() : drivers) {
        // A fresh file a round: writes make it grow, and both drivers must read alike.
        const file = join(TMP, `${driver.name.replace(/\W/g, '')}-${round}-${workload.name.length}.db`);
        const db = makeDatabase(driver, file);
        try {
          const op = workload.setup(db);
          measure(op, 200);
          const m = measure(op, Number(flags.ms));
          const key = `${workload.name}|${driver.name}`;
          const r = results.get(key) ?? { ops: [], cpu: [] };
          r.ops.push(m.opsPerSecond * (PER_OP[workload.name] ?? 1));
          r.cpu.push(m.cpuUs / (PER_OP[workload.name] ?? 1));
          results.set(key, r);
        } finally {
          db.close();
          rmSync(file, { force: true });
          rmSync(`${file}-wal`, { force: true });
          rmSync(`${file}-shm`, { force: true });
        }
      }
    }
    console.error(`bench: round ${round + 1}/${flags.rounds} done`);
  }
  const rows = WORKLOADS.map((w) => {
    const of = (d: Driver) => results.get(`${w.name}|${d.name}`)!;
    const [n, b] = [of(nodeSqlite), of(betterSqlite3)];
    return {
      workload: w.name,
      nodeSqlite: { rowsPerSecond: Math.round(median(n.ops)), cpuUsPerRow: Number(median(n.cpu).toFixed(2)) },
      betterSqlite3: {
        rowsPerSecond: Math.round(median(b.ops)),
        cpuUsPerRow: Number(median(b.cpu).toFixed(2)),
      },
      betterAgainstNode: Number((median(b.ops) / median(n.ops)).toFixed(2)),
    };
  });
  if (flags.json)
    console.log(JSON.stringify({ rows: ROWS, rounds: Number(flags.rounds), results: rows }, null, 2));
  else {
    const version = (d: Driver) => {
      const db = d.open(':memory:');
      const v = (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
      db.close();
      return v;
    };
    console.log(
      `${ROWS} rows, ${flags.rounds} rounds of ${flags.ms} ms a workload and driver; medians. SQLite ${version(nodeSqlite)} in node:sqlite (Node ${process.version}), ${version(betterSqlite3)} in better-sqlite3`,
    );
    console.log('| workload | node:sqlite ops/s | µs CPU | better-sqlite3 ops/s | µs CPU | better ÷ node |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const r of rows)
      console.log(
        `| ${r.workload} | ${r.nodeSqlite.rowsPerSecond} | ${r.nodeSqlite.cpuUsPerRow} | ${r.betterSqlite3.rowsPerSecond} | ${r.betterSqlite3.cpuUsPerRow} | ${r.betterAgainstNode} |`,
      );
  }
} finally {
  rmSync(TMP, { recursive: true, force: true });
}
