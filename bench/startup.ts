// `node bench/startup.ts`: how long `plinth serve` takes to give its first answer, and how much memory it
// holds when idle, against the bare node:http + node:sqlite server (bench/baseline-sqlite.ts) in the same
// run. Round after round each server is started on a new data directory (a first start: the database
// is created) and once more on the same directory (a restart), alternating which server goes first.
// Measured from this process: spawn to the first 200 from GET /api/health (polled every 5 ms); resident
// memory (VmRSS) 2 s after that answer (--idle), and again after 2,000 requests and 2 s of rest. Memory is
// per process: with `plinth serve --workers N` the primary and each worker are a process (the report gives
// the largest, the primary's and the sum).
//
// Flags: --rounds N (5) --dir DIR, repeatable (checkouts to compare, e.g. one before a change and one
//        after; this one by default) --workers N (passed to plinth serve; its default otherwise: the
//        cores) --idle S (2) --json
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { memory, processTree } from './proc.ts';
import { freePort } from './servers.ts';
import { median } from './stats.ts';

const ROOT = join(import.meta.dirname, '..');
const TMP = join(ROOT, '.bench-tmp', `startup-${process.pid}`);
const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    workers: { type: 'string' },
    idle: { type: 'string', default: '2' },
    dir: { type: 'string', multiple: true, default: [ROOT] },
    json: { type: 'boolean', default: false },
  },
});
const log = (msg: string) => console.error(`bench: ${msg}`);

interface Server {
  label: string;
  /** The command line after `node`, given a port and a data directory. */
  args: (port: number, dir: string) => string[];
  first: number[];
  restart: number[];
  /** RSS in MB of the largest process of the server, of its first (the primary), and of all together. */
  idle: number[];
  idlePrimary: number[];
  idleAll: number[];
  loaded: number[];
  /** Processes the server ran (1 without workers). */
  processes: number[];
}

/** Resident memory of the server's processes in MB: the largest, the first one's, and the sum. */
function treeMemory(pid: number): { largest: number; primary: number; all: number; processes: number } {
  const rss = processTree(pid).map((p) => {
    try {
      return memory(p).rss;
    } catch {
      return 0;
    }
  });
  return {
    largest: Math.max(...rss),
    primary: rss[0] ?? 0,
    all: rss.reduce((a, b) => a + b, 0),
    processes: rss.length,
  };
}

const servers: Server[] = [
  {
    label: 'baseline',
    args: (port, dir) => [join(ROOT, 'bench', 'baseline-sqlite.ts'), '--port', String(port), '--dir', dir],
    first: [],
    restart: [],
    idle: [],
    idlePrimary: [],
    idleAll: [],
    loaded: [],
    processes: [],
  },
  ...flags.dir.map((checkout) => ({
    label: flags.dir.length > 1 ? `plinth ${resolve(checkout)}` : 'plinth',
    args: (port: number, dir: string) => [
      join(resolve(checkout), 'bin', 'plinth.js'),
      'serve',
      '--http',
      `127.0.0.1:${port}`,
      '--dir',
      dir,
      ...(flags.workers ? ['--workers', flags.workers] : []),
    ],
    first: [],
    restart: [],
    idle: [],
    idlePrimary: [],
    idleAll: [],
    loaded: [],
    processes: [],
  })),
];

/** Starts the server, waits for its first 200, and returns the child and the milliseconds it took. */
async function start(server: Server, dir: string): Promise<{ child: ChildProcess; url: string; ms: number }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  // Inherited PLINTH_* settings would change what is measured.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PLINTH_')));
  const child = spawn(process.execPath, server.args(port, dir), { env, stdio: 'ignore' });
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${server.label} exited with ${child.exitCode}`);
    const ok = await fetch(`${url}/api/health`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return { child, url, ms: performance.now() - started };
    if (performance.now() - started > 30_000) throw new Error(`${server.label} not ready after 30 s`);
    await sleep(5);
  }
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function measure(server: Server, round: number): Promise<void> {
  const dir = join(TMP, `${server.label.replace(/\W+/g, '-')}-${round}`);
  mkdirSync(dir, { recursive: true });
  const first = await start(server, dir);
  server.first.push(first.ms);
  await sleep(Number(flags.idle) * 1000);
  const idle = treeMemory(first.child.pid as number);
  server.idle.push(idle.largest);
  server.idlePrimary.push(idle.primary);
  server.idleAll.push(idle.all);
  server.processes.push(idle.processes);
  for (let i = 0; i < 2000; i += 20)
    await Promise.all(
      Array.from({ length: 20 }, () => fetch(`${first.url}/api/health`).then((r) => r.text())),
    );
  await sleep(2000);
  server.loaded.push(treeMemory(first.child.pid as number).largest);
  await stop(first.child);
  const again = await start(server, dir);
  server.restart.push(again.ms);
  await stop(again.child);
}

mkdirSync(TMP, { recursive: true });
try {
  const rounds = Number(flags.rounds);
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? servers : [...servers].reverse();
    for (const server of order) await measure(server, round);
    log(`round ${round + 1}/${rounds} done`);
  }
} finally {
  rmSync(TMP, { recursive: true, force: true });
}

const rows = servers.map((s) => ({
  server: s.label,
  firstStartMs: Math.round(median(s.first)),
  restartMs: Math.round(median(s.restart)),
  processes: Math.max(...s.processes),
  idleRssMb: median(s.idle),
  idlePrimaryRssMb: median(s.idlePrimary),
  idleAllRssMb: median(s.idleAll),
  afterLoadRssMb: median(s.loaded),
  spread: {
    firstStartMs: [Math.round(Math.min(...s.first)), Math.round(Math.max(...s.first))],
    restartMs: [Math.round(Math.min(...s.restart)), Math.round(Math.max(...s.restart))],
    idleRssMb: [Math.min(...s.idle), Math.max(...s.idle)],
  },
}));
if (flags.json) console.log(JSON.stringify(rows, null, 2));
else {
  console.log(`medians of ${flags.rounds} rounds (min-max); RSS of the largest process`);
  for (const r of rows) {
    const tree =
      r.processes > 1
        ? ` [${r.processes} processes: primary ${r.idlePrimaryRssMb} MB, all ${r.idleAllRssMb} MB]`
        : '';
    console.log(
      `${r.server}: first start ${r.firstStartMs} ms (${r.spread.firstStartMs.join('-')}), restart ${r.restartMs} ms (${r.spread.restartMs.join('-')}), idle RSS ${r.idleRssMb} MB (${r.spread.idleRssMb.join('-')})${tree}, after 2,000 requests ${r.afterLoadRssMb} MB`,
    );
  }
}
