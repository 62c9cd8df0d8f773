import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type App, createApp } from '../src/app.ts';
import { loadConfig } from '../src/config/index.ts';
import { createLogger } from '../src/log/index.ts';
import { SUPERUSERS_ID } from '../src/schema/index.ts';
import { assertApiError } from './helpers/assertions.ts';
import { createTestDatabase, type TestDatabase } from './helpers/databases.ts';

/**
 * The first-superuser installer, hit in parallel with one link: exactly one call creates a superuser and
 * the others get a 400 in PocketBase's error JSON, on every engine. A fresh install without a superuser
 * per test (the usual test server makes one at start).
 */
describe('first-superuser installer under parallel use', () => {
  let app: App;
  let database: TestDatabase;
  let dataDir: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'plinth-installer-'));
    database = await createTestDatabase();
    const config = loadConfig({ dir: dataDir, logLevel: 'silent', db: database.url }, {});
    app = await createApp(config, createLogger('silent'));
  });
  after(async () => {
    await app.close();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const install = async (body: Record<string, unknown>) => {
    const res = await app.server.inject({ method: 'POST', url: '/api/plinth/installer', payload: body });
    return { status: res.statusCode, body: res.json() };
  };

  async function superuserCount(): Promise<number> {
    const q = app.db.dialect.quote;
    const rows = await app.db.run<{ n: unknown }>(
      app.db.kysely,
      `SELECT COUNT(*) AS ${q('n')} FROM ${q('_superusers')}`,
      [],
    );
    return Number(rows[0]!.n);
  }

  async function deleteSuperusers(): Promise<void> {
    const q = app.db.dialect.quote;
    await app.db.run(app.db.kysely, `DELETE FROM ${q('_superusers')}`, []);
  }

  const claimRow = async () => {
    const q = app.db.dialect.quote;
    return app.db.run(app.db.kysely, `SELECT ${q('id')} FROM ${q('_params')} WHERE ${q('id')} = ?`, [
      'installerClaim',
    ]);
  };

  it('creates exactly one superuser from many parallel calls with one link', async () => {
    const token = await app.auth.installerToken();
    assert.ok(token);
    // Different addresses, so a unique email index cannot be what stops the others.
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        install({
          token,
          email: `first${i}@example.com`,
          password: 'pw-123456789',
          passwordConfirm: 'pw-123456789',
        }),
      ),
    );
    const ok = results.filter((r) => r.status === 200);
    assert.equal(ok.length, 1, JSON.stringify(results.map((r) => r.status)));
    assert.ok(ok[0]!.body.token);
    assert.equal(ok[0]!.body.record.collectionId, SUPERUSERS_ID);
    for (const r of results.filter((x) => x.status !== 200)) assertApiError(r, 'a losing call', 400);
    assert.equal(await superuserCount(), 1);
    assert.deepEqual(await claimRow(), [], 'the claim is released');
    assert.equal(await app.auth.installerToken(), undefined);
    assertApiError(
      await install({
        token,
        email: 'late@example.com',
        password: 'pw-123456789',
        passwordConfirm: 'pw-123456789',
      }),
      'after the install',
      400,
    );
  });

  it('releases the claim when the data is refused, so the link can be used again', async () => {
    await deleteSuperusers();
    const token = await app.auth.installerToken();
    const bad = await install({ token, email: 'not-an-email', password: 'short' });
    assertApiError(bad, 'invalid data', 400);
    assert.ok(bad.body.data.email || bad.body.data.password, JSON.stringify(bad.body));
    assert.deepEqual(await claimRow(), []);
    const good = await install({
      token,
      email: 'second@example.com',
      password: 'pw-123456789',
      passwordConfirm: 'pw-123456789',
    });
    assert.equal(good.status, 200, JSON.stringify(good.body));
    assert.equal(await superuserCount(), 1);
  });

  it('waits out a claim in progress, and takes over one left by a process that died', async () => {
    await deleteSuperusers();
    const token = await app.auth.installerToken();
    const q = app.db.dialect.quote;
    const putClaim = (at: number) =>
      app.db.run(
        app.db.kysely,
        `INSERT INTO ${q('_params')} (${q('id')}, ${q('value')}, ${q('created')}, ${q('updated')}) VALUES (?, ?, ?, ?)`,
        ['installerClaim', JSON.stringify({ at, by: 'other' }), '', ''],
      );
    const body = {
      token,
      email: 'third@example.com',
      password: 'pw-123456789',
      passwordConfirm: 'pw-123456789',
    };
    await putClaim(Date.now());
    assertApiError(await install(body), 'claimed by another call', 400);
    assert.equal(await superuserCount(), 0);
    await app.db.run(app.db.kysely, `DELETE FROM ${q('_params')} WHERE ${q('id')} = ?`, ['installerClaim']);
    await putClaim(Date.now() - 10 * 60_000);
    const res = await install(body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(await superuserCount(), 1);
    assert.deepEqual(await claimRow(), []);
  });
});
