// `node bench/request-logs.ts`: what storing request logs costs on the get-by-id bench, measured in one
// server process: round after round the load (bench/load.ts, its own process) runs once with request logs
// off (`logs.maxDays = 0`, which returns before anything is recorded) and once with the default settings
// (`maxDays = 5`), alternating which goes first. Same process, same heap, same compiled code: only the
// logging differs, which two builds side by side (bench/builds.ts) cannot promise on a busy machine.
// Reported: server CPU per request (all threads, from /proc) with logs off and on, by thread too
// (`plinth-logs` is the SQLite writer thread), the cost round by round, and the requests a second lost.
//
// Flags: --rounds N (12) --duration S (3) --warmup S (3) --connections N (10) --engine sqlite|postgres
//        (sqlite) --dir DIR, repeatable (checkouts to run, e.g. one before a change and one after: each gets
//        its server, and every round measures each of them, logs off and on, in turn; this one by default)
//        --pin (the server on core 0 with all its threads, the load on core 1, as issue 16's runs were made:
//        the log writer thread then takes its CPU from the server's one core, so the cost shows in req/s too)
//        --json
// On PostgreSQL, where the entries go to the server database, its backends' CPU counts too: reported
// beside the server's, and in the cost.
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { LoadResult } from './load.ts';
import { cpuSeconds, loadInChild, pinTo, threadCpuSeconds } from './proc.ts';
import {
  api,
  databaseCpuSeconds,
  dropBenchDatabases,
  type RunningServer,
  seedPosts,
  startPlinthOn,
} from './servers.ts';
import { median } from './stats.ts';

const ROOT = join(import.meta.dirname, '..');
const TMP = join(ROOT, '.bench-tmp', `request-logs-${process.pid}`);
const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '12' },
    duration: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '10' },
    engine: { type: 'string', default: 'sqlite' },
    dir: { type: 'string', multiple: true, default: [ROOT] },
    json: { type: 'boolean', default: false },
    pin: { type: 'boolean', default: false },
  },
});
/** Pins a process, every thread it has and every one it starts later, to these cores (`taskset`). */
// The load processes are this one's children: they inherit its core. Servers are pinned once started.
if (flags.pin) pinTo(process.pid, '1');
const log = (msg: string) => console.error(`bench: ${msg}`);

interface Mode {
  label: 'off' | 'on';
  maxDays: number;
  total: number[];
  /** PostgreSQL: its backends' CPU per request (µs), one entry per round. */
  db: number[];
  rps: number[];
  threads: Map<string, number[]>;
}

async function setMaxDays(server: RunningServer, maxDays: number): Promise<void> {
  const res = await api(server.baseUrl, 'PATCH', '/api/settings', { logs: { maxDays } }, server.adminHeaders);
  if (res.status !== 200) throw new Error(`settings answered ${res.status}: ${res.text}`);
}

const withDb = flags.engine === 'postgres';

async function measure(server: RunningServer, url: string, mode: Mode): Promise<void> {
  await setMaxDays(server, mode.maxDays);
  const pid = server.pid as number;
  const threadsBefore = threadCpuSeconds(pid);
  const dbBefore = await databaseCpuSeconds(server.db);
  const before = cpuSeconds(pid);
  const result: LoadResult = await loadInChild([
    '--url',
    url,
    '--duration',
    flags.duration,
    '--connections',
    flags.connections,
  ]);
  const cpu = cpuSeconds(pid) - before;
  const db = (await databaseCpuSeconds(server.db)) - dbBefore;
  // A saturated machine times a few requests out; a broken build fails them all.
  const failed = result.non2xx + result.errors + result.timeouts;
  if (failed > result.requests / 100) throw new Error(`${failed} of ${result.requests} requests failed`);
  const perRequest = (seconds: number) => (seconds / result.requests) * 1e6;
  mode.total.push(perRequest(cpu));
  mode.db.push(perRequest(db));
  mode.rps.push(result.rps);
  for (const [name, seconds] of threadCpuSeconds(pid)) {
    const xs = mode.threads.get(name) ?? [];
    xs.push(perRequest(seconds - (threadsBefore.get(name) ?? 0)));
    mode.threads.set(name, xs);
  }
  log(
    `${server.name} logs ${mode.label}: ${perRequest(cpu).toFixed(1)} µs CPU/req${
      withDb ? ` (+ ${perRequest(db).toFixed(1)} µs in the database)` : ''
    }, ${Math.round(result.rps)} req/s`,
  );
}

/** One checkout under test: its server, the URL to load, and its figures with logs off and on. */
interface Subject {
  dir: string;
  server: RunningServer;
  url: string;
  off: Mode;
  on: Mode;
}

/** Starts a checkout's server with 20 records; answers the get-by-id URL to load. */
async function start(dir: string, n: number): Promise<Subject> {
  const variant = {
    name: `plinth-logs-${n}`,
    entry: join(dir, 'bin', 'plinth.js'),
    cli: join(dir, 'bin', 'plinth.js'),
  };
  const server = await startPlinthOn(flags.engine, TMP, variant);
  if (flags.pin) pinTo(server.pid as number, '0');
  const id = await seedPosts(server);
  const mode = (label: Mode['label'], maxDays: number): Mode => ({
    label,
    maxDays,
    total: [],
    db: [],
    rps: [],
    threads: new Map(),
  });
  const url = `${server.baseUrl}/api/collections/posts/records/${id}`;
  return { dir, server, url, off: mode('off', 0), on: mode('on', 5) };
}

