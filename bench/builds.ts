// `node bench/builds.ts --a DIR --b DIR`: what a change costs per request. Two checkouts of Plinth (two
// git worktrees, say one with the change and one without) run side by side with the same setup; the load
// (bench/load.ts, a separate process) goes to one, then the other, round after round, so both see the
// same machine. Reported per build: server CPU per request (from /proc/PID/stat: what the change costs,
// and steadier than req/s on a shared machine) and req/s, each round and the medians.
//
// Flags: --a DIR --b DIR (checkouts holding bin/plinth.js; b defaults to this one) --rounds N (8)
//        --duration S (5) --warmup S (3) --connections N (10) --engine sqlite|postgres (sqlite)
//        --scenario get|list|create (get; create: durable creates, as bench/run.ts's)
//        --b-env NAME=VALUE, repeatable (settings for b's server only: `--a . --b . --b-env
//        PLINTH_SQLITE_INLINE_READS=false` compares a setting, or a Node flag through NODE_OPTIONS)
//        --threads (also CPU per request by thread name: MainThread, V8Worker, plinth-logs...) --pin (each server on core 0 with all its threads, the load on core 1, as
//        issue 16's runs were made: work a server moves to another thread then shows in its req/s) --json
// On PostgreSQL the CPU its backends spend for each server is reported too (`db`): a change can move work
// between Node and the database. With --pin the backends go on core 0 too, beside their server.
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { LoadResult } from './load.ts';
import { cpuSeconds, loadInChild, pinTo, threadCpuSeconds } from './proc.ts';
import {
  api,
  databaseCpuSeconds,
  dropBenchDatabases,
  pinDatabase,
  type RunningServer,
  seedPosts,
  startPlinthOn,
} from './servers.ts';
import { median } from './stats.ts';

const ROOT = join(import.meta.dirname, '..');
const TMP = join(ROOT, '.bench-tmp', `builds-${process.pid}`);
const { values: flags } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string', default: ROOT },
    rounds: { type: 'string', default: '8' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '10' },
    engine: { type: 'string', default: 'sqlite' },
    scenario: { type: 'string', default: 'get' },
    threads: { type: 'boolean', default: false },
    pin: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    'b-env': { type: 'string', multiple: true, default: [] },
  },
});
const log = (msg: string) => console.error(`bench: ${msg}`);
// The load processes are this one's children: they inherit its core. Servers are pinned once started.
if (flags.pin) pinTo(process.pid, '1');
const CREATE = [
  '--method',
  'POST',
  '--content-type',
  'application/json',
  '--body',
  '{"title":"bench","n":7}',
];
function load(url: string, duration: number): Promise<LoadResult> {
  const args = ['--url', url, '--duration', String(duration), '--connections', flags.connections];
  return loadInChild(flags.scenario === 'create' ? [...args, ...CREATE] : args);
}

interface Build {
  label: string;
  server: RunningServer;
  url: string;
  cpuPerRequest: number[];
  /** PostgreSQL: its backends' CPU per request for this server (µs), one entry per round. */
  dbPerRequest: number[];
  rps: number[];
  /** With --threads: µs of CPU per request by thread name, one entry per round. */
  threads: Map<string, number[]>;
}

/** Starts one checkout's server with the bench's usual setup and 20 records; returns the URL to load. */
async function start(label: string, dir: string, env: Record<string, string> = {}): Promise<Build> {
  const variant = {
    name: `plinth-${label}`,
    entry: join(dir, 'bin', 'plinth.js'),
    cli: join(dir, 'bin', 'plinth.js'),
    env,
  };
  const server = await startPlinthOn(flags.engine, TMP, variant);
  if (flags.pin) pinTo(server.pid as number, '0');
  const id = await seedPosts(server);
  const path =
    flags.scenario === 'list'
      ? '/api/collections/posts/records?perPage=20&sort=-created'
      : flags.scenario === 'create'
        ? '/api/collections/posts/records'
        : `/api/collections/posts/records/${id}`;
  const check = await api(server.baseUrl, 'GET', path);
  if (check.status !== 200) throw new Error(`${label}: ${path} answered ${check.status}`);
  return {
    label,
    server,
    url: server.baseUrl + path,
    cpuPerRequest: [],
    dbPerRequest: [],
    rps: [],
    threads: new Map(),
  };
}

const withDb = flags.engine === 'postgres';

