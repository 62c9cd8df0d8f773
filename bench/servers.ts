// Starting, readying and stopping the servers under test, each as its own child process so that the
// load generator, the baseline and Plinth never share an event loop. Each engine gets a pair: a bare
// baseline and Plinth on the same engine (see ENGINES in run.ts): SQLite (one data directory each)
// and PostgreSQL (one fresh database each, created here and dropped by `dropBenchDatabases`).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { startHaproxy } from '../test/helpers/haproxy.ts';
import { cpuSeconds, pinTo } from './proc.ts';

const ROOT = join(import.meta.dirname, '..');
// process.execPath is the Node that runs this script (the project's Node 24 under `npm run bench`),
// so children get the same runtime: type stripping and node:sqlite are needed by all of them.
const NODE = process.execPath;
// Plinth is measured with its defaults (synchronous=FULL, as the baseline): drop PLINTH_* settings
// the shell may carry, e.g. PLINTH_SQLITE_SYNCHRONOUS=NORMAL would make the comparison unfair.
// All the load comes from one address, so Plinth's per-IP limits (docs/operations.md) would cap the bench's
// connections, as its rate limits would its rate (those are switched off through the settings API).
const BENCH_ENV = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PLINTH_'))),
  PLINTH_MAX_IN_FLIGHT_PER_IP: '0',
  PLINTH_MAX_CONNECTIONS_PER_IP: '0',
  // The realtime bench opens its thousands of streams from one address too.
  PLINTH_REALTIME_MAX_CLIENTS_PER_IP: '1000000',
  // One process, as the baselines run, unless a bench asks for more (bench/workers.ts sets it per server).
  PLINTH_WORKERS: '1',
};
const SUPERUSER = { email: 'bench@example.com', password: 'benchpass123' };
/** Where the bench creates and drops its PostgreSQL databases: the maintenance database of a server. */
export const PG_ADMIN_URL = process.env.PLINTH_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Where a server keeps its data, for seeding straight into its tables (bench/query-scenario.ts). */
export type BenchDb =
  | { engine: 'sqlite'; file: string }
  | { engine: 'postgres'; url: string }
  | { engine: 'mysql'; url: string };
/** Where the bench creates and drops its MariaDB databases (bench/big-tables.ts). */
export const MYSQL_ADMIN_URL = process.env.PLINTH_BENCH_MYSQL ?? 'mysql://root@127.0.0.1:3306/';

/** A server under test: where to send requests, and how to stop it. */
export interface RunningServer {
  name: string;
  baseUrl: string;
  logPath: string;
  db: BenchDb;
  /** Extra request headers needed for setup calls (Plinth: the superuser token); none for the baseline. */
  adminHeaders: Record<string, string>;
  /** The server process, for reading its CPU time and memory from /proc. */
  pid?: number;
  /** Every server process of a cluster (`pid` is the first). */
  pids?: number[];
  stop(): Promise<void>;
}

/** Result of one JSON HTTP call; `json` is undefined when the body was not JSON. */
export interface ApiResponse {
  status: number;
  json: unknown;
  text: string;
}

