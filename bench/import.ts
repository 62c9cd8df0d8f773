// `node bench/import.ts [--rows 1000000] [--engine sqlite|postgres|mysql] [--batch 500] [--keep]`: the rate
// of `plinth import` on a generated CSV file of --rows rows (rows/s, wall clock, the whole command
// including start-up) and its peak RSS (VmHWM of the child process, read from /proc every 100 ms), then
// the rate and peak RSS of `plinth export` of the same rows as JSON Lines and as CSV. The commands run as
// child processes, exactly as a user runs them; the collection is made first with createApp.
// Rows: a text, a number, a bool, a single select, a multiple select (JSON text in its cell) and a json
// field. Everything goes to a directory under os.tmpdir(), removed at the end unless --keep.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config/index.ts';
import { createLogger } from '../src/log/index.ts';
import { createTestDatabase } from '../test/helpers/databases.ts';
import { memory } from './proc.ts';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    engine: { type: 'string', default: 'sqlite' },
    batch: { type: 'string', default: '500' },
    keep: { type: 'boolean' },
  },
});
const rows = Number(values.rows);
const dir = mkdtempSync(join(tmpdir(), 'plinth-bench-import-'));
const BIN = join(import.meta.dirname, '../bin/plinth.js');

/** Writes the CSV with backpressure (the generator holds one chunk, not the file). */
async function writeCsv(file: string): Promise<void> {
  const out = createWriteStream(file);
  out.write('title,n,flag,tag,tags,meta\n');
  const tags = ['a', 'b', 'c'];
  let chunk = '';
  for (let i = 0; i < rows; i++) {
    chunk += `"row ${i}, quoted",${i * 1.5},${i % 2 === 0},${tags[i % 3]},"[""a"",""${tags[(i + 1) % 3]}""]","{""i"":${i},""s"":""x""}"\n`;
    if (chunk.length > 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

/** Runs `plinth ARGS` as a child; answers its wall time and peak RSS (MB). */
async function timed(args: string[]): Promise<{ seconds: number; peakMb: number; out: string }> {
  const started = performance.now();
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  let peakMb = 0;
  const poll = setInterval(() => {
    try {
      peakMb = Math.max(peakMb, memory(child.pid!).peak);
    } catch {
      /* exited */
    }
  }, 100);
  const [code] = await once(child, 'exit');
  clearInterval(poll);
  if (code !== 0) throw new Error(`plinth ${args.join(' ')} exited ${code}:\n${out}`);
  return { seconds: (performance.now() - started) / 1000, peakMb, out };
}

const database =
  values.engine === 'sqlite'
    ? { url: '', drop: async () => {} }
    : await createTestDatabase(values.engine as 'postgres' | 'mysql');
try {
  const config = loadConfig({ dir, db: database.url, logLevel: 'silent' }, {});
  const app = await createApp(config, createLogger('silent'));
  await app.collections.create({
    name: 'items',
    type: 'base',
    fields: [
      { name: 'title', type: 'text', required: true },
      { name: 'n', type: 'number' },
      { name: 'flag', type: 'bool' },
      { name: 'tag', type: 'select', values: ['a', 'b', 'c'], maxSelect: 1 },
      { name: 'tags', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
      { name: 'meta', type: 'json' },
    ],
  });
  await app.close();
  const csv = join(dir, 'items.csv');
  await writeCsv(csv);
  const db = ['--dir', dir, ...(database.url ? ['--db', database.url] : [])];
  const mb = (statSync(csv).size / 1024 / 1024).toFixed(0);
  const imp = await timed(['import', 'items', csv, '--batch', String(values.batch), '--quiet', ...db]);
  const jsonl = await timed(['export', 'items', '--out', join(dir, 'out.jsonl'), '--quiet', ...db]);
  const csvOut = await timed(['export', 'items', '--out', join(dir, 'out.csv'), '--quiet', ...db]);
  const line = (name: string, r: { seconds: number; peakMb: number }) =>
    `| ${name} | ${rows} | ${r.seconds.toFixed(1)} | ${Math.round(rows / r.seconds)} | ${r.peakMb} |`;
  process.stdout.write(
    `engine ${values.engine}, ${rows} rows (${mb} MB of CSV), batch ${values.batch}, ${cpus().length} × ${cpus()[0]?.model}, Node ${process.versions.node}\n` +
      `| command | rows | seconds | rows/s | peak RSS (MB) |\n| --- | --- | --- | --- | --- |\n` +
      `${line('import (CSV)', imp)}\n${line('export JSONL', jsonl)}\n${line('export CSV', csvOut)}\n`,
  );
} finally {
  await database.drop();
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
}
