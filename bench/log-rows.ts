// `node bench/log-rows.ts [rows]`: what storing one request-log row costs SQLite itself, by table layout,
// with nothing of Plinth around it (node:sqlite, WAL, synchronous=NORMAL, transactions of 2,048 rows as the
// log writer thread makes them, ids in time order as src/logs/sinks.ts makes them). It bounds what the
// request logs can cost per request on SQLite: a floor under the figures of `bench/builds.ts`.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

const ROWS = Number(process.argv[2] ?? 200_000);
const BATCH = 2048;
const COLUMNS =
  '"id" TEXT PRIMARY KEY NOT NULL, "created" TEXT, "level" INTEGER, "message" TEXT, "data" JSON';
const LAYOUTS: [string, string][] = [
  [
    'as shipped: rowid table, id key, created index',
    `CREATE TABLE "_logs" (${COLUMNS}); CREATE INDEX "c" ON "_logs" ("created")`,
  ],
  ['no created index', `CREATE TABLE "_logs" (${COLUMNS})`],
  [
    'WITHOUT ROWID, created index',
    `CREATE TABLE "_logs" (${COLUMNS}) WITHOUT ROWID; CREATE INDEX "c" ON "_logs" ("created")`,
  ],
  ['WITHOUT ROWID, no other index', `CREATE TABLE "_logs" (${COLUMNS}) WITHOUT ROWID`],
];
const data = JSON.stringify({
  type: 'request',
  execTime: 0.1234,
  url: '/api/collections/posts/records/abcdefghijklmno',
  method: 'GET',
  status: 200,
  referer: '',
  userAgent: 'autocannon',
  auth: '',
  userIP: '127.0.0.1',
  remoteIP: '127.0.0.1',
});
let counter = 0;
const id = (t: number) =>
  `${t.toString(36).padStart(9, '0')}${(counter++ % 1296).toString(36).padStart(2, '0')}abcd`;
const created = (t: number) => new Date(t).toISOString().replace('T', ' ');

for (const [name, ddl] of LAYOUTS) {
  const file = join(tmpdir(), `plinth-log-rows-${process.pid}.db`);
  const clean = () => {
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
  };
  clean();
  const db = new DatabaseSync(file);
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL');
  db.exec(ddl);
  const insert = db.prepare('INSERT INTO "_logs" VALUES (?, ?, ?, ?, ?)');
  let t = Date.now();
  const start = process.cpuUsage();
  for (let i = 0; i < ROWS; i += BATCH) {
    db.exec('BEGIN');
    for (let j = 0; j < BATCH; j++) insert.run(id(++t), created(t), 0, 'GET /api/x', data);
    db.exec('COMMIT');
  }
  const used = process.cpuUsage(start);
  console.log(`${name}: ${((used.user + used.system) / ROWS).toFixed(2)} µs CPU a row`);
  db.close();
  clean();
}
