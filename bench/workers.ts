// `node bench/workers.ts`: how get and list scale from one worker process to two (issue 16: ≥ 0.8×
// linear from 1 to 2 cores), for `plinth serve --workers N` and for the bare node:http + node:sqlite
// baseline run as N processes on one port the same way (SO_REUSEPORT), in the same rounds.
//
// A machine of two cores cannot give two server processes a core each and the load generator a third.
// So each worker process gets a CPU budget: it is pinned to a core of its own (taskset) and held to
// `--quota` percent of that core (a cgroup v1 CPU quota), and the load generator, unconfined, has what is
// left. One worker at 50 % against two at 50 % on two cores is then the step "one core's worth to two",
// with the load generator never short of CPU. Without a writable cgroup the workers are only pinned (and
// the load generator competes with them: the figures say so).
//
// Flags: --duration S (10) --warmup S (2) --rounds N (3) --records N (1000) --connections N (50)
//        --quota PERCENT (50; 100 = whole cores) --only get,list[,create] --json
// With `create` (durable writes; last, so that reads read the seeded rows): on SQLite the workers take
// turns at the one write lock, so writes are not expected to scale; this shows what they cost.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { loadInChild } from './proc.ts';
import { SCENARIOS, type Scenario, seed, type Target } from './scenarios.ts';
import { type RunningServer, startPlinthSqlite, startSqliteBaseline } from './servers.ts';
import { median } from './stats.ts';

const ROOT = join(import.meta.dirname, '..');
const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    records: { type: 'string', default: '1000' },
    connections: { type: 'string', default: '50' },
    quota: { type: 'string', default: '50' },
    only: { type: 'string', default: 'get,list' },
    json: { type: 'boolean', default: false },
  },
});
const log = (msg: string) => console.error(`bench: ${msg}`);
const CGROUP = '/sys/fs/cgroup/cpu';

interface Config {
  label: string;
  server: 'baseline' | 'plinth';
  workers: number;
  target?: Target;
  rps: Record<string, number[]>;
  p99: Record<string, number[]>;
}

/** The processes that serve: the workers of a multi-process server, or the process itself. */
function servingPids(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    /* no children file: treated as none */
  }
  return children.length ? children : [pid];
}

/** Pins each serving process to a core of its own and, where cgroups allow, caps it at `quota` % of it. */
function confine(name: string, pids: number[], quota: number): boolean {
  let capped = true;
  pids.forEach((pid, core) => {
    execFileSync('taskset', ['-a', '-pc', String(core), String(pid)], { stdio: 'ignore' });
    const group = join(CGROUP, `plinth-bench-${name}-${core}`);
    try {
      mkdirSync(group, { recursive: true });
      writeFileSync(join(group, 'cpu.cfs_period_us'), '100000');
      writeFileSync(join(group, 'cpu.cfs_quota_us'), String(quota >= 100 ? -1 : quota * 1000));
      writeFileSync(join(group, 'cgroup.procs'), String(pid));
    } catch {
      capped = false;
    }
  });
  return capped;
}

function releaseGroups(): void {
  try {
    for (const entry of execFileSync('ls', [CGROUP], { encoding: 'utf8' }).split('\n'))
      if (entry.startsWith('plinth-bench-')) rmSync(join(CGROUP, entry), { recursive: true, force: true });
  } catch {
    /* nothing made */
  }
}

/** Waits until every worker of a `--workers N` Plinth answers (the banner comes once all are ready). */
async function allWorkersUp(server: RunningServer, workers: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (
      workers === 1 ||
      new RegExp(`Workers: +${workers} processes`).test(readFileSync(server.logPath, 'utf8'))
    )
      return;
    await sleep(50);
  }
  throw new Error(`${server.name}: not every worker started`);
}

