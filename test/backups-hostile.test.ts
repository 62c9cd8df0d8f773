import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createApp } from '../src/app.ts';
import { ArchiveError, stageRestore } from '../src/backups/index.ts';
import { loadConfig } from '../src/config/index.ts';
import { createLogger } from '../src/log/index.ts';
import { type Entry, manifestFor, patchEntry, readZip, sha256, writeZip } from './helpers/backup-archives.ts';
import { runCli } from './helpers/process.ts';
import { startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';

// Damaged, foreign and hostile archives are refused, with a clear message, before anything reaches the live
// data: a restore stages into DATA/.restore and swaps nothing unless every check passed. The archives are
// SQLite backups whatever the test engine (the checks are the archive's, not the engine's); the upload
// route runs on the test engine.

describe(`hostile backup archives (server on ${TEST_ENGINE})`, () => {
  const root = mkdtempSync(join(tmpdir(), 'plinth-hostile-'));
  const live = join(root, 'live');
  const good = join(root, 'good.zip');
  let entries: Entry[] = [];
  let liveHash = '';
  const cases = new Map<string, { path: string; message: RegExp }>();

  const add = async (label: string, message: RegExp, list: Entry[], patch?: (path: string) => void) => {
    const path = join(root, `${label.replace(/\W+/g, '-')}.zip`);
    await writeZip(path, list);
    patch?.(path);
    cases.set(label, { path, message });
  };
  const withManifest = (list: Entry[], overrides?: Record<string, unknown>) => [
    ...list,
    manifestFor(list, overrides),
  ];

  before(async () => {
    // A real SQLite backup of a fresh data dir, made in-process (a CLI run costs a second or two).
    const app = await createApp(loadConfig({ dir: live, logLevel: 'silent' }, {}), createLogger('silent'));
    await app.backups.create('good.zip');
    await app.close();
    writeFileSync(good, readFileSync(join(live, 'backups', 'good.zip')));
    entries = (await readZip(good)).filter((e) => e.name !== 'manifest.json');
    const manifest = JSON.parse(
      (await readZip(good)).find((e) => e.name === 'manifest.json')!.body.toString(),
    );
    liveHash = sha256(readFileSync(join(live, 'data.db')));
    const real = { schemaChecksum: manifest.schemaChecksum, counts: manifest.counts };
    const file = (name: string, text = 'x') => ({ name, body: Buffer.from(text) });

    await add('a ../ path', /unsafe path/, withManifest([...entries, file('../escape.txt')], real));
    await add(
      'a ../ path inside storage',
      /unsafe path/,
      withManifest([...entries, file('storage/../../escape.txt')], real),
    );
    await add(
      'an absolute path',
      /unsafe path/,
      withManifest([...entries, file('/tmp/plinth-escape.txt')], real),
    );
    await add(
      'a symlink',
      /link or special file/,
      withManifest([...entries, file('storage/c/r/link', '/etc/passwd')], real),
      (p) => patchEntry(p, 'storage/c/r/link', { mode: 0o120777 }),
    );
    await add('a duplicate name', /twice/, withManifest([...entries, ...entries], real));
    await add('a huge manifest', /manifest is too large/, [
      ...entries,
      { name: 'manifest.json', body: Buffer.alloc(65 * 1024 * 1024, 0x20) },
    ]);
    const bomb = { name: 'storage/c/r/bomb.bin', body: Buffer.alloc(32 * 1024 * 1024) };
    await add(
      'a zip bomb that lies about its size',
      /more bytes than the archive declares/,
      [...entries, bomb, manifestFor([...entries, { name: bomb.name, body: Buffer.alloc(1000) }], real)],
      (p) => patchEntry(p, bomb.name, { size: 1000 }),
    );
    await add('a foreign (PocketBase) archive', /not a Plinth backup/, [
      { name: 'data.db', body: entries[0]!.body },
      { name: 'auxiliary.db', body: Buffer.from('x') },
    ]);
    await add(
      'a manifest whose counts lie',
      /record counts do not match/,
      withManifest(entries, {
        ...real,
        counts: { ...real.counts, users: 999 },
      }),
    );
    await add('a manifest whose hash lies', /does not match its manifest hash/, [
      ...entries,
      manifestFor(
        entries.map((e) => (e.name === 'data.db' ? { ...e, body: Buffer.alloc(e.body.length) } : e)),
        real,
      ),
    ]);
    await add(
      'an archive of another engine',
      /made on postgres/,
      withManifest([file('dump.sql', 'select 1;')], {
        ...real,
        engine: 'postgres',
      }),
    );
    await add(
      'a database that is not SQLite',
      /cannot be read/,
      withManifest([file('data.db', 'not a database at all')], real),
    );
    const damaged = join(root, 'damaged.zip');
    const bytes = Buffer.from(readFileSync(good));
    for (let i = 200; i < 400; i++) bytes[i] = 0xff - bytes[i]!;
    writeFileSync(damaged, bytes);
    cases.set('a damaged archive', { path: damaged, message: /damaged|checksum/ });
    const truncated = join(root, 'truncated.zip');
    writeFileSync(truncated, readFileSync(good).subarray(0, 5000));
    cases.set('a truncated archive', { path: truncated, message: /not a zip archive/ });
    const random = join(root, 'random.zip');
    writeFileSync(random, Buffer.from('PK\u0005\u0006 this is not a zip'));
    cases.set('a file that is not a zip', { path: random, message: /not a zip archive/ });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('refuses each before anything reaches the live data', async () => {
    for (const [label, { path, message }] of cases) {
      const err = await stageRestore(live, join(live, 'data.db'), path).catch((e: unknown) => e);
      assert.ok(err instanceof ArchiveError, `${label}: ${String(err)}`);
      assert.match(err.message, message, label);
      assert.equal(existsSync(join(live, '.restore')), false, `${label}: staging left behind`);
      assert.equal(sha256(readFileSync(join(live, 'data.db'))), liveHash, `${label}: live data changed`);
    }
    for (const dir of [root, live, '/tmp'])
      assert.ok(!readdirSync(dir).some((n) => n.includes('escape')), dir);
  });

  it('plinth backup verify and plinth restore exit 1 with one clear line, no stack', {
    // The archives are SQLite's and the checks are the archive's: three CLI runs say nothing more elsewhere.
    skip: TEST_ENGINE !== 'sqlite' && 'the same SQLite archives and checks as on the SQLite run',
  }, async () => {
    const verify = await runCli(['backup', 'verify', cases.get('a damaged archive')!.path]);
    assert.equal(verify.code, 1);
    assert.match(verify.stderr, /^\s*plinth: The archive is damaged/);
    assert.doesNotMatch(verify.stderr, /\n\s+at /);
    const restore = await runCli(['restore', cases.get('a ../ path')!.path, '--dir', live]);
    assert.equal(restore.code, 1);
    assert.match(restore.stderr, /unsafe path/);
    assert.doesNotMatch(restore.stderr, /\n\s+at /);
    assert.equal(sha256(readFileSync(join(live, 'data.db'))), liveHash);
    const ok = await runCli(['backup', 'verify', good]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /OK/);
  });

  describe('through POST /api/backups/upload', () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer();
    });
    after(() => srv?.close());
    const upload = (path: string, name: string) => {
      const form = new FormData();
      form.set('file', new Blob([readFileSync(path)], { type: 'application/zip' }), name);
      return fetch(`${srv.url}/api/backups/upload`, {
        method: 'POST',
        headers: { authorization: srv.adminToken },
        body: form,
      });
    };

    it('refuses them with a 400 and keeps none', async () => {
      for (const label of [
        'a ../ path',
        'a symlink',
        'a foreign (PocketBase) archive',
        'a huge manifest',
        'a truncated archive',
      ]) {
        const res = await upload(cases.get(label)!.path, 'hostile.zip');
        assert.equal(res.status, 400, `${label}: ${res.status}`);
        const body = (await res.json()) as { message: string };
        assert.match(body.message, cases.get(label)!.message, label);
      }
      for (const name of ['bad name.zip', '.hidden.zip', 'x.tar', ''])
        assert.equal((await upload(good, name)).status, 400, name);
      assert.deepEqual((await srv.request('GET', '/api/backups', { token: srv.adminToken })).body, []);
      assert.deepEqual(readdirSync(join(srv.dataDir, '.uploads')), []);
    });
  });
});
