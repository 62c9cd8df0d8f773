import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { TEST_ENGINE } from './helpers/databases.ts';
import { freePort, runCli, spawnServe, superuserSignInStatus } from './helpers/process.ts';

const dirs: string[] = [];
function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'plinth-cli-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const sqliteOnly =
  TEST_ENGINE !== 'sqlite' && 'runs the CLI on embedded SQLite; the same code on every engine';

describe('the plinth command', { skip: sqliteOnly }, () => {
  it('prints help and refuses unknown commands', async () => {
    const help = await runCli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /plinth serve/);
    const version = await runCli(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^plinth \d+\.\d+\.\d+/);
    const unknown = await runCli(['frobnicate']);
    assert.equal(unknown.code, 2);
  });

  it('lists every configuration problem and exits 1', async () => {
    const res = await runCli(['serve', '--http', 'nonsense', '--log-level', 'loud', '--dir', dataDir()]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /http must be HOST:PORT/);
    assert.match(res.stderr, /logLevel must be one of/);
  });

  it('refuses, with a clear message and exit 1, a database holding tables it would create', async () => {
    const dir = dataDir();
    const db = new DatabaseSync(join(dir, 'data.db'));
    db.exec('CREATE TABLE _collections (x INT)');
    db.close();
    const res = await runCli(['serve', '--dir', dir, '--http', '127.0.0.1:0']);
    assert.equal(res.code, 1);
    assert.match(
      res.stderr,
      /^plinth: the database already holds tables Plinth would create \(_collections\)/,
    );
    assert.doesNotMatch(res.stderr, /\n\s+at /);
  });

  it('creates and updates a superuser with `superuser upsert`, who can then sign in', async () => {
    const dir = dataDir();
    const created = await runCli(['superuser', 'upsert', 'ops@example.com', 'first-password', '--dir', dir]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /created/);
    const updated = await runCli(['superuser', 'upsert', 'ops@example.com', 'second-password', '--dir', dir]);
    assert.match(updated.stdout, /updated/);
    const bad = await runCli(['superuser', 'upsert', 'not-an-email', 'second-password', '--dir', dir]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /email/);

    const port = await freePort();
    const server = await spawnServe(['--http', `127.0.0.1:${port}`, '--dir', dir]);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/collections/_superusers/auth-with-password`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ identity: 'ops@example.com', password: 'second-password' }),
      });
      assert.equal(res.status, 200);
      assert.doesNotMatch(server.stdout(), /pbinstall/);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });

  it('undoes a superuserIPs lock-out with `superuser allow-any-ip`', async () => {
    const dir = dataDir();
    await runCli(['superuser', 'upsert', 'ops@example.com', 'first-password', '--dir', dir]);
    const serveOnce = async (check: (base: string) => Promise<void>) => {
      const port = await freePort();
      const server = await spawnServe(['--http', `127.0.0.1:${port}`, '--dir', dir]);
      try {
        await check(`http://127.0.0.1:${port}`);
      } finally {
        server.child.kill('SIGTERM');
        await server.exited;
      }
    };
    await serveOnce(async (base) => {
      const signIn = await fetch(`${base}/api/collections/_superusers/auth-with-password`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ identity: 'ops@example.com', password: 'first-password' }),
      });
      const { token } = (await signIn.json()) as { token: string };
      const locked = await fetch(`${base}/api/settings`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json', authorization: token },
        body: JSON.stringify({ superuserIPs: ['10.9.9.9'] }),
      });
      assert.equal(locked.status, 200);
      assert.equal(await superuserSignInStatus(base, 'ops@example.com', 'first-password'), 403);
    });
    const cleared = await runCli(['superuser', 'allow-any-ip', '--dir', dir]);
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.match(cleared.stdout, /cleared \(was 10\.9\.9\.9\)/);
    await serveOnce(async (base) => {
      assert.equal(await superuserSignInStatus(base, 'ops@example.com', 'first-password'), 200);
    });
  });

  it('prints a one-time installer link on a fresh install, and the link creates the first superuser once', async () => {
    const dir = dataDir();
    const port = await freePort();
    const server = await spawnServe(['--http', `127.0.0.1:${port}`, '--dir', dir]);
    try {
      const link = await server.waitFor(/(http:\/\/\S+\/_\/#\/pbinstall\/(\S+))/);
      assert.ok(link, server.stdout());
      // The printed alternative names this data dir (not the default one, which would make a new database).
      assert.ok(
        (await server.waitFor(/or run: .*/))?.[0].endsWith(`superuser upsert EMAIL PASSWORD --dir ${dir}`),
        server.stdout(),
      );
      const token = link[2]!;
      const page = await fetch(`http://127.0.0.1:${port}/_/`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
      const install = (body: object) =>
        fetch(`http://127.0.0.1:${port}/api/plinth/installer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      assert.equal(
        (
          await install({
            token: 'forged',
            email: 'a@example.com',
            password: 'pw-123456789',
            passwordConfirm: 'pw-123456789',
          })
        ).status,
        401,
      );
      const ok = await install({
        token,
        email: 'first@example.com',
        password: 'pw-123456789',
        passwordConfirm: 'pw-123456789',
      });
      assert.equal(ok.status, 200);
      const body = (await ok.json()) as { token: string; record: { email: string } };
      assert.equal(body.record.email, 'first@example.com');
      const again = await install({
        token,
        email: 'second@example.com',
        password: 'pw-123456789',
        passwordConfirm: 'pw-123456789',
      });
      assert.equal(again.status, 400);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });

  it('finishes an in-flight request on SIGTERM, then exits 0 with a clean database', async () => {
    const dir = dataDir();
    await runCli(['superuser', 'upsert', 'ops@example.com', 'first-password', '--dir', dir]);
    const port = await freePort();
    const server = await spawnServe(['--http', `127.0.0.1:${port}`, '--dir', dir]);
    const base = `http://127.0.0.1:${port}`;
    const login = await fetch(`${base}/api/collections/_superusers/auth-with-password`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ identity: 'ops@example.com', password: 'first-password' }),
    });
    const { token } = (await login.json()) as { token: string };
    await fetch(`${base}/api/collections`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: token },
      body: JSON.stringify({ name: 'notes', createRule: '', fields: [{ name: 'text', type: 'text' }] }),
    });

    // A request whose body is still arriving when the signal comes.
    const body = JSON.stringify({ text: 'written during shutdown' });
    const response = new Promise<number>((resolve, reject) => {
      const req = request(`${base}/api/collections/notes/records`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write(body.slice(0, 5));
      setTimeout(() => {
        server.child.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(5)), 300);
      }, 100);
    });
    assert.equal(await response, 200);
    assert.equal(await server.exited, 0);

    const db = new DatabaseSync(join(dir, 'data.db'));
    try {
      assert.deepEqual({ ...db.prepare('PRAGMA integrity_check').get() }, { integrity_check: 'ok' });
      const row = db.prepare('SELECT text FROM notes').get() as { text: string };
      assert.equal(row.text, 'written during shutdown');
    } finally {
      db.close();
    }
  });
});
