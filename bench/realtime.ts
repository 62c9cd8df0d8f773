// `node bench/realtime.ts`: realtime delivery under load, with the subscribers and the writer in a
// separate process (bench/realtime-load.ts) from the server.
//
//   N SSE subscribers (--subscribers, 10,000) spread over U users (--users, 1,000), each subscribed to
//   `feed/*` on a collection whose list rule is `owner = @request.auth.id`; a writer creates --rate
//   records a second (100) for --duration seconds (30), each owned by one user, so each write is due to
//   that user's N/U streams. Reported: delivery latency p50/p99/max (write sent → event received), events
//   delivered of those due, events a subscriber should not have had (must be 0), and the server's CPU
//   seconds per second and RSS (now and peak) from /proc. Targets (issue 13): p99 < 250 ms, RSS < 512 MB.
//
//   --nodes K (1): K nodes on one PostgreSQL database and the local Redis behind HAProxy (docs/scale-out.md),
//   the load going through HAProxy; CPU and RSS are then the sums over the nodes. HAProxy needs two file
//   descriptors per stream: keep --subscribers under half the open-file limit.
//
// Flags: --subscribers N --users U --rate R --duration S --engines sqlite,postgres (sqlite) --nodes K --json
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuSeconds, memory } from './proc.ts';
import {
  api,
  dropBenchDatabases,
  type RunningServer,
  startPlinthCluster,
  startPlinthPostgres,
  startPlinthSqlite,
} from './servers.ts';

const ROOT = join(import.meta.dirname, '..');
const TMP = join(ROOT, '.bench-tmp', `realtime-${process.pid}`);
const { values: flags } = parseArgs({
  options: {
    subscribers: { type: 'string', default: '10000' },
    users: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '100' },
    duration: { type: 'string', default: '30' },
    engines: { type: 'string', default: 'sqlite' },
    nodes: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const log = (msg: string) => console.error(`bench: ${msg}`);
async function setUp(server: RunningServer): Promise<{ id: string; token: string }[]> {
  const users = await api(server.baseUrl, 'GET', '/api/collections/users', undefined, server.adminHeaders);
  const usersId = (users.json as { id: string }).id;
  const created = await api(
    server.baseUrl,
    'POST',
    '/api/collections',
    {
      name: 'feed',
      type: 'base',
      listRule: 'owner = @request.auth.id',
      viewRule: 'owner = @request.auth.id',
      fields: [
        { name: 'owner', type: 'relation', collectionId: usersId, maxSelect: 1 },
        { name: 'sentAt', type: 'number' },
      ],
    },
    server.adminHeaders,
  );
  if (created.status !== 200) throw new Error(`feed: ${created.status} ${created.text.slice(0, 200)}`);
  const count = Number(flags.users);
  const out: { id: string; token: string }[] = [];
  // Creating a user hashes its password (argon2): a few at a time. Tokens come from impersonation.
  for (let i = 0; i < count; i += 8) {
    const batch = Array.from({ length: Math.min(8, count - i) }, (_, k) => i + k);
    const made = await Promise.all(
      batch.map(async (n) => {
        const email = `u${n}@example.com`;
        const res = await api(
          server.baseUrl,
          'POST',
          '/api/collections/users/records',
          { email, password: 'benchpass123', passwordConfirm: 'benchpass123' },
          server.adminHeaders,
        );
        const id = (res.json as { id?: string }).id;
        if (res.status !== 200 || !id) throw new Error(`user: ${res.status} ${res.text.slice(0, 200)}`);
        const token = await api(
          server.baseUrl,
          'POST',
          `/api/collections/users/impersonate/${id}`,
          { duration: 3600 },
          server.adminHeaders,
        );
        return { id, token: String((token.json as { token: string }).token) };
      }),
    );
    out.push(...made);
  }
  return out;
}

async function runOne(engine: string) {
  mkdirSync(TMP, { recursive: true });
  const nodes = Number(flags.nodes);
  if (nodes > 1 && engine !== 'postgres') throw new Error('--nodes above 1 runs on postgres only');
  const server =
    nodes > 1
      ? await startPlinthCluster(TMP, nodes, { maxconn: Number(flags.subscribers) + 500 })
      : engine === 'postgres'
        ? await startPlinthPostgres(TMP)
        : await startPlinthSqlite(TMP);
  try {
    const users = await setUp(server);
    log(`${engine}: ${users.length} users ready`);
    const pids = server.pids ?? [server.pid as number];
    const sum = (f: (pid: number) => number) => pids.reduce((total, pid) => total + f(pid), 0);
    const args = [join(ROOT, 'bench', 'realtime-load.ts'), '--url', server.baseUrl];
    // Too many tokens for a command line: they go through a file.
    const usersFile = join(TMP, 'users.json');
    writeFileSync(usersFile, JSON.stringify(users));
    args.push('--users', usersFile, '--admin', String(server.adminHeaders.authorization));
    args.push('--subscribers', String(flags.subscribers), '--rate', String(flags.rate));
    args.push('--duration', String(flags.duration));
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    // CPU is measured over the writing phase only: from the first event the load process reports.
    const before = sum(cpuSeconds);
    const startedAt = Date.now();
    let maxRss = 0;
    const sampler = setInterval(() => {
      maxRss = Math.max(
        maxRss,
        sum((pid) => memory(pid).rss),
      );
    }, 500);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearInterval(sampler);
    if (code !== 0) throw new Error(`load process exited with ${code}`);
    const result = JSON.parse(output.trim().split('\n').at(-1) as string);
    const cpu = (sum(cpuSeconds) - before) / ((Date.now() - startedAt) / 1000);
    const rss = sum((pid) => memory(pid).rss);
    // A single process's own peak (VmHWM) is exact; for several, the peak of the sampled sums.
    const peak = pids.length === 1 ? memory(pids[0] as number).peak : 0;
    return {
      engine,
      nodes,
      ...result,
      serverCpuPerSecond: Number(cpu.toFixed(2)),
      rssMb: rss,
      peakRssMb: Math.max(peak, maxRss),
    };
  } finally {
    await server.stop();
  }
}

const results = [];
try {
  for (const engine of String(flags.engines).split(',')) results.push(await runOne(engine));
} finally {
  await dropBenchDatabases();
  rmSync(TMP, { recursive: true, force: true });
}
if (flags.json) console.log(JSON.stringify(results));
else
  for (const r of results)
    console.log(
      `${r.engine}${r.nodes > 1 ? ` x${r.nodes} nodes` : ''}: ${r.subscribers} subscribers / ${r.users} users, ${r.writes} writes in ${r.seconds} s ` +
        `(${r.failedWrites} failed); delivered ${r.delivered} of ${r.expected} (${r.unexpected} unexpected, ` +
        `${r.dropped} streams dropped); latency p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms; ` +
        `server CPU ${r.serverCpuPerSecond} s/s, RSS ${r.rssMb} MB (peak ${r.peakRssMb} MB)`,
    );
