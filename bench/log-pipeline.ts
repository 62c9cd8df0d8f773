// `node bench/log-pipeline.ts`: what each request-log entry costs on SQLite, by thread, without the HTTP
// server around it: the writer of a checkout (src/logs: `addRequest`, batches handed to the `plinth-logs`
// thread, rows made and inserted there into a migrated log file) fed as the request path feeds it, with
// new strings for each entry as a request has (URL, user agent: the same text, a new string each time) and
// the socket's address as it is (one string).
// The server's own CPU per request moves by ±20% from one round to the next on a busy machine
// (bench/request-logs.ts), far more than these few µs; here they are measured alone, in µs of CPU per
// entry: the event loop's share (the same loop making the same strings without logging is subtracted) and
// the writer thread's (from /proc). Each round runs every checkout in turn, each in a new process.
//
// Flags: --entries N (100000) --rounds N (6) --dir DIR, repeatable (checkouts to compare; this one by
//        default) --json
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from './stats.ts';

const ROOT = join(import.meta.dirname, '..');
const { values: flags } = parseArgs({
  options: {
    entries: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '6' },
    dir: { type: 'string', multiple: true, default: [ROOT] },
    child: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

interface Sample {
  /** Event-loop CPU µs an entry, logging's share. */
  main: number;
  /** The writer thread's CPU µs an entry. */
  writer: number;
}

/** CPU seconds of this process's thread named `name`, from /proc. */
function threadSeconds(name: string): number {
  let total = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== name) continue;
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    total += (Number(fields[11]) + Number(fields[12])) / 100;
  }
  return total;
}

const mainMicros = () => {
  const u = process.threadCpuUsage();
  return u.user + u.system;
};

/** One checkout, in this process: its writer fed `entries` entries after a warm-up. */
async function child(dir: string): Promise<Sample> {
  const logs = await import(join(dir, 'src/logs/index.ts'));
  const { createDatabase, runMigrations } = await import(join(dir, 'src/db/index.ts'));
  const { createLogger } = await import(join(dir, 'src/log/index.ts'));
  const tmp = mkdtempSync(join(tmpdir(), 'plinth-log-pipeline-'));
  const file = join(tmp, 'auxiliary.db');
  const log = createLogger('silent');
  const db = createDatabase({ url: `sqlite:${file}`, dataDir: tmp, sqliteSynchronous: 'NORMAL', log });
  await runMigrations(db, logs.LOGS_MIGRATIONS);
  const writer = logs.createLogWriter({ db, sink: logs.workerSink(file), log, maxDays: () => 5 });
  const ip = '127.0.0.1';
  const agent =
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36';
  // What a request holds: strings made for it (URL, headers), here made new for each entry.
  let sink = 0;
  const feed = async (n: number, logging: boolean) => {
    for (let i = 0; i < n; i++) {
      const url = `/api/collections/posts/records/${(1e14 + i).toString(36)}`;
      const ua = (i & 1 ? ` ${agent}` : `${agent} `).trim();
      if (logging)
        writer.addRequest(
          Date.now(),
          200,
          0.25 + (i % 7) / 10,
          'GET',
          url,
          undefined,
          ua,
          '',
          '',
          ip,
          ip,
          undefined,
        );
      else sink += url.length + ua.length;
      // Batches of 512 go as the server's do; waiting for each keeps the queue under its cap.
      if (i % 512 === 511) await writer.flush();
    }
    await writer.flush();
  };
  await feed(20_000, true);
  await feed(20_000, false);
  const n = Number(flags.entries);
  let t = mainMicros();
  await feed(n, false);
  const without = mainMicros() - t;
  const writerBefore = threadSeconds('plinth-logs');
  t = mainMicros();
  await feed(n, true);
  const withLogs = mainMicros() - t;
  const writerSeconds = threadSeconds('plinth-logs') - writerBefore;
  await writer.close();
  await db.close();
  rmSync(tmp, { recursive: true, force: true });
  if (sink < 0) console.error(sink);
  return { main: (withLogs - without) / n, writer: (writerSeconds * 1e6) / n };
}

if (flags.child) {
  console.log(JSON.stringify(await child(flags.child)));
} else {
  const dirs = (flags.dir as string[]).map((d) => resolve(d));
  const samples = new Map<string, Sample[]>(dirs.map((d) => [d, []]));
  for (let round = 0; round < Number(flags.rounds); round++) {
    for (const dir of round % 2 ? [...dirs].reverse() : dirs) {
      const run = spawnSync(
        process.execPath,
        [import.meta.filename, '--child', dir, '--entries', flags.entries as string],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
      );
      if (run.status !== 0) throw new Error(`${dir}: exit ${run.status}`);
      const sample = JSON.parse(run.stdout.trim().split('\n').at(-1) as string) as Sample;
      samples.get(dir)?.push(sample);
      console.error(
        `bench: ${dir}: main ${sample.main.toFixed(2)} µs, writer ${sample.writer.toFixed(2)} µs an entry`,
      );
    }
  }
  const summary = dirs.map((dir) => {
    const xs = samples.get(dir) as Sample[];
    const stat = (key: keyof Sample) => {
      const v = xs.map((s) => s[key]);
      return {
        median: Number(median(v).toFixed(2)),
        min: Number(Math.min(...v).toFixed(2)),
        max: Number(Math.max(...v).toFixed(2)),
      };
    };
    const total = xs.map((s) => s.main + s.writer);
    return {
      dir,
      rounds: xs.length,
      entries: Number(flags.entries),
      main: stat('main'),
      writer: stat('writer'),
      total: { median: Number(median(total).toFixed(2)) },
    };
  });
  if (flags.json) console.log(JSON.stringify(summary, null, 2));
  else
    for (const s of summary)
      console.log(
        `${s.dir}: µs CPU an entry, median of ${s.rounds} rounds (min–max): event loop ${s.main.median} (${s.main.min}–${s.main.max}), writer thread ${s.writer.median} (${s.writer.min}–${s.writer.max}), total ${s.total.median}`,
      );
}