async function main() {
  const runDir = join(ROOT, '.bench-tmp', `workers-${process.pid}`);
  mkdirSync(runDir, { recursive: true });
  const quota = Number(flags.quota);
  const only = flags.only.split(',');
  const scenarios = SCENARIOS.filter((s) => only.includes(s.name));
  scenarios.sort((x, y) => Number(x.method === 'POST') - Number(y.method === 'POST'));
  const configs: Config[] = [];
  for (const server of ['baseline', 'plinth'] as const)
    for (const workers of [1, 2])
      configs.push({ label: `${server} ×${workers}`, server, workers, rps: {}, p99: {} });
  const running: RunningServer[] = [];
  let capped = true;
  try {
    for (const c of configs) {
      const name = `${c.server}-${c.workers}`;
      const server =
        c.server === 'baseline'
          ? await startSqliteBaseline(runDir, { name, workers: c.workers })
          : await startPlinthSqlite(runDir, { name, env: { PLINTH_WORKERS: String(c.workers) } });
      running.push(server);
      if (c.server === 'plinth') await allWorkersUp(server, c.workers);
      else await sleep(500);
      const recordId = await seed(server, Number(flags.records));
      c.target = { server, recordId, seeded: Number(flags.records) };
      for (const s of scenarios.filter((x) => x.method === 'GET')) {
        const res = await fetch(server.baseUrl + s.path(c.target));
        const problem = s.check(await res.json(), c.target);
        if (problem) throw new Error(`${c.label} ${s.name}: ${problem}`);
      }
      const pids = servingPids(server.pid!);
      if (pids.length !== c.workers) throw new Error(`${c.label}: ${pids.length} serving processes`);
      capped = confine(name, pids, quota) && capped;
    }
    log(
      capped
        ? `each worker pinned to a core of its own and held to ${quota} % of it; the load generator unconfined`
        : 'no writable cgroup: workers pinned only, the load generator shares their cores',
    );
    for (let round = 0; round < Number(flags.rounds); round++) {
      // A different order each round, so that drift (a warming page cache, the machine) spreads evenly.
      const order = configs.map((_, i) => configs[(i + round) % configs.length]!);
      for (const s of scenarios)
        for (const c of order) {
          const r = await measure(c, s);
          c.rps[s.name] = [...(c.rps[s.name] ?? []), r.rps];
          c.p99[s.name] = [...(c.p99[s.name] ?? []), r.p99];
          log(
            `round ${round + 1} ${s.name} ${c.label}: ${r.rps.toFixed(0)} req/s, p99 ${r.p99.toFixed(2)} ms`,
          );
        }
    }
    report(configs, scenarios, capped, quota);
  } finally {
    for (const s of running) await s.stop();
    releaseGroups();
    rmSync(runDir, { recursive: true, force: true });
  }
}

async function measure(c: Config, s: Scenario) {
  const url = c.target!.server.baseUrl + s.path(c.target!);
  const common = ['--url', url, '--method', s.method, '--connections', flags.connections];
  if (s.body !== undefined) common.push('--body', s.body, '--content-type', 'application/json');
  await loadInChild([...common, '--duration', flags.warmup]);
  const r = await loadInChild([...common, '--duration', flags.duration]);
  if (r.non2xx || r.errors || r.timeouts) throw new Error(`${c.label} ${s.name}: ${JSON.stringify(r)}`);
  return r;
}

function report(configs: Config[], scenarios: Scenario[], capped: boolean, quota: number) {
  const find = (server: string, workers: number) =>
    configs.find((c) => c.server === server && c.workers === workers)!;
  const rows = scenarios.flatMap((s) =>
    (['baseline', 'plinth'] as const).map((server) => {
      const one = find(server, 1).rps[s.name]!;
      const two = find(server, 2).rps[s.name]!;
      const scaling = median(two) / median(one);
      return {
        scenario: s.name,
        server,
        rps1: median(one),
        rps2: median(two),
        range1: [Math.min(...one), Math.max(...one)],
        range2: [Math.min(...two), Math.max(...two)],
        scaling,
        linear: scaling / 2,
        p99: [median(find(server, 1).p99[s.name]!), median(find(server, 2).p99[s.name]!)],
      };
    }),
  );
  if (flags.json) {
    console.log(JSON.stringify({ capped, quota, rows }, null, 2));
    return;
  }
  console.log(`\nworkers pinned to a core each${capped ? `, ${quota} % of it` : ' (no cgroup quota)'}`);
  console.log(
    '| scenario | server | 1 worker req/s (min–max) | 2 workers req/s (min–max) | 2 / 1 | of linear | p99 1 / 2 (ms) |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  for (const r of rows)
    console.log(
      `| ${r.scenario} | ${r.server} | ${n(r.rps1)} (${n(r.range1[0]!)}–${n(r.range1[1]!)}) | ${n(r.rps2)} (${n(r.range2[0]!)}–${n(r.range2[1]!)}) | ${r.scaling.toFixed(2)}× | ${r.linear.toFixed(2)} | ${r.p99[0]!.toFixed(2)} / ${r.p99[1]!.toFixed(2)} |`,
    );
}

await main();
