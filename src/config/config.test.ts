import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CONFIG_FILE_KEYS, ConfigError, loadConfig } from './config.ts';

/** Writes `content` as a config file in a fresh directory and loads it. */
function loadFile(content: string) {
  const dir = mkdtempSync(join(tmpdir(), 'plinth-config-'));
  try {
    const file = join(dir, 'plinth.config.json');
    writeFileSync(file, content);
    return loadConfig({ config: file } as never, {});
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('loadConfig', () => {
  it('has PocketBase-like defaults with durable SQLite', () => {
    const c = loadConfig({}, {});
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 8090);
    assert.match(c.dataDir, /plinth_data$/);
    assert.equal(c.sqliteSynchronous, 'FULL');
    assert.deepEqual(c.origins, ['*']);
  });

  it('runs a worker a core by default, one on port 0 or an in-memory database, and refuses a bad count', () => {
    assert.equal(loadConfig({}, {}).workers, availableParallelism());
    assert.equal(loadConfig({ http: '127.0.0.1:0' }, {}).workers, 1);
    assert.equal(loadConfig({ db: 'sqlite::memory:' }, {}).workers, 1);
    assert.equal(loadConfig({}, { PLINTH_WORKERS: '3' }).workers, 3);
    assert.equal(loadConfig({ workers: '2' }, { PLINTH_WORKERS: '3' }).workers, 2);
    for (const bad of ['0', '257', '1.5', 'many'])
      assert.deepEqual(
        problemsOf(() => loadConfig({ workers: bad }, {})),
        ['workers must be a whole number from 1 to 256'],
      );
    assert.deepEqual(
      problemsOf(() => loadConfig({ workers: '2', http: '127.0.0.1:0' }, {})),
      ['workers must be 1 with port 0'],
    );
    assert.deepEqual(
      problemsOf(() => loadConfig({ workers: '2', db: 'sqlite::memory:' }, {})),
      ['workers must be 1 with an in-memory SQLite database'],
    );
    // The admission defaults count the cores a worker has to itself.
    assert.equal(loadConfig({ workers: '1' }, {}).maxInFlight, 8 * availableParallelism());
    assert.equal(loadConfig({ workers: String(availableParallelism()) }, {}).maxInFlight, 8);
  });

  it('lets env override defaults and flags override env', () => {
    const c = loadConfig(
      { http: '0.0.0.0:9000' },
      {
        PLINTH_HTTP: '127.0.0.1:7000',
        PLINTH_SQLITE_SYNCHRONOUS: 'normal',
        PLINTH_ORIGINS: 'https://a.example,https://b.example',
      },
    );
    assert.equal(c.port, 9000);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.sqliteSynchronous, 'NORMAL');
    assert.deepEqual(c.origins, ['https://a.example', 'https://b.example']);
  });

  it('runs cheap SQLite reads on the event loop unless told not to, and refuses anything but on or off', () => {
    assert.equal(loadConfig({}, {}).sqliteInlineReads, true);
    assert.equal(loadConfig({}, { PLINTH_SQLITE_INLINE_READS: '0' }).sqliteInlineReads, false);
    assert.equal(loadConfig({ sqliteInlineReads: 'false' } as never, {}).sqliteInlineReads, false);
    assert.throws(
      () => loadConfig({}, { PLINTH_SQLITE_INLINE_READS: 'sometimes' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.includes('sqliteInlineReads must be true or false (1 or 0)'),
    );
  });

  it('lists every problem at once', () => {
    try {
      loadConfig({ http: 'x', sqliteSynchronous: 'OFF', bodyLimit: 'big', db: 'oracle://x' }, {});
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems.length, 4);
    }
  });

  it('reads fetchAllowPrivate as IP addresses and CIDR ranges, and refuses anything else', () => {
    const c = loadConfig({}, { PLINTH_FETCH_ALLOW_PRIVATE: '10.0.0.0/8, 127.0.0.1,fd00::/8' });
    assert.deepEqual(c.fetchAllowPrivate, ['10.0.0.0/8', '127.0.0.1', 'fd00::/8']);
    assert.deepEqual(loadConfig({}, {}).fetchAllowPrivate, []);
    for (const bad of ['10.0.0.0/33', 'intranet.local', '10.0.0.0/8/1', 'fd00::/129'])
      assert.match(
        problemsOf(() => loadConfig({ fetchAllowPrivate: bad }, {}))[0] as string,
        /fetchAllowPrivate must list/,
        bad,
      );
  });

  it('refuses a config file key it does not know, naming it (and the key meant, when it can tell)', () => {
    const problems = problemsOf(() => loadFile('{"queryTimeOut": 1000, "port": 80, "dir": "x"}'));
    assert.equal(problems.length, 2);
    assert.match(problems[0] as string, /unknown key "queryTimeOut".*did you mean "queryTimeout"\?/);
    assert.match(problems[1] as string, /unknown key "port"/);
  });

  it('refuses a config file that is not a JSON object', () => {
    for (const text of ['[]', 'null', '"x"', '42'])
      assert.match(problemsOf(() => loadFile(text))[0] as string, /must hold a JSON object/);
  });

  it('keeps metrics off by default, and refuses a short token, a bad range, or either with metrics off', () => {
    const off = loadConfig({}, {});
    assert.deepEqual([off.metrics, off.metricsToken, off.metricsAllow], [false, '', []]);
    const on = loadConfig(
      {},
      {
        PLINTH_METRICS: 'true',
        PLINTH_METRICS_TOKEN: 'a'.repeat(16),
        PLINTH_METRICS_ALLOW: '10.0.0.0/8, ::1',
      },
    );
    assert.deepEqual(
      [on.metrics, on.metricsToken, on.metricsAllow],
      [true, 'a'.repeat(16), ['10.0.0.0/8', '::1']],
    );
    assert.equal(loadConfig({ metrics: '1' }, {}).metrics, true);
    const secret = 'short-secret';
    const problems = problemsOf(() =>
      loadConfig({ metrics: 'yes', metricsToken: secret, metricsAllow: '10.0.0.0/33,intranet' }, {}),
    );
    assert.deepEqual(problems, [
      'metrics must be true or false',
      'metricsToken must be at least 16 characters',
      'metricsAllow must list IP addresses or CIDR ranges, got 10.0.0.0/33',
      'metricsAllow must list IP addresses or CIDR ranges, got intranet',
      'metricsToken and metricsAllow need metrics: true (PLINTH_METRICS=true)',
    ]);
    assert.ok(!problems.join().includes(secret), 'the token is never echoed');
    assert.match(
      problemsOf(() => loadConfig({ metricsAllow: '127.0.0.1' }, {}))[0] as string,
      /need metrics: true/,
    );
  });

  it('takes every key the docs list, and the docs list every key it takes', () => {
    const doc = readFileSync(join(import.meta.dirname, '../../docs/getting-started.md'), 'utf8');
    const admission = readFileSync(join(import.meta.dirname, '../../docs/operations.md'), 'utf8');
    const realtime = readFileSync(join(import.meta.dirname, '../../docs/realtime.md'), 'utf8');
    const migrations = readFileSync(join(import.meta.dirname, '../../docs/migrations.md'), 'utf8');
    // The first column of the settings tables: | `key` | ...
    const documented = new Set(
      [
        ...doc.matchAll(/^\| `(\w+)`\s+\| (?:`--|—)/gm),
        ...admission.matchAll(/^\| `(max\w+|queue\w+|metrics\w*)`\s+\|/gm),
        ...realtime.matchAll(/^\| `(realtime\w+)`\s+\|/gm),
        ...migrations.matchAll(/^\| `(migrationsDir|automigrate)`\s+\|/gm),
      ].map((m) => m[1] as string),
    );
    assert.deepEqual([...documented].sort(), [...CONFIG_FILE_KEYS].sort());
    const file = Object.fromEntries([...documented].map((k) => [k, undefined]));
    assert.doesNotThrow(() => loadFile(JSON.stringify({ ...file, http: '127.0.0.1:9000', maxInFlight: 4 })));
  });
});
