import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type App, createApp } from '../src/app.ts';
import { loadConfig } from '../src/config/index.ts';
import { ApiError } from '../src/errors/index.ts';
import { createLogger } from '../src/log/index.ts';
import { startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';

const OPEN_RULES = { listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '' };

describe('schema changes on two nodes of one database', {
  skip:
    TEST_ENGINE === 'sqlite' ? 'one process owns a SQLite database; nodes share PostgreSQL or MySQL' : false,
}, () => {
  let server: TestServer;
  let other: App;
  let otherDir = '';

  before(async () => {
    server = await startServer();
    const created = await server.request('POST', '/api/collections', {
      token: server.adminToken,
      body: { name: 'shared', fields: [{ name: 'a', type: 'text' }] },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    // A second node, started after `shared` exists. No bus tells it about later changes.
    otherDir = mkdtempSync(join(tmpdir(), 'plinth-node2-'));
    // Every node of one database needs the same encryption key (docs/security.md).
    copyFileSync(join(server.dataDir, 'encryption.key'), join(otherDir, 'encryption.key'));
    const config = loadConfig(
      { dir: otherDir, http: '127.0.0.1:0', logLevel: 'silent', db: server.app.config.databaseUrl },
      {},
    );
    other = await createApp(config, createLogger('silent'));
  });
  after(async () => {
    await other?.close();
    await server?.close();
    rmSync(otherDir, { recursive: true, force: true });
  });

  it('start from the latest committed schema, whatever the node’s cache says', async () => {
    const current = server.app.collections.get('shared');
    const added = await server.request('PATCH', '/api/collections/shared', {
      token: server.adminToken,
      body: { fields: [...current.fields, { name: 'b', type: 'number' }] },
    });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    // The other node still caches `shared` without `b`; its change must not drop `b`.
    const changed = await other.collections.update('shared', { listRule: '' });
    assert.deepEqual(
      changed.fields.map((f) => f.name),
      ['id', 'a', 'b'],
    );
    await server.app.collections.reload();
    const now = server.app.collections.get('shared');
    assert.equal(now.listRule, '');
    assert.ok(now.fields.some((f) => f.name === 'b'));
    const record = await server.request('POST', '/api/collections/shared/records', {
      token: server.adminToken,
      body: { a: 'x', b: 2 },
    });
    assert.equal(record.status, 200, JSON.stringify(record.body));
  });

  it('keeps reading records on a node whose prepared statements predate another node’s change', async () => {
    const su = { collection: null, record: null, isSuperuser: true };
    const rec = await server.request('POST', '/api/collections/shared/records', {
      token: server.adminToken,
      body: { a: 'before' },
    });
    const otherView = () => other.records.view(other.collections.get('shared'), rec.body.id, su);
    assert.equal((await otherView()).a, 'before');
    // The first node changes the columns behind the other node's prepared `SELECT *`.
    const current = server.app.collections.get('shared');
    const changed = await server.request('PATCH', '/api/collections/shared', {
      token: server.adminToken,
      body: { fields: [...current.fields, { name: `c${Date.now()}`, type: 'bool' }] },
    });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    for (let i = 0; i < 3; i++) assert.equal((await otherView()).a, 'before');
  });

  it('let exactly one of several same-named creates on both nodes win; the others get a 400', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) =>
        (i % 2 ? other : server.app).collections.create({
          name: 'twin',
          fields: [{ name: 't', type: 'text' }],
        }),
      ),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results) {
      if (r.status === 'fulfilled') continue;
      assert.ok(r.reason instanceof ApiError, String(r.reason));
      assert.equal(r.reason.status, 400);
      assert.equal(
        (r.reason.data as { name?: { code?: string } }).name?.code,
        'validation_collection_name_exists',
      );
    }
  });
});

describe('concurrent record writes', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
    const targets = await server.request('POST', '/api/collections', {
      token: server.adminToken,
      body: { name: 'targets', ...OPEN_RULES, fields: [{ name: 'title', type: 'text' }] },
    });
    assert.equal(targets.status, 200, JSON.stringify(targets.body));
    const refs = await server.request('POST', '/api/collections', {
      token: server.adminToken,
      body: {
        name: 'refs',
        ...OPEN_RULES,
        fields: [
          { name: 'title', type: 'text' },
          { name: 'one', type: 'relation', collectionId: targets.body.id, maxSelect: 1 },
          { name: 'many', type: 'relation', collectionId: targets.body.id, maxSelect: 10 },
        ],
      },
    });
    assert.equal(refs.status, 200, JSON.stringify(refs.body));
  });
  after(() => server.close());

  const call = (method: string, path: string, body?: unknown) =>
    server.request(method, path, { token: server.adminToken, body });

  it('never leaves a relation pointing at a record deleted at the same time', async () => {
    const keep = await call('POST', '/api/collections/targets/records', { title: 'keep' });
    for (let round = 0; round < 20; round++) {
      const target = await call('POST', '/api/collections/targets/records', { title: `t${round}` });
      const ref = await call('POST', '/api/collections/refs/records', { many: [keep.body.id] });
      const [update, removal] = await Promise.all([
        call('PATCH', `/api/collections/refs/records/${ref.body.id}`, {
          one: target.body.id,
          'many+': target.body.id,
        }),
        call('DELETE', `/api/collections/targets/records/${target.body.id}`),
      ]);
      assert.ok([200, 400].includes(update.status), JSON.stringify(update.body));
      assert.ok([204, 404].includes(removal.status), JSON.stringify(removal.body));
      const stored = (await call('GET', `/api/collections/refs/records/${ref.body.id}`)).body;
      const gone = (await call('GET', `/api/collections/targets/records/${target.body.id}`)).status === 404;
      if (gone) {
        assert.equal(stored.one, '', `round ${round}: ${JSON.stringify(stored)}`);
        assert.deepEqual(stored.many, [keep.body.id], `round ${round}`);
      } else assert.equal(stored.one, target.body.id, `round ${round}`);
    }
  });

  it('keeps every item appended to a list by parallel updates', async () => {
    const targets: string[] = [];
    for (let i = 0; i < 12; i++)
      targets.push((await call('POST', '/api/collections/targets/records', { title: `p${i}` })).body.id);
    const ref = await call('POST', '/api/collections/refs/records', {});
    const results = await Promise.all(
      targets.map((id) => call('PATCH', `/api/collections/refs/records/${ref.body.id}`, { 'many+': id })),
    );
    const accepted = results.filter((r) => r.status === 200);
    assert.equal(accepted.length, 10);
    for (const r of results.filter((r) => r.status !== 200))
      assert.equal(r.body.data.many?.code, 'validation_too_many_values', JSON.stringify(r.body));
    const stored = (await call('GET', `/api/collections/refs/records/${ref.body.id}`)).body;
    assert.equal(stored.many.length, 10);
    // Each accepted update saw every item appended before it: one chain, nothing lost.
    const lengths = accepted.map((r) => r.body.many.length).sort((a: number, b: number) => a - b);
    assert.deepEqual(lengths, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});
