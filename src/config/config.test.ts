import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('has PocketBase-like defaults with durable SQLite', () => {
    const c = loadConfig({}, {});
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 8090);
    assert.match(c.dataDir, /plinth_data$/);
    assert.equal(c.sqliteSynchronous, 'FULL');
    assert.deepEqual(c.origins, ['*']);
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

  it('lists every problem at once', () => {
    try {
      loadConfig({ http: 'x', sqliteSynchronous: 'OFF', bodyLimit: 'big', db: 'oracle://x' }, {});
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems.length, 4);
    }
  });
});
