// `node bench/log-rows.ts [rows] [repeats]`: what storing one request-log row costs SQLite itself, by table
// layout and rows per INSERT, with nothing of Plinth around it but the ids and dates the writer makes
// (src/logs/entry-rows.js): node:sqlite, WAL, synchronous=NORMAL, transactions of 512 rows as the log
// writer thread makes them. The layouts run in turn, `repeats` times (3), and each reports its median: the
// machine's load changes from one minute to the next. It bounds what request logs can cost per request on
// SQLite: a floor under the figures of `bench/request-logs.ts`.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { createdDates, orderedIds } from '../src/logs/entry-rows.js';

const ROWS = Number(process.argv[2] ?? 200_000);
const REPEATS = Number(process.argv[3] ?? 3);
const BATCH = 512;
const COLUMNS =
  '"id" TEXT PRIMARY KEY NOT NULL, "created" TEXT, "level" INTEGER, "message" TEXT, "data" JSON';
const INT_COLUMNS = '"id" INTEGER PRIMARY KEY, "created" TEXT, "level" INTEGER, "message" TEXT, "data" JSON';

interface Layout {
  name: string;
  ddl: string;
  rowsPerInsert: number;
  /** Integer keys in time order instead of the 15-character ids. */
  integerKey?: boolean;
  /** The message left '' (logs_0003: a request entry's message is made from its data when read). */
  noMessage?: boolean;
}
const LAYOUTS: Layout[] = [
  {
    name: 'first version: id key, created index, 1 row an INSERT',
    ddl: `CREATE TABLE "_logs" (${COLUMNS}); CREATE INDEX "c" ON "_logs" ("created")`,
    rowsPerInsert: 1,
  },
  {
    name: 'id key, no created index, 1 row an INSERT',
    ddl: `CREATE TABLE "_logs" (${COLUMNS})`,
    rowsPerInsert: 1,
  },
  {
    name: 'id key, no created index, 64 rows an INSERT (logs_0002)',
    ddl: `CREATE TABLE "_logs" (${COLUMNS})`,
    rowsPerInsert: 64,
  },
  {
    name: "the same with the message ''",
    ddl: `CREATE TABLE "_logs" (${COLUMNS})`,
    rowsPerInsert: 64,
    noMessage: true,
  },
  {
    name: 'WITHOUT ROWID, 64 rows an INSERT',
    ddl: `CREATE TABLE "_logs" (${COLUMNS}) WITHOUT ROWID`,
    rowsPerInsert: 64,
  },
  {
    name: 'integer key (no text id), 64 rows an INSERT',
    ddl: `CREATE TABLE "_logs" (${INT_COLUMNS})`,
    rowsPerInsert: 64,
    integerKey: true,
  },
  {
    name: "as shipped (logs_0003): integer key, message '' (made when read), 64 rows an INSERT",
    ddl: `CREATE TABLE "_logs" (${INT_COLUMNS})`,
    rowsPerInsert: 64,
    integerKey: true,
    noMessage: true,
  },
];
const url = '/api/collections/posts/records/abcdefghijklmno';
const data = JSON.stringify({
  type: 'request',
  execTime: 0.1234,
  url,
  method: 'GET',
  status: 200,
  referer: '',
  userAgent: 'autocannon',
  auth: '',
  userIP: '127.0.0.1',
  remoteIP: '127.0.0.1',
});

/** CPU µs a row for one layout, on a fresh file; entries 20 to a millisecond, as at 20,000 requests a second. */
function measure(layout: Layout): number {
  // On the disk the benches' servers use (not a tmpfs /tmp): the WAL's writes are part of the cost.
  const dir = join(import.meta.dirname, '..', '.bench-tmp');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `log-rows-${process.pid}.db`);
  const clean = () => {
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
  };
  clean();
  const db = new DatabaseSync(file);
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL');
  db.exec(layout.ddl);
  const per = layout.rowsPerInsert;
  const insert = db.prepare(`INSERT INTO "_logs" VALUES ${Array(per).fill('(?, ?, ?, ?, ?)').join(', ')}`);
  const idOf = orderedIds();
  const createdOf = createdDates();
  const start0 = Date.now();
  let n = 0;
  const start = process.cpuUsage();
  for (let i = 0; i < ROWS; i += BATCH) {
    db.exec('BEGIN');
    for (let j = 0; j < BATCH; j += per) {
      const params: (string | number)[] = [];
      for (let k = 0; k < per; k++, n++) {
        const time = start0 + Math.floor(n / 20);
        const message = layout.noMessage ? '' : `GET ${url}`;
        params.push(layout.integerKey ? n : idOf(time), createdOf(time), 0, message, data);
      }
      insert.run(...params);
    }
    db.exec('COMMIT');
  }
  const used = process.cpuUsage(start);
  db.close();
  clean();
  return (used.user + used.system) / ROWS;
}

const results = new Map<string, number[]>(LAYOUTS.map((l) => [l.name, []]));
for (let r = 0; r < REPEATS; r++)
  for (const layout of LAYOUTS) results.get(layout.name)?.push(measure(layout));
for (const [name, xs] of results) {
  const sorted = [...xs].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] as number;
  console.log(`${name}: ${median.toFixed(2)} µs CPU a row (runs: ${xs.map((x) => x.toFixed(2)).join(', ')})`);
}
