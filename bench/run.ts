// `npm run bench`: Plinth against a bare node:http + driver baseline, in the same run, on loopback,
// with the load coming from a separate process (bench/load.ts). Results are ratios to the baseline, so
// they mean something on any machine; absolute req/s only describe this machine at this moment.
// Exits non-zero when setup, the pre-load check, or any request under load fails.
//
// Flags: --duration S (10)  --connections N (10)  --warmup S (2)  --rounds N (3)  --records N (1000)
//        --books N (100000, for the query scenarios)  --notes N (100000, for the owner scenarios)
//        --engines sqlite,postgres (both)
//        --only get,list,query,query-skiptotal,owner-rule,owner-filter,create
//        --json (results JSON on stdout instead of the table)  --keep (keep data and databases)
//        --group-commit both (SQLite: also run Plinth with group commit off, `plinth-nogroup`, in the same
//        rounds: before and after against one baseline; default: Plinth's default, on)
//        --pin (each server with all its threads on core 0, the load on core 1, as issue 16 measured: a
//        server's work on other threads then counts against its own core; PostgreSQL's own processes are
//        not pinned)
// PostgreSQL: databases are created and dropped through PLINTH_BENCH_PG
// (default postgres://postgres@127.0.0.1:5432/postgres).
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { LoadResult } from './load.ts';
import {
  generateOwnerDataset,
  type OwnerDataset,
  ownerHeaders,
  ownerScenarios,
  seedOwner,
  verifyOwner,
} from './owner-scenario.ts';
import { pinTo } from './proc.ts';
import {
  generateDataset,
  type QueryDataset,
  queryScenarios,
  seedQuery,
  verifyQuery,
} from './query-scenario.ts';
import { SCENARIOS, type Scenario, seed, type Target, verify } from './scenarios.ts';
import {
  dropBenchDatabases,
  PG_ADMIN_URL,
  pendingBenchDatabases,
  type RunningServer,
  startPlinthPostgres,
  startPlinthSqlite,
  startPostgresBaseline,
  startSqliteBaseline,
} from './servers.ts';

const ROOT = join(import.meta.dirname, '..');
const TMP = join(ROOT, '.bench-tmp');

/** A baseline and Plinth on the same engine; the baseline starts first (its rows are the reference). */
interface EnginePair {
  engine: string;
  baseline: (runDir: string) => Promise<RunningServer>;
  plinth: (runDir: string) => Promise<RunningServer>;
}

const ENGINES: EnginePair[] = [
  { engine: 'sqlite', baseline: startSqliteBaseline, plinth: startPlinthSqlite },
  { engine: 'postgres', baseline: startPostgresBaseline, plinth: startPlinthPostgres },
];

/**
 * One measured row of the report. Ratios are Plinth / baseline, null on the baseline's own rows; on
 * `owner-rule` they are Plinth with the rule / Plinth with the equivalent filter (`owner-filter`).
 */
export interface Row extends LoadResult {
  engine: string;
  scenario: string;
  server: string;
  rpsRatio: number | null;
  p99Ratio: number | null;
  /** Lowest and highest req/s over the rounds (the noise), where rounds were run. */
  rpsRange?: [number, number];
}

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    records: { type: 'string', default: '1000' },
    books: { type: 'string', default: '100000' },
    notes: { type: 'string', default: '100000' },
    engines: { type: 'string', default: ENGINES.map((e) => e.engine).join(',') },
    only: { type: 'string' },
    json: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    'group-commit': { type: 'string', default: 'on' },
    pin: { type: 'boolean', default: false },
  },
});
const log = (msg: string) => console.error(`bench: ${msg}`);
// The load processes are this one's children: they inherit its core. Servers are pinned once started.
if (flags.pin) pinTo(process.pid, '1');
let interrupted = false;

// The query scenarios' rows, generated once (only when a query scenario runs) and seeded into every server.
let dataset: QueryDataset | undefined;
const queryData = () => (dataset ??= generateDataset(Number(flags.books)));
const QUERY_SCENARIOS = queryScenarios(queryData);
// The owner scenarios' rows (Plinth only: rule against equivalent filter, no baseline).
let ownerDataset: OwnerDataset | undefined;
const ownerData = () => (ownerDataset ??= generateOwnerDataset(Number(flags.notes)));
const OWNER_SCENARIOS = ownerScenarios(ownerData);
// Run order: create last, so that its inserts do not change what the reads read.
const ALL_SCENARIOS = [
  ...SCENARIOS.filter((s) => s.method !== 'POST'),
  ...QUERY_SCENARIOS,
  ...OWNER_SCENARIOS,
  ...SCENARIOS.filter((s) => s.method === 'POST'),
];

