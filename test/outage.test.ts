// Database outages: the data routes answer 503 with Retry-After (never a generic 500, never a hang), the
// readiness check says so while liveness stays up, and everything recovers without a restart. Against a
// PostgreSQL server the test starts, stops and freezes itself, and a SQLite data dir on a tiny filesystem.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type App, createApp } from '../src/app.ts';
import { loadConfig } from '../src/config/index.ts';
import { createLogger } from '../src/log/index.ts';
import { createPrivatePostgres, type PrivatePostgres, postgresBinaries } from './helpers/private-postgres.ts';
import { SUPERUSER, TEST_ENGINE } from './helpers/server.ts';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON.
type Json = any;

interface Running {
  app: App;
  url: string;
  dir: string;
  token: string;
  call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Json; headers: Headers }>;
}

async function start(flags: Record<string, unknown>): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'plinth-outage-'));
  const config = loadConfig({ dir, http: '127.0.0.1:0', logLevel: 'silent', ...flags }, {});
  const app = await createApp(config, createLogger('silent'));
  await app.auth.upsertSuperuser(SUPERUSER.email, SUPERUSER.password);
  await app.server.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.server.address() as { port: number }).port}`;
  const running: Running = {
    app,
    url,
    dir,
    token: '',
    async call(method, path, body) {
      const res = await fetch(url + path, {
        method,
        headers: { authorization: running.token, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
    },
  };
  const auth = await running.call('POST', '/api/collections/_superusers/auth-with-password', {
    identity: SUPERUSER.email,
    password: SUPERUSER.password,
  });
  running.token = auth.body.token;
  await running.call('PATCH', '/api/settings', { rateLimits: { enabled: false } });
  const made = await running.call('POST', '/api/collections', {
    name: 'notes',
    listRule: '',
    viewRule: '',
    createRule: '',
    fields: [{ name: 'title', type: 'text' }],
  });
  assert.equal(made.status, 200, JSON.stringify(made.body));
  return running;
}

/** Lists the notes until the answer is a 200 (the database is back) or `withinMs` have passed. */
async function listUntilOk(srv: Running, withinMs: number) {
  const until = performance.now() + withinMs;
  let res = await srv.call('GET', '/api/collections/notes/records');
  while (res.status !== 200 && performance.now() < until) {
    await new Promise((r) => setTimeout(r, 250));
    res = await srv.call('GET', '/api/collections/notes/records');
  }
  return res;
}

function assertOutage(res: { status: number; body: Json; headers: Headers }, what: string) {
  assert.equal(res.status, 503, `${what}: ${JSON.stringify(res.body)}`);
  assert.ok(Number(res.headers.get('retry-after')) >= 1, `${what}: Retry-After`);
  assert.equal(res.body.status, 503);
  assert.doesNotMatch(JSON.stringify(res.body), /ECONN|postgres|SQLITE|at \w+ \(/i, 'no driver detail');
}

describe('PostgreSQL outages (a private server)', {
  skip:
    TEST_ENGINE !== 'postgres'
      ? 'runs in the postgres pass'
      : !postgresBinaries() && 'PostgreSQL server binaries not installed',
}, () => {
  let pg: PrivatePostgres;
  let srv: Running;
  before(async () => {
    pg = await createPrivatePostgres();
    srv = await start({ db: pg.url, queryTimeout: 500 });
  });
  after(async () => {
    await srv?.app.close().catch(() => {});
    rmSync(srv?.dir ?? '/nonexistent', { recursive: true, force: true });
    pg?.destroy();
  });

  test('a stopped database: 503 with Retry-After on reads and writes, not ready, still alive', async () => {
    const created = await srv.call('POST', '/api/collections/notes/records', { title: 'before' });
    assert.equal(created.status, 200);
    pg.stop();
    assertOutage(await srv.call('GET', '/api/collections/notes/records'), 'list');
    assertOutage(await srv.call('GET', `/api/collections/notes/records/${created.body.id}`), 'view');
    assertOutage(await srv.call('POST', '/api/collections/notes/records', { title: 'during' }), 'create');
    const ready = await srv.call('GET', '/api/plinth/ready');
    assert.equal(ready.status, 503);
    // A probe carries no token (one would be checked against the database's sessions).
    const live = await fetch(`${srv.url}/api/health`);
    assert.equal(live.status, 200, 'liveness does not depend on the database');
  });

  test('recovers without a restart once the database is back', async () => {
    pg.start();
    const res = await listUntilOk(srv, 5_000);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(
      res.body.items.map((n: Json) => n.title),
      ['before'],
    );
    assert.equal((await srv.call('POST', '/api/collections/notes/records', { title: 'after' })).status, 200);
    assert.equal((await srv.call('GET', '/api/plinth/ready')).status, 200);
  });

  test('a hung database (frozen, connections open): requests end with 503 instead of hanging', async () => {
    pg.pause();
    try {
      const started = performance.now();
      const results = await Promise.all([
        srv.call('GET', '/api/collections/notes/records'),
        srv.call('POST', '/api/collections/notes/records', { title: 'frozen' }),
      ]);
      for (const res of results) assertOutage(res, 'hung');
      // The client gives up a little after the server's own limit would have (0.5 s + 5 s grace).
      assert.ok(performance.now() - started < 20_000);
      assert.equal((await srv.call('GET', '/api/plinth/ready')).status, 503);
    } finally {
      pg.resume();
    }
    const res = await listUntilOk(srv, 10_000);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });
});

describe('a full disk under SQLite', {
  skip:
    TEST_ENGINE !== 'sqlite'
      ? 'runs in the sqlite pass'
      : process.getuid?.() !== 0 && 'needs root to mount a small tmpfs',
}, () => {
  let srv: Running;
  let mount = '';
  before(async () => {
    mount = mkdtempSync(join(tmpdir(), 'plinth-full-'));
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mount]);
    if (r.status !== 0) throw new Error(`mount failed: ${r.stderr}`);
    mkdirSync(join(mount, 'data'));
    srv = await start({ dir: join(mount, 'data') });
  });
  after(async () => {
    await srv?.app.close().catch(() => {});
    spawnSync('umount', [mount]);
    rmSync(mount, { recursive: true, force: true });
    if (srv) rmSync(srv.dir, { recursive: true, force: true });
  });

  test('writes answer 503 when the disk is full, reads still work, and writes resume once space is freed', async () => {
    const filler = join(mount, 'filler');
    // Fill what is left of the filesystem.
    spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k', 'count=1000'], { stdio: 'ignore' });
    let full: Awaited<ReturnType<Running['call']>> | undefined;
    for (let i = 0; i < 200; i++) {
      const res = await srv.call('POST', '/api/collections/notes/records', { title: 'x'.repeat(4000) });
      if (res.status !== 200) {
        full = res;
        break;
      }
    }
    assert.ok(full, 'the disk never filled up');
    assertOutage(full, 'create on a full disk');
    assert.equal((await srv.call('GET', '/api/collections/notes/records?perPage=1')).status, 200);
    rmSync(filler);
    const res = await srv.call('POST', '/api/collections/notes/records', { title: 'after' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });
});
