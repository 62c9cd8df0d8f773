// Backup and restore throughput: `node bench/backups.ts [RECORDS] [--engine sqlite|postgres|mysql]`
// (default 100000 records on SQLite; the issue asks about 1000000). Seeds RECORDS rows of a four-field
// collection straight into the table, then times a backup (SQLite snapshot or pg_dump / mariadb-dump, and
// the archive), a verify (unpack + hashes + a load into a scratch database or SQLite's integrity check +
// counts) and a restore (stage + verify + swap), and prints records/s and MB/s for each. Everything runs in
// a temp dir; on the server engines in a database of its own on the local server, dropped at the end.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createApp } from '../src/app.ts';
import {
  applyPendingRestore,
  applyPendingServerRestore,
  parseServerUrl,
  stageRestore,
  stageServerRestore,
  verifyArchive,
} from '../src/backups/index.ts';
import { loadConfig } from '../src/config/index.ts';
import { createLogger } from '../src/log/index.ts';
import { createTestDatabase } from '../test/helpers/databases.ts';

const { values, positionals } = parseArgs({
  options: { engine: { type: 'string', default: 'sqlite' } },
  allowPositionals: true,
});
const engine = values.engine as 'sqlite' | 'postgres' | 'mysql';
const records = Number(positionals[0] ?? 100_000);
if (!Number.isSafeInteger(records) || records < 1 || !['sqlite', 'postgres', 'mysql'].includes(engine))
  throw new Error('usage: node bench/backups.ts [RECORDS] [--engine sqlite|postgres|mysql]');
const database =
  engine === 'sqlite'
    ? { url: '', drop: async () => {} }
    : await createTestDatabase(engine as 'postgres' | 'mysql');
const dir = mkdtempSync(join(tmpdir(), 'plinth-bench-backups-'));
const config = loadConfig({ dir, db: database.url, logLevel: 'silent' }, {});
const app = await createApp(config, createLogger('silent'));
try {
  await app.collections.create({
    name: 'items',
    type: 'base',
    fields: [
      { name: 'title', type: 'text' },
      { name: 'body', type: 'text' },
      { name: 'n', type: 'number' },
      { name: 'done', type: 'bool' },
    ],
  });
  let t = performance.now();
  const BATCH = 400;
  for (let i = 0; i < records; i += BATCH) {
    const rows: Record<string, unknown>[] = [];
    for (let j = i; j < Math.min(records, i + BATCH); j++)
      rows.push({
        id: `r${String(j).padStart(14, '0')}`,
        title: `item ${j}`,
        body: `some body text for item ${j}, long enough to look like a short note`,
        n: j,
        done: j % 2 === 0,
      });
    // biome-ignore lint/suspicious/noExplicitAny: a table made at run time.
    await app.db.transaction((trx) => (trx as any).insertInto('items').values(rows).execute());
  }
  console.log(`seeded ${records} records in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const sizeSql = {
    sqlite: '',
    postgres: 'SELECT pg_database_size(current_database()) AS size',
    mysql:
      'SELECT SUM(data_length + index_length) AS size FROM information_schema.tables WHERE table_schema = DATABASE()',
  }[engine];
  const dbBytes =
    engine === 'sqlite'
      ? statSync(join(dir, 'data.db')).size
      : Number((await app.db.run<{ size: number }>(app.db.kysely, sizeSql, []))[0]?.size);

  t = performance.now();
  await app.backups.create('bench.zip');
  const backupS = (performance.now() - t) / 1000;
  const archive = join(app.backups.dir, 'bench.zip');
  const zipBytes = statSync(archive).size;
  await app.close();

  const scratch = mkdtempSync(join(tmpdir(), 'plinth-bench-verify-'));
  t = performance.now();
  await verifyArchive(
    archive,
    scratch,
    engine === 'sqlite' ? { engine } : { engine, server: parseServerUrl(database.url) },
  );
  const verifyS = (performance.now() - t) / 1000;
  rmSync(scratch, { recursive: true, force: true });

  t = performance.now();
  if (engine === 'sqlite') {
    await stageRestore(dir, join(dir, 'data.db'), archive);
    applyPendingRestore(dir, join(dir, 'data.db'));
  } else {
    await stageServerRestore(database.url, dir, archive);
    const applied = await applyPendingServerRestore(database.url, dir);
    if (applied.error) throw applied.error;
  }
  const restoreS = (performance.now() - t) / 1000;

  const mb = dbBytes / 1048576;
  const line = (label: string, s: number) =>
    `${label.padEnd(8)} ${s.toFixed(2).padStart(7)} s  ${Math.round(records / s)
      .toLocaleString('en')
      .padStart(10)} records/s  ${(mb / s).toFixed(0).padStart(5)} MB/s`;
  console.log(`${engine}: database ${mb.toFixed(1)} MB, archive ${(zipBytes / 1048576).toFixed(1)} MB`);
  console.log(line('backup', backupS));
  console.log(line('verify', verifyS));
  console.log(line('restore', restoreS));
} finally {
  await app.close().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
  await database.drop();
}