/** Runs bench/load.ts in its own process and parses its one JSON line. */
function load(target: Target, s: Scenario, duration: number): Promise<LoadResult> {
  const args = [join(ROOT, 'bench', 'load.ts'), '--url', target.server.baseUrl + s.path(target)];
  args.push('--method', s.method, '--connections', flags.connections, '--duration', String(duration));
  if (s.body !== undefined) args.push('--body', s.body, '--content-type', 'application/json');
  if (OWNER_SCENARIOS.includes(s))
    for (const [k, v] of Object.entries(ownerHeaders(target))) args.push('--header', `${k}: ${v}`);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    child.on('exit', (code, signal) => {
      if (interrupted && code !== 0) return reject(new Error('interrupted'));
      const line = out.trim().split('\n').pop() ?? '';
      try {
        if (code !== 0) throw new Error(`exit ${code ?? signal}`);
        resolve(JSON.parse(line) as LoadResult);
      } catch (e) {
        reject(new Error(`load process failed (${(e as Error).message}): ${err || out}`));
      }
    });
  });
}

/** Starts, seeds and checks one engine's pair, then loads each scenario: baseline first, then Plinth. */
async function benchEngine(pair: EnginePair, runDir: string, scenarios: Scenario[], rows: Row[]) {
  const servers: RunningServer[] = [];
  try {
    // The owner scenarios measure Plinth against itself: no baseline unless another scenario needs one.
    const ownerWanted = scenarios.filter((s) => OWNER_SCENARIOS.includes(s));
    const baselineWanted = scenarios.length > ownerWanted.length;
    log(`${pair.engine}: starting ${baselineWanted ? 'baseline and ' : ''}Plinth`);
    if (baselineWanted) servers.push(await pair.baseline(runDir));
    servers.push(await pair.plinth(runDir));
    if (pair.engine === 'sqlite' && flags['group-commit'] === 'both') {
      const env = { PLINTH_SQLITE_GROUP_COMMIT: '0' };
      servers.push(await startPlinthSqlite(runDir, { name: 'plinth-nogroup', env }));
    }
    if (flags.pin) for (const server of servers) if (server.pid) pinTo(server.pid, '0');
    // Each group is seeded and checked only when one of its scenarios runs: `posts` (get, list, create)
    // through the create endpoint, `books` (the query scenarios) straight into the tables.
    const postsWanted = scenarios.some((s) => SCENARIOS.includes(s));
    const queryWanted = scenarios.filter((s) => QUERY_SCENARIOS.includes(s));
    const records = postsWanted ? Number(flags.records) : 0;
    const targets: Target[] = [];
    for (const server of servers) {
      let recordId = '';
      if (postsWanted) {
        log(`${pair.engine}: seeding ${records} records into ${server.name}`);
        recordId = await seed(server, records);
      }
      if (queryWanted.length) {
        const data = queryData();
        log(
          `${pair.engine}: seeding ${data.books.length} books, ${data.authors.length} authors into ${server.name}`,
        );
        await seedQuery(server, data);
      }
      if (ownerWanted.length && server.name === 'plinth') {
        const data = ownerData();
        log(`${pair.engine}: seeding ${data.notes.length} notes × 2, ${data.users.length} users into plinth`);
        await seedOwner(server, data);
      }
      targets.push({ server, recordId, seeded: records });
    }
    const plinthTarget = targets.find((t) => t.server.name === 'plinth')!;
    const problems = [
      ...(postsWanted ? (await Promise.all(targets.map(verify))).flat() : []),
      ...(queryWanted.length ? await verifyQuery(targets, queryWanted) : []),
      ...(ownerWanted.length ? await verifyOwner(plinthTarget, ownerWanted, ownerData()) : []),
    ];
    if (problems.length) throw new Error(`pre-load check failed:\n  ${problems.join('\n  ')}`);
    let ownerDone = false;
    for (const s of scenarios) {
      if (interrupted) throw new Error('interrupted');
      if (OWNER_SCENARIOS.includes(s)) {
        if (!ownerDone) await benchOwner(pair.engine, plinthTarget, ownerWanted, rows);
        ownerDone = true;
        continue;
      }
      // Several rounds, alternating which server goes first, so that drift in the machine's state
      // (page cache, other load, fsync times) falls on both sides; each row is the per-server median.
      const results = new Map<Target, LoadResult[]>(targets.map((t) => [t, []]));
      for (let round = 0; round < Number(flags.rounds); round++) {
        const order = round % 2 === 0 ? targets : [...targets].reverse();
        for (const target of order) {
          if (interrupted) throw new Error('interrupted');
          log(
            `${pair.engine} ${s.name} ${target.server.name} round ${round + 1}: warm-up ${flags.warmup}s, then ${flags.duration}s`,
          );
          if (Number(flags.warmup) > 0) await load(target, s, Number(flags.warmup));
          results.get(target)!.push(await load(target, s, Number(flags.duration)));
        }
      }
      // targets[0] is the baseline (ENGINES pairs start it first): later rows are ratios to it.
      const base = medianOf(results.get(targets[0]!)!);
      for (const target of targets) {
        const r = medianOf(results.get(target)!);
        const isBase = target === targets[0];
        rows.push({
          engine: pair.engine,
          scenario: s.name,
          server: target.server.name,
          ...r,
          rpsRatio: isBase ? null : r.rps / base.rps,
          p99Ratio: isBase ? null : r.p99 / base.p99,
          rpsRange: range(results.get(target)!.map((x) => x.rps)),
        });
      }
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

/**
 * The owner scenarios, on Plinth alone: each round loads every wanted scenario once, alternating which
 * goes first, so drift falls on both; `owner-rule`'s ratios are to `owner-filter` (same run, same server).
 */
async function benchOwner(engine: string, target: Target, scenarios: Scenario[], rows: Row[]) {
  const results = new Map<Scenario, LoadResult[]>(scenarios.map((s) => [s, []]));
  for (let round = 0; round < Number(flags.rounds); round++) {
    const order = round % 2 === 0 ? scenarios : [...scenarios].reverse();
    for (const s of order) {
      if (interrupted) throw new Error('interrupted');
      log(
        `${engine} ${s.name} ${target.server.name} round ${round + 1}: warm-up ${flags.warmup}s, then ${flags.duration}s`,
      );
      if (Number(flags.warmup) > 0) await load(target, s, Number(flags.warmup));
      results.get(s)!.push(await load(target, s, Number(flags.duration)));
    }
  }
  const reference = scenarios.find((s) => s.name === 'owner-filter');
  const base = reference && medianOf(results.get(reference)!);
  // owner-filter (the reference) first, then owner-rule with its ratios.
  for (const s of reference ? [reference, ...scenarios.filter((x) => x !== reference)] : scenarios) {
    const r = medianOf(results.get(s)!);
    const ratio = base && s !== reference;
    rows.push({
      engine,
      scenario: s.name,
      server: target.server.name,
      ...r,
      rpsRatio: ratio ? r.rps / base.rps : null,
      p99Ratio: ratio ? r.p99 / base.p99 : null,
    });
  }
}

function range(values: number[]): [number, number] {
  return [Math.min(...values), Math.max(...values)];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The median of each figure over the rounds; failure counts are summed (any failure fails the run). */
function medianOf(runs: LoadResult[]): LoadResult {
  const statusCodes: Record<string, number> = {};
  for (const r of runs)
    for (const [k, v] of Object.entries(r.statusCodes)) statusCodes[k] = (statusCodes[k] ?? 0) + v;
  const sum = (k: 'requests' | 'non2xx' | 'errors' | 'timeouts') => runs.reduce((n, r) => n + r[k], 0);
  return {
    requests: sum('requests'),
    rps: median(runs.map((r) => r.rps)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    non2xx: sum('non2xx'),
    errors: sum('errors'),
    timeouts: sum('timeouts'),
    statusCodes,
  };
}

function table(rows: Row[]): string {
  const head = [
    'scenario',
    'server',
    'req/s',
    'req/s range',
    'p50 ms',
    'p99 ms',
    'req/s ratio',
    'p99 ratio',
    'non-2xx',
    'errors',
  ];
  const ratio = (x: number | null) => (x === null ? '—' : x.toFixed(2));
  const body = rows.map((r) => [
    `${r.engine} ${r.scenario}`,
    r.server,
    r.rps.toFixed(0),
    r.rpsRange ? r.rpsRange.map((x) => x.toFixed(0)).join('–') : '—',
    r.p50.toFixed(2),
    r.p99.toFixed(2),
    ratio(r.rpsRatio),
    ratio(r.p99Ratio),
    String(r.non2xx),
    String(r.errors + r.timeouts),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...body.map(fmt)].join('\n');
}

/** Where Plinth stands against the targets in docs/benchmarks.md. Informative: it never fails the run. */
function targets(rows: Row[]): string {
  return rows
    .filter((r) => r.rpsRatio !== null)
    .map((r) => {
      if (r.scenario === 'owner-rule') {
        const ok = r.rpsRatio! >= 0.85 && r.p99Ratio! <= 1.15 ? 'met' : 'NOT MET';
        return `${r.engine} owner-rule: issue-5 goal (within 15% of owner-filter: req/s ≥ 0.85, p99 ≤ 1.15×): ${ok}`;
      }
      if (r.engine === 'sqlite' && r.scenario === 'create') {
        const ok = r.rpsRatio! >= 3 && r.p99Ratio! <= 2 ? 'met' : 'not yet';
        return `sqlite create (${r.server}): issue-16 group-commit goal (≥ 3× the FULL baseline, p99 ≤ 2×): ${ok}`;
      }
      const now = r.scenario === 'create' || r.rpsRatio! >= 0.6 ? 'ok' : 'BELOW 0.60';
      const spec = r.rpsRatio! >= 0.7 && r.p99Ratio! <= 2 ? 'met' : 'not yet';
      const gate = r.scenario === 'create' ? 'no current gate' : `current target (≥ 0.60): ${now}`;
      return `${r.engine} ${r.scenario}: ${gate}; SPEC goal (≥ 0.70, p99 ≤ 2×): ${spec}`;
    })
    .join('\n');
}

async function main(): Promise<number> {
  const only = flags.only?.split(',').map((s) => s.trim());
  const scenarios = only ? ALL_SCENARIOS.filter((s) => only.includes(s.name)) : ALL_SCENARIOS;
  const unknownScenarios = only?.filter((o) => !ALL_SCENARIOS.some((s) => s.name === o)) ?? [];
  if (!scenarios.length || unknownScenarios.length) {
    log(`--only: unknown or none (have: ${ALL_SCENARIOS.map((s) => s.name).join(', ')})`);
    return 2;
  }
  const wanted = flags.engines.split(',').map((s) => s.trim());
  const engines = ENGINES.filter((e) => wanted.includes(e.engine));
  const unknown = wanted.filter((w) => !ENGINES.some((e) => e.engine === w));
  if (!engines.length || unknown.length) {
    log(`--engines: unknown or none (have: ${ENGINES.map((e) => e.engine).join(', ')})`);
    return 2;
  }
  if (!['on', 'both'].includes(flags['group-commit'])) {
    log('--group-commit: on or both');
    return 2;
  }
  const runDir = join(TMP, `run-${process.pid}-${Date.now()}`);
  mkdirSync(runDir, { recursive: true });
  // Ctrl-C: stop after the current load (the terminal's SIGINT usually ends the children at once),
  // still stopping the servers, dropping the databases and removing the data. A second Ctrl-C quits
  // at once, naming the databases left behind.
  process.once('SIGINT', () => {
    interrupted = true;
    log('interrupted; cleaning up (Ctrl-C again to quit without cleaning up)');
    process.once('SIGINT', () => {
      const left = pendingBenchDatabases();
      if (left.length) log(`left behind on ${PG_ADMIN_URL}: ${left.join(', ')}`);
      process.exit(130);
    });
  });
  const rows: Row[] = [];
  let failure: unknown;
  try {
    for (const pair of engines) {
      if (interrupted) throw new Error('interrupted');
      await benchEngine(pair, runDir, scenarios, rows);
    }
  } catch (err) {
    failure = err;
  } finally {
    if (flags.keep) {
      log(`kept ${runDir}`);
      const kept = pendingBenchDatabases();
      if (kept.length) log(`kept databases on ${PG_ADMIN_URL}: ${kept.join(', ')}`);
    } else {
      rmSync(runDir, { recursive: true, force: true });
      const left = await dropBenchDatabases();
      if (left.length) {
        log(`could not drop ${left.join(', ')}; drop them by hand`);
        failure ??= new Error('databases left behind');
      }
    }
  }
  const loadFailures = rows.filter((r) => r.non2xx || r.errors || r.timeouts);
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    connections: Number(flags.connections),
    duration: Number(flags.duration),
    rounds: Number(flags.rounds),
    records: Number(flags.records),
    books: scenarios.some((s) => QUERY_SCENARIOS.includes(s)) ? Number(flags.books) : 0,
    notes: scenarios.some((s) => OWNER_SCENARIOS.includes(s)) ? Number(flags.notes) : 0,
    engines: engines.map((e) => e.engine),
    rows,
    error: failure ? String((failure as Error).message ?? failure) : null,
  };
  writeFileSync(join(TMP, 'last.json'), `${JSON.stringify(result, null, 2)}\n`);
  if (flags.json) console.log(JSON.stringify(result));
  else if (rows.length) console.log(table(rows));
  if (!flags.json) console.log(targets(rows));
  for (const r of loadFailures) {
    const counts = `non-2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts}`;
    log(`FAIL ${r.engine} ${r.scenario} ${r.server}: ${counts}, statuses ${JSON.stringify(r.statusCodes)}`);
  }
  if (failure) log(`FAIL ${(failure as Error).stack ?? failure}`);
  return failure || loadFailures.length ? 1 : 0;
}

process.exitCode = await main();