/** One JSON request. Setup and verification go through this; the load itself is autocannon's. */
export async function api(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResponse> {
  const res = await fetch(baseUrl + path, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

/** Asks the OS for a free loopback port (tiny race until the child binds it; fine for a bench). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Last lines of a child's log, for error messages: a failed bench should say why. */
export function logTail(logPath: string, lines = 20): string {
  try {
    return readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Spawns a Node child with stdout/stderr going to a log file (a file, not a pipe: no backpressure). */
function spawnNode(args: string[], logPath: string, env: Record<string, string> = {}): ChildProcess {
  const fd = openSync(logPath, 'a');
  const child = spawn(NODE, args, { cwd: ROOT, env: { ...BENCH_ENV, ...env }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  return child;
}

/** Runs a Node command to completion (e.g. `plinth superuser upsert`); throws on non-zero exit. */
async function runNode(args: string[], logPath: string, env: Record<string, string> = {}): Promise<void> {
  const child = spawnNode(args, logPath, env);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited with ${code}:\n${logTail(logPath)}`);
}

/** Stops a child: SIGTERM for a clean shutdown, SIGKILL if it lingers. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Polls GET /api/health until 200; fails fast if the child dies, so a crash is not a 20 s timeout. */
async function waitReady(child: ChildProcess, baseUrl: string, logPath: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `server exited (${child.exitCode ?? child.signalCode}) before ready:\n${logTail(logPath)}`,
      );
    }
    try {
      if ((await fetch(`${baseUrl}/api/health`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stopChild(child);
  throw new Error(`server not ready at ${baseUrl} after 20 s:\n${logTail(logPath)}`);
}

async function startChild(
  name: string,
  args: string[],
  port: number,
  logPath: string,
  db: BenchDb,
  env: Record<string, string> = {},
): Promise<RunningServer> {
  const baseUrl = `http://127.0.0.1:${port}`;
  const child = spawnNode(args, logPath, env);
  await waitReady(child, baseUrl, logPath);
  return { name, baseUrl, logPath, db, adminHeaders: {}, pid: child.pid, stop: () => stopChild(child) };
}

/**
 * The bare node:http + node:sqlite server (bench/baseline-sqlite.ts); its table already exists.
 * Data goes to `runDir/baseline/`, output to `runDir/baseline.log`.
 */
export async function startSqliteBaseline(
  runDir: string,
  { name = 'baseline', workers = 1 }: { name?: string; workers?: number } = {},
): Promise<RunningServer> {
  const dir = join(runDir, name);
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const script = join(ROOT, 'bench', 'baseline-sqlite.ts');
  const args = [script, '--port', String(port), '--dir', dir, '--workers', String(workers)];
  const db: BenchDb = { engine: 'sqlite', file: join(dir, 'baseline.db') };
  return startChild(name, args, port, join(runDir, `${name}.log`), db);
}

/**
 * The bare node:http + fs server of the files bench (bench/baseline-files.ts): files go to
 * `runDir/baseline-files/`, output to `runDir/baseline-files.log`. No database (`db` names its directory).
 */
export async function startFilesBaseline(runDir: string): Promise<RunningServer> {
  const dir = join(runDir, 'baseline-files');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const args = [join(ROOT, 'bench', 'baseline-files.ts'), '--port', String(port), '--dir', dir];
  const db: BenchDb = { engine: 'sqlite', file: dir };
  return startChild('baseline', args, port, join(runDir, 'baseline-files.log'), db);
}

/**
 * The bare node:http + pg server (bench/baseline-postgres.ts) on a fresh database created here; it
 * creates its own table. Output goes to `runDir/baseline-postgres.log`.
 */
export async function startPostgresBaseline(runDir: string): Promise<RunningServer> {
  const url = await createBenchDatabase('baseline');
  const port = await freePort();
  const script = join(ROOT, 'bench', 'baseline-postgres.ts');
  const args = [script, '--port', String(port), '--url', url];
  return startChild('baseline', args, port, join(runDir, 'baseline-postgres.log'), {
    engine: 'postgres',
    url,
  });
}

/** The databases this process created and has not dropped yet, by name. */
const benchDatabases = new Set<string>();
/** The same for MariaDB. */
const mysqlBenchDatabases = new Set<string>();

/** Names of the databases not dropped yet (to tell the user what to drop if the bench is killed). */
export function pendingBenchDatabases(): string[] {
  return [...benchDatabases, ...[...mysqlBenchDatabases].map((n) => `${n} (MariaDB)`)];
}

async function mysqlAdmin(sql: string): Promise<void> {
  const conn = await mysql.createConnection({ uri: MYSQL_ADMIN_URL, connectTimeout: 10_000 });
  try {
    await conn.query(sql);
  } finally {
    await conn.end();
  }
}

/** Creates an empty MariaDB database `plinth_bench_<role>_<pid>_<random>` (binary collation, as the tests). */
async function createMysqlBenchDatabase(role: string): Promise<string> {
  const name = `plinth_bench_${role}_${process.pid}_${randomBytes(4).toString('hex')}`;
  try {
    await mysqlAdmin(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } catch (err) {
    throw new Error(`cannot create database ${name} via ${MYSQL_ADMIN_URL}: ${(err as Error).message}`);
  }
  mysqlBenchDatabases.add(name);
  const url = new URL(MYSQL_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function pgAdmin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * CPU seconds used so far by the PostgreSQL backends connected to `db` (its server's pool; read from
 * /proc, so the server must run on this machine); 0 on other engines. A backend that ends between two
 * reads takes its seconds with it: read across a run whose pool stays open.
 */
export async function databaseCpuSeconds(db: BenchDb): Promise<number> {
  let seconds = 0;
  for (const pid of await backendPids(db)) {
    try {
      seconds += cpuSeconds(pid);
    } catch {
      // The backend ended between the listing and the read.
    }
  }
  return seconds;
}

/**
 * Pins the PostgreSQL backends now connected to `db` to `cores` (nothing on other engines): with the
 * server pinned too, a server and its database share one core, and a change that moves work between them
 * shows in req/s. Backends opened later are not pinned: call it again before each measurement.
 */
export async function pinDatabase(db: BenchDb, cores: string): Promise<void> {
  for (const pid of await backendPids(db)) {
    try {
      pinTo(pid, cores);
    } catch {
      // The backend ended between the listing and the pinning.
    }
  }
}

/** The PostgreSQL backends connected to `db`; none on other engines. */
async function backendPids(db: BenchDb): Promise<number[]> {
  if (db.engine !== 'postgres') return [];
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = $1',
      [decodeURIComponent(new URL(db.url).pathname.slice(1))],
    );
    return rows.map((r) => r.pid);
  } finally {
    await client.end();
  }
}

/** Creates an empty database `plinth_bench_<role>_<pid>_<random>` and returns its URL. */
async function createBenchDatabase(role: string): Promise<string> {
  const name = `plinth_bench_${role}_${process.pid}_${randomBytes(4).toString('hex')}`;
  try {
    await pgAdmin(`CREATE DATABASE "${name}"`);
  } catch (err) {
    throw new Error(`cannot create database ${name} via ${PG_ADMIN_URL}: ${(err as Error).message}`);
  }
  benchDatabases.add(name);
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Drops every database this process created (after the servers using them have stopped; FORCE ends
 * any connection left over). Returns the names it could not drop, after trying them all.
 */
export async function dropBenchDatabases(): Promise<string[]> {
  const failed: string[] = [];
  for (const name of [...benchDatabases]) {
    try {
      await pgAdmin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      benchDatabases.delete(name);
    } catch (err) {
      console.error(`bench: dropping database ${name} failed: ${(err as Error).message}`);
      failed.push(name);
    }
  }
  for (const name of [...mysqlBenchDatabases]) {
    try {
      await mysqlAdmin(`DROP DATABASE IF EXISTS \`${name}\``);
      mysqlBenchDatabases.delete(name);
    } catch (err) {
      console.error(`bench: dropping MariaDB database ${name} failed: ${(err as Error).message}`);
      failed.push(name);
    }
  }
  return failed;
}

/**
 * Plinth on SQLite, set up only through its CLI and HTTP API (as a user would): a superuser, then the
 * `posts` collection with public list/view/create rules and the same index as the baseline.
 * Data goes to `runDir/plinth/`, output to `runDir/plinth.log`.
 */
export function startPlinthSqlite(runDir: string, variant: PlinthVariant = {}): Promise<RunningServer> {
  const name = variant.name ?? 'plinth';
  const dir = join(runDir, name);
  return startPlinth(
    dir,
    [],
    join(runDir, `${name}.log`),
    { engine: 'sqlite', file: join(dir, 'data.db') },
    variant,
  );
}

/** Another build of the server to run with Plinth's CLI flags (bench/auth.ts: the static-token baseline). */
export interface PlinthVariant {
  name?: string;
  /** Script run as `node <entry> serve ...` instead of bin/plinth.js. */
  entry?: string;
  /**
   * The `plinth` that makes the superuser (and so migrates the data directory) when it is not this
   * checkout's: another checkout's bin/plinth.js. Its migrations, not this checkout's, must set up its data.
   */
  cli?: string;
  /** Settings for this server only (e.g. `PLINTH_SQLITE_GROUP_COMMIT: '0'` for a before/after run). */
  env?: Record<string, string>;
}

/**
 * Plinth on PostgreSQL: as {@link startPlinthSqlite}, with `--db` pointing at a fresh database created
 * here (`runDir/plinth-postgres/` still holds its keys; output goes to `runDir/plinth-postgres.log`).
 */
export async function startPlinthPostgres(
  runDir: string,
  variant: PlinthVariant = {},
): Promise<RunningServer> {
  const name = variant.name ?? 'plinth';
  const url = await createBenchDatabase(name.replace(/[^a-z0-9]/g, ''));
  const dir = join(runDir, `${name}-postgres`);
  return startPlinth(
    dir,
    ['--db', url],
    join(runDir, `${name}-postgres.log`),
    { engine: 'postgres', url },
    variant,
  );
}

/** Plinth on MariaDB: as {@link startPlinthPostgres}, on a fresh database of the local MariaDB server. */
export async function startPlinthMysql(runDir: string, variant: PlinthVariant = {}): Promise<RunningServer> {
  const name = variant.name ?? 'plinth';
  const url = await createMysqlBenchDatabase(name.replace(/[^a-z0-9]/g, ''));
  const dir = join(runDir, `${name}-mysql`);
  return startPlinth(
    dir,
    ['--db', url],
    join(runDir, `${name}-mysql.log`),
    { engine: 'mysql', url },
    variant,
  );
}

/**
 * `nodes` Plinth processes on one fresh PostgreSQL database and the local Redis (channels of their own),
 * behind HAProxy as docs/scale-out.md sets it up; `baseUrl` is HAProxy's. `maxconn` bounds HAProxy's
 * connections (it needs two descriptors per connection, within the process's open-file limit).
 */
export async function startPlinthCluster(
  runDir: string,
  nodes: number,
  options: { redis?: string; maxconn?: number } = {},
): Promise<RunningServer> {
  const url = await createBenchDatabase('cluster');
  const redis = ['--redis', options.redis ?? 'redis://127.0.0.1:6379'];
  // One encryption key for all (the signing keys in the database are sealed with it), channels of their own.
  const env = {
    PLINTH_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    PLINTH_REDIS_PREFIX: `bench-${randomBytes(6).toString('hex')}:`,
  };
  const plinth = join(ROOT, 'bin', 'plinth.js');
  const children: RunningServer[] = [];
  const stopAll = () => Promise.all(children.map((c) => c.stop())).then(() => {});
  try {
    for (let i = 0; i < nodes; i++) {
      const dir = join(runDir, `cluster-node${i + 1}`);
      mkdirSync(dir, { recursive: true });
      const logPath = join(runDir, `cluster-node${i + 1}.log`);
      if (i === 0)
        await runNode(
          [plinth, 'superuser', 'upsert', SUPERUSER.email, SUPERUSER.password, '--dir', dir, '--db', url],
          logPath,
          env,
        );
      const port = await freePort();
      const args = [plinth, 'serve', '--http', `127.0.0.1:${port}`, '--dir', dir, '--db', url, ...redis];
      children.push(await startChild(`node${i + 1}`, args, port, logPath, { engine: 'postgres', url }, env));
    }
    const proxy = await startHaproxy(
      children.map((c) => ({ host: '127.0.0.1', port: Number(new URL(c.baseUrl).port) })),
      { maxconn: options.maxconn ?? 4000 },
    );
    const pids = children.map((c) => c.pid as number);
    const server: RunningServer = {
      name: `plinth x${nodes}`,
      baseUrl: proxy.url,
      logPath: children[0]?.logPath as string,
      db: { engine: 'postgres', url },
      adminHeaders: {},
      pid: pids[0],
      pids,
      stop: () => proxy.stop().then(stopAll),
    };
    await setUpPlinth(server);
    return server;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** `plinth superuser upsert`, `plinth serve`, then the collection and settings through the HTTP API. */
async function startPlinth(
  dir: string,
  dbArgs: string[],
  logPath: string,
  db: BenchDb,
  variant: PlinthVariant = {},
): Promise<RunningServer> {
  mkdirSync(dir, { recursive: true });
  const plinth = join(ROOT, 'bin', 'plinth.js');
  const upsert = [
    variant.cli ?? plinth,
    'superuser',
    'upsert',
    SUPERUSER.email,
    SUPERUSER.password,
    '--dir',
    dir,
  ];
  await runNode([...upsert, ...dbArgs], logPath);
  const port = await freePort();
  const entry = variant.entry ?? plinth;
  const args = [entry, 'serve', '--http', `127.0.0.1:${port}`, '--dir', dir, ...dbArgs];
  const server = await startChild(variant.name ?? 'plinth', args, port, logPath, db, variant.env);
  try {
    await setUpPlinth(server);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

async function setUpPlinth(server: RunningServer): Promise<void> {
  const auth = await api(server.baseUrl, 'POST', '/api/collections/_superusers/auth-with-password', {
    identity: SUPERUSER.email,
    password: SUPERUSER.password,
  });
  const token = (auth.json as { token?: unknown } | undefined)?.token;
  if (auth.status !== 200 || typeof token !== 'string') {
    throw new Error(`superuser auth failed: ${auth.status} ${auth.text.slice(0, 300)}`);
  }
  server.adminHeaders = { authorization: token };
  const created = await api(
    server.baseUrl,
    'POST',
    '/api/collections',
    POSTS_COLLECTION,
    server.adminHeaders,
  );
  if (created.status !== 200) {
    throw new Error(`creating the posts collection failed: ${created.status} ${created.text.slice(0, 300)}`);
  }
  // Rate limits are on by default (SPEC: safe by default) and would turn a one-client load test into
  // 429s. Turn them off if the settings endpoint exists; if not, any 429 shows up as non-2xx anyway.
  const settings = await api(
    server.baseUrl,
    'PATCH',
    '/api/settings',
    { rateLimits: { enabled: false } },
    server.adminHeaders,
  );
  if (settings.status !== 200) {
    console.error(
      `bench: note: PATCH /api/settings (rate limits off) answered ${settings.status}; left as is`,
    );
  }
}

/** The collection the benchmark reads and writes; mirrors the baseline's table and index. */
const POSTS_COLLECTION = {
  name: 'posts',
  type: 'base',
  listRule: '',
  viewRule: '',
  createRule: '',
  fields: [
    { name: 'title', type: 'text' },
    { name: 'n', type: 'number' },
    { name: 'created', type: 'autodate', onCreate: true, onUpdate: false },
    { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
  ],
  indexes: ['CREATE INDEX idx_posts_created ON posts (created)'],
};

/** Plinth on either engine, as {@link startPlinthSqlite} and {@link startPlinthPostgres} set it up. */
export function startPlinthOn(
  engine: string,
  runDir: string,
  variant: PlinthVariant = {},
): Promise<RunningServer> {
  if (engine === 'mysql') return startPlinthMysql(runDir, variant);
  return engine === 'postgres' ? startPlinthPostgres(runDir, variant) : startPlinthSqlite(runDir, variant);
}

/** Creates 20 records in `posts` (the get-by-id and list scenarios read them); answers the first one's id. */
export async function seedPosts(server: RunningServer): Promise<string> {
  let id = '';
  for (let i = 0; i < 20; i++) {
    const res = await api(
      server.baseUrl,
      'POST',
      '/api/collections/posts/records',
      { title: `post ${i}`, n: i },
      server.adminHeaders,
    );
    if (res.status !== 200) throw new Error(`${server.name}: create answered ${res.status}: ${res.text}`);
    id ||= (res.json as { id: string }).id;
  }
  return id;
}
