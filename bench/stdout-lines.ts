// `node bench/stdout-lines.ts`: what the server's own log line for each request costs, from the logger as
// `plinth serve` makes it (src/log/logger.ts) to the file standard output goes to. Each checkout runs in a
// child process of its own, with standard output sent to a temporary file; the child writes the lines as
// the request path does (the logger's stream, one line a request, ten requests a turn) and reports its CPU
// per line, all threads (sonic-boom writes on libuv's thread pool) and the event loop's alone. Rounds
// alternate the checkouts.
//
// Flags: --lines N (200000) --rounds N (3) --dir DIR, repeatable (checkouts to compare; this one by default)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from './stats.ts';

const ROOT = join(import.meta.dirname, '..');
const { values: flags } = parseArgs({
  options: {
    lines: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '3' },
    dir: { type: 'string', multiple: true, default: [ROOT] },
    child: { type: 'string' },
  },
});

interface Sample {
  all: number;
  main: number;
}

async function child(dir: string, n: number): Promise<Sample> {
  const { createLogger } = await import(join(dir, 'src/log/logger.ts'));
  const { default: pino } = await import(join(dir, 'node_modules/pino/pino.js'));
  const stream = createLogger('info')[pino.symbols.streamSym] as { write(line: string): void };
  // A request line as src/http/request-log.ts writes it.
  const line = (i: number) =>
    `{"level":30,"time":${Date.now()},"pid":1,"hostname":"vm","reqId":"${(1e12 + i).toString(36)}","method":"GET","path":"/api/collections/posts/records/abcdefghijklmno","status":200,"ms":0.2,"msg":"request"}\n`;
  const turn = () => new Promise((r) => setImmediate(r));
  for (let i = 0; i < 20_000; i++) stream.write(line(i));
  await new Promise((r) => setTimeout(r, 300));
  const all = process.cpuUsage();
  const main = process.threadCpuUsage();
  for (let i = 0; i < n; i += 10) {
    for (let j = 0; j < 10; j++) stream.write(line(i + j));
    await turn();
  }
  // Until the last chunk is written (the logger's timer hands it over within 200 ms).
  await new Promise((r) => setTimeout(r, 500));
  const a = process.cpuUsage(all);
  const m = process.threadCpuUsage(main);
  return { all: (a.user + a.system) / n, main: (m.user + m.system) / n };
}

if (flags.child) {
  const sample = await child(flags.child, Number(flags.lines));
  process.stderr.write(`${JSON.stringify(sample)}\n`);
} else {
  const dirs = (flags.dir as string[]).map((d) => resolve(d));
  const tmp = mkdtempSync(join(tmpdir(), 'plinth-stdout-'));
  const samples = new Map<string, Sample[]>(dirs.map((d) => [d, []]));
  for (let round = 0; round < Number(flags.rounds); round++) {
    for (const dir of round % 2 ? [...dirs].reverse() : dirs) {
      const out = openSync(join(tmp, `out-${round}.log`), 'w');
      const run = spawnSync(
        process.execPath,
        [import.meta.filename, '--child', dir, '--lines', flags.lines as string],
        { encoding: 'utf8', stdio: ['ignore', out, 'pipe'] },
      );
      if (run.status !== 0) throw new Error(`${dir}: exit ${run.status}\n${run.stderr}`);
      const sample = JSON.parse(run.stderr.trim().split('\n').at(-1) as string) as Sample;
      samples.get(dir)?.push(sample);
      console.error(
        `bench: ${dir}: ${sample.all.toFixed(2)} µs a line (event loop ${sample.main.toFixed(2)})`,
      );
    }
  }
  rmSync(tmp, { recursive: true, force: true });
  for (const dir of dirs) {
    const xs = samples.get(dir) as Sample[];
    console.log(
      `${dir}: µs CPU a line, median of ${xs.length}: all threads ${median(xs.map((s) => s.all)).toFixed(2)}, event loop ${median(xs.map((s) => s.main)).toFixed(2)}`,
    );
  }
}