async function measure(build: Build): Promise<void> {
  const pid = build.server.pid as number;
  const threadsBefore = flags.threads ? threadCpuSeconds(pid) : undefined;
  if (flags.pin) await pinDatabase(build.server.db, '0');
  const dbBefore = await databaseCpuSeconds(build.server.db);
  const before = cpuSeconds(pid);
  const result = await load(build.url, Number(flags.duration));
  const cpu = cpuSeconds(pid) - before;
  const db = (await databaseCpuSeconds(build.server.db)) - dbBefore;
  if (threadsBefore)
    for (const [name, seconds] of threadCpuSeconds(pid)) {
      const perRequest = ((seconds - (threadsBefore.get(name) ?? 0)) / result.requests) * 1e6;
      build.threads.set(name, [...(build.threads.get(name) ?? []), perRequest]);
    }
  const failed = result.non2xx + result.errors + result.timeouts;
  if (failed > 0) throw new Error(`${build.label}: ${failed} requests failed under load`);
  build.cpuPerRequest.push((cpu / result.requests) * 1e6);
  build.dbPerRequest.push((db / result.requests) * 1e6);
  build.rps.push(result.rps);
  const dbNote = withDb ? ` (+ ${((db / result.requests) * 1e6).toFixed(1)} µs in the database)` : '';
  log(
    `${build.label}: ${((cpu / result.requests) * 1e6).toFixed(1)} µs CPU/req${dbNote}, ${Math.round(result.rps)} req/s`,
  );
}

if (!flags.a) {
  console.error('builds.ts: --a DIR is required (a checkout to compare with --b, by default this one)');
  process.exit(2);
}
// Rate limits are switched off by the setup; the per-IP admission limits too, as in bench/run.ts.
process.env.PLINTH_MAX_IN_FLIGHT_PER_IP = '0';
process.env.PLINTH_MAX_CONNECTIONS_PER_IP = '0';
mkdirSync(TMP, { recursive: true });
const builds: Build[] = [];
try {
  builds.push(await start('a', resolve(flags.a)));
  const bEnv = Object.fromEntries(
    flags['b-env'].map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
  );
  builds.push(await start('b', resolve(flags.b), bEnv));
  for (const b of builds) await load(b.url, Number(flags.warmup));
  for (let round = 0; round < Number(flags.rounds); round++) {
    // Alternate which goes first, so neither always runs right after the other's load.
    for (const b of round % 2 ? [...builds].reverse() : builds) await measure(b);
  }
  const summary = builds.map((b) => ({
    build: b.label,
    dir: resolve(b.label === 'a' ? (flags.a as string) : flags.b),
    cpuPerRequestUs: b.cpuPerRequest.map((x) => Number(x.toFixed(1))),
    rps: b.rps.map(Math.round),
    medianCpuPerRequestUs: Number(median(b.cpuPerRequest).toFixed(1)),
    ...(withDb ? { medianDbCpuPerRequestUs: Number(median(b.dbPerRequest).toFixed(1)) } : {}),
    medianRps: Math.round(median(b.rps)),
    medianCpuPerRequestUsByThread: Object.fromEntries(
      [...b.threads].map(([name, xs]) => [name, Number(median(xs).toFixed(2))]),
    ),
  }));
  // Round by round, b's CPU per request against a's just before or after it: steadier than the medians'
  // ratio on a machine whose load changes from one minute to the next.
  const [a, b] = builds as [Build, Build];
  // On PostgreSQL, the server's CPU and its backends' together: what the machine spends a request.
  const total = (build: Build, i: number) =>
    (build.cpuPerRequest[i] as number) + (withDb ? (build.dbPerRequest[i] as number) : 0);
  const ratios = b.cpuPerRequest.map((_, i) => total(b, i) / total(a, i) - 1);
  const paired = {
    medianPct: Number((median(ratios) * 100).toFixed(1)),
    minPct: Number((Math.min(...ratios) * 100).toFixed(1)),
    maxPct: Number((Math.max(...ratios) * 100).toFixed(1)),
  };
  if (flags.json) console.log(JSON.stringify({ builds: summary, bAgainstA: paired }, null, 2));
  else
    for (const s of summary)
      console.log(
        `${s.build} (${s.dir}): median ${s.medianCpuPerRequestUs} µs CPU/req${
          withDb ? ` + ${s.medianDbCpuPerRequestUs} µs in the database` : ''
        }, ${s.medianRps} req/s${
          flags.threads ? ` (by thread: ${JSON.stringify(s.medianCpuPerRequestUsByThread)})` : ''
        }`,
      );
  if (!flags.json)
    console.log(
      `b against a, round by round: median ${paired.medianPct}% CPU/req${withDb ? ' (server and database)' : ''} (from ${paired.minPct}% to ${paired.maxPct}%)`,
    );
} finally {
  await Promise.all(builds.map((b) => b.server.stop()));
  if (flags.engine === 'postgres') await dropBenchDatabases();
  rmSync(TMP, { recursive: true, force: true });
}