/** Median, least and most of per-round percentages, and the rounds themselves. */
function spread(pcts: number[]) {
  const one = (x: number) => Number(x.toFixed(1));
  return {
    median: one(median(pcts)),
    min: one(Math.min(...pcts)),
    max: one(Math.max(...pcts)),
    rounds: pcts.map(one),
  };
}

function summarize(s: Subject) {
  // The server's CPU and, on PostgreSQL, its backends': what a request costs the machine.
  const whole = (m: Mode, i: number) => (m.total[i] as number) + (withDb ? (m.db[i] as number) : 0);
  const costs = s.on.total.map((_, i) => (whole(s.on, i) / whole(s.off, i) - 1) * 100);
  // Requests a second lost with logs on, round by round: what SPEC's ratios measure. On a machine with a
  // core to spare for the log thread it reads lower than the CPU cost, which is the one that holds once
  // every core serves requests (`--workers N`).
  const rpsLoss = s.on.rps.map((x, i) => (1 - x / (s.off.rps[i] as number)) * 100);
  const modes = [s.off, s.on];
  return {
    dir: s.dir,
    engine: flags.engine,
    rounds: Number(flags.rounds),
    cpuPerRequestUs: Object.fromEntries(
      modes.map((m) => [
        m.label,
        { median: Number(median(m.total).toFixed(1)), rounds: m.total.map((x) => Number(x.toFixed(1))) },
      ]),
    ),
    ...(withDb
      ? {
          databaseCpuPerRequestUs: Object.fromEntries(
            modes.map((m) => [m.label, Number(median(m.db).toFixed(1))]),
          ),
        }
      : {}),
    medianRps: Object.fromEntries(modes.map((m) => [m.label, Math.round(median(m.rps))])),
    byThreadMedianUs: Object.fromEntries(
      modes.map((m) => [
        m.label,
        Object.fromEntries([...m.threads].map(([n, xs]) => [n, Number(median(xs).toFixed(2))])),
      ]),
    ),
    costPct: spread(costs),
    rpsLossPct: spread(rpsLoss),
  };
}

function inDb(summary: ReturnType<typeof summarize>, label: Mode['label']): string {
  const us = summary.databaseCpuPerRequestUs?.[label];
  return us === undefined ? '' : ` + ${us} µs in the database`;
}

process.env.PLINTH_MAX_IN_FLIGHT_PER_IP = '0';
process.env.PLINTH_MAX_CONNECTIONS_PER_IP = '0';
mkdirSync(TMP, { recursive: true });
const subjects: Subject[] = [];
try {
  const dirs = (flags.dir as string[]).map((d) => resolve(d));
  for (const [n, dir] of dirs.entries()) subjects.push(await start(dir, n));
  for (const s of subjects)
    for (const mode of [s.off, s.on]) {
      await setMaxDays(s.server, mode.maxDays);
      await loadInChild(['--url', s.url, '--duration', flags.warmup, '--connections', flags.connections]);
    }
  for (let round = 0; round < Number(flags.rounds); round++) {
    // Alternate the order of checkouts and of off/on, so that none always follows the same neighbour.
    const order = round % 2 ? [...subjects].reverse() : subjects;
    for (const s of order)
      for (const mode of (round >> 1) % 2 ? [s.on, s.off] : [s.off, s.on])
        await measure(s.server, s.url, mode);
  }
  const summaries = subjects.map(summarize);
  if (flags.json) console.log(JSON.stringify(summaries, null, 2));
  else
    for (const summary of summaries) {
      console.log(`${summary.dir}:`);
      console.log(
        `  logs off: median ${summary.cpuPerRequestUs.off?.median} µs CPU/req${inDb(summary, 'off')}, ${summary.medianRps.off} req/s`,
      );
      console.log(
        `  logs on:  median ${summary.cpuPerRequestUs.on?.median} µs CPU/req${inDb(summary, 'on')}, ${summary.medianRps.on} req/s`,
      );
      console.log(`  by thread (µs/req): off ${JSON.stringify(summary.byThreadMedianUs.off)}`);
      console.log(`                      on  ${JSON.stringify(summary.byThreadMedianUs.on)}`);
      console.log(
        `  cost round by round: median ${summary.costPct.median}% (from ${summary.costPct.min}% to ${summary.costPct.max}%)`,
      );
      console.log(
        `  req/s lost round by round: median ${summary.rpsLossPct.median}% (from ${summary.rpsLossPct.min}% to ${summary.rpsLossPct.max}%)`,
      );
    }
} finally {
  await Promise.all(subjects.map((s) => s.server.stop()));
  if (flags.engine === 'postgres') await dropBenchDatabases();
  rmSync(TMP, { recursive: true, force: true });
}
