import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { LoadResult } from './load.ts';
import { loadInChild } from './proc.ts';
import {
  api,
  dropBenchDatabases,
  type RunningServer,
  startPlinthPostgres,
  startPlinthSqlite,
} from './servers.ts';

const ROOT = join(import.meta.dirname, '..');
const TMP = join(ROOT, '.bench-tmp', `auth-${process.pid}`);
const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '10' },
    engines: { type: 'string', default: 'sqlite' },
    json: { type: 'boolean', default: false },
  },
});
const log = (msg: string) => console.error(`bench: ${msg}`);
const USER = { email: 'user@example.com', password: 'userpass123' };

interface Request {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  headers: Record<string, string>;
}

function load(server: RunningServer, r: Request, duration: number): Promise<LoadResult> {
  const args = ['--url', server.baseUrl + r.path, '--method', r.method];
  args.push('--connections', flags.connections, '--duration', String(duration));
  if (r.body) args.push('--body', r.body, '--content-type', 'application/json');
  for (const [k, v] of Object.entries(r.headers)) args.push('--header', `${k}: ${v}`);
  return loadInChild(args);
}

/** Signs the bench user up (once per server) and in; returns its id and a token. */
async function signIn(server: RunningServer): Promise<{ id: string; token: string }> {
  const users = '/api/collections/users';
  await api(server.baseUrl, 'POST', `${users}/records`, { ...USER, passwordConfirm: USER.password });
  const res = await api(server.baseUrl, 'POST', `${users}/auth-with-password`, {
    identity: USER.email,
    password: USER.password,
  });
  const body = res.json as { token?: string; record?: { id?: string } };
  if (res.status !== 200 || !body.token || !body.record?.id) throw new Error(`sign-in failed: ${res.text}`);
  return { id: body.record.id, token: body.token };
}

/** Checks one answer before any load: a benchmark of 401s would be fast and worthless. */
async function check(server: RunningServer, r: Request, want: (json: unknown) => boolean): Promise<void> {
  const res = await api(server.baseUrl, r.method, r.path, r.body ? JSON.parse(r.body) : undefined, r.headers);
  if (res.status !== 200 || !want(res.json))
    throw new Error(`${server.name} ${r.method} ${r.path}: ${res.status} ${res.text.slice(0, 200)}`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(server: RunningServer, r: Request): Promise<LoadResult[]> {
  const runs: LoadResult[] = [];
  for (let i = 0; i < Number(flags.rounds); i++) runs.push(await once(server, r));
  return runs;
}

async function once(server: RunningServer, r: Request): Promise<LoadResult> {
  if (Number(flags.warmup) > 0) await load(server, r, Number(flags.warmup));
  const result = await load(server, r, Number(flags.duration));
  if (result.non2xx || result.errors)
    throw new Error(`${server.name} ${r.path}: ${result.non2xx} non-2xx, ${result.errors} errors under load`);
  return result;
}

const rows: Record<string, unknown>[] = [];
mkdirSync(TMP, { recursive: true });
try {
  for (const engine of flags.engines.split(',')) {
    const start = engine === 'postgres' ? startPlinthPostgres : startPlinthSqlite;
    log(`${engine}: starting Plinth and the static-token variant`);
    const plinth = await start(TMP);
    const staticTokens = await start(TMP, {
      name: 'static',
      entry: join(ROOT, 'bench', 'plinth-static-sessions.ts'),
    });
    try {
      const a = await signIn(plinth);
      const b = await signIn(staticTokens);
      const getOwn = (id: string, token: string): Request => ({
        method: 'GET',
        path: `/api/collections/users/records/${id}`,
        headers: { authorization: token },
      });
      const isUser = (id: string) => (json: unknown) => (json as { id?: string }).id === id;
      await check(plinth, getOwn(a.id, a.token), isUser(a.id));
      await check(staticTokens, getOwn(b.id, b.token), isUser(b.id));

      // get-own: rounds alternate which server goes first, so drift falls on both.
      const withSessions: LoadResult[] = [];
      const withStatic: LoadResult[] = [];
      for (let round = 0; round < Number(flags.rounds); round++) {
        log(`${engine} get-own round ${round + 1}`);
        const pair = [
          () => once(plinth, getOwn(a.id, a.token)).then((r) => withSessions.push(r)),
          () => once(staticTokens, getOwn(b.id, b.token)).then((r) => withStatic.push(r)),
        ];
        for (const run of round % 2 ? pair.reverse() : pair) await run();
      }
      const rps = (runs: LoadResult[]) => median(runs.map((r) => r.rps));
      const p99 = (runs: LoadResult[]) => median(runs.map((r) => r.p99));
      rows.push({
        engine,
        scenario: 'get-own',
        sessionsRps: Math.round(rps(withSessions)),
        staticRps: Math.round(rps(withStatic)),
        ratio: +(rps(withSessions) / rps(withStatic)).toFixed(3),
        p99Ratio: +(p99(withSessions) / p99(withStatic)).toFixed(3),
      });

      const refresh: Request = {
        method: 'POST',
        path: '/api/collections/users/auth-refresh',
        headers: { authorization: a.token },
      };
      await check(plinth, refresh, (json) => typeof (json as { token?: unknown }).token === 'string');
      log(`${engine} refresh`);
      const refreshRuns = await measure(plinth, refresh);
      rows.push({ engine, scenario: 'refresh', rps: Math.round(rps(refreshRuns)), p99: p99(refreshRuns) });

      const login: Request = {
        method: 'POST',
        path: '/api/collections/users/auth-with-password',
        body: JSON.stringify({ identity: USER.email, password: USER.password }),
        headers: {},
      };
      await check(plinth, login, (json) => typeof (json as { token?: unknown }).token === 'string');
      log(`${engine} login`);
      const loginRuns = await measure(plinth, login);
      rows.push({ engine, scenario: 'login', rps: Math.round(rps(loginRuns)), p99: p99(loginRuns) });
    } finally {
      await plinth.stop();
      await staticTokens.stop();
    }
  }
} finally {
  rmSync(TMP, { recursive: true, force: true });
  await dropBenchDatabases().catch(() => []);
}
if (flags.json) console.log(JSON.stringify(rows));
else console.table(rows);
