import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type App, createApp } from '../src/app.ts';
import { AUTO_PREFIX, cronMatches, runScheduled } from '../src/backups/index.ts';
import { createLogger } from '../src/log/index.ts';
import { startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';

// Scheduled backups (`backups.cron`, `backups.cronMaxKeep`): the cron expression read in UTC, one node of
// several on one database running each scheduled backup, and retention that removes only scheduled ones.

describe('the backup cron expression', () => {
  const at = (iso: string) => new Date(`${iso}Z`);
  it('matches the minutes it names, in UTC', () => {
    assert.equal(cronMatches('0 3 * * *', at('2024-05-06T03:00')), true);
    assert.equal(cronMatches('0 3 * * *', at('2024-05-06T03:01')), false);
    assert.equal(cronMatches('*/15 * * * *', at('2024-05-06T10:45')), true);
    assert.equal(cronMatches('*/15 * * * *', at('2024-05-06T10:44')), false);
    assert.equal(cronMatches('5/20 * * * *', at('2024-05-06T10:25')), true);
    assert.equal(cronMatches('0 0 * * 1-5', at('2024-05-05T00:00')), false); // a Sunday
    assert.equal(cronMatches('0 0 * * 1-5', at('2024-05-06T00:00')), true);
    assert.equal(cronMatches('@daily', at('2024-05-06T00:00')), true);
    assert.equal(cronMatches('@hourly', at('2024-05-06T07:30')), false);
    assert.equal(cronMatches('30 2 1,15 * *', at('2024-05-15T02:30')), true);
    assert.equal(cronMatches('', at('2024-05-15T02:30')), false);
  });
});

describe(`scheduled backups on ${TEST_ENGINE}`, () => {
  let srv: TestServer;
  let other: App;
  before(async () => {
    srv = await startServer();
    // A second node on the same database (and, here, the same backups folder).
    other = await createApp(srv.app.config, createLogger('silent'));
  });
  after(async () => {
    await other?.close();
    await srv?.close();
  });
  const deps = (app: App) => ({
    db: app.db,
    backups: app.backups,
    settings: () => ({ cron: '* * * * *', cronMaxKeep: 2 }),
    log: createLogger('silent'),
  });

  it('runs each scheduled minute once across nodes, and keeps the newest cronMaxKeep', async () => {
    await srv.app.backups.create('manual.zip');
    const made: string[] = [];
    for (const minute of ['2030-01-01T00:00', '2030-01-01T00:01', '2030-01-01T00:02']) {
      const now = new Date(`${minute}:00Z`);
      // Side by side on the server engines. SQLite serves one node: two in one process would wait on each
      // other's write lock with the event loop blocked, so there the second node comes just after.
      const runs =
        TEST_ENGINE === 'sqlite'
          ? [await runScheduled(deps(srv.app), now), await runScheduled(deps(other), now)]
          : await Promise.all([runScheduled(deps(srv.app), now), runScheduled(deps(other), now)]);
      const keys = runs.filter(Boolean);
      assert.equal(keys.length, 1, `${minute}: ${JSON.stringify(runs)}`);
      made.push(keys[0]!);
      // The same minute again (a node whose clock lags): no second backup.
      assert.equal(await runScheduled(deps(other), now), undefined);
    }
    const keys = (await srv.app.backups.list()).map((b) => b.key).sort();
    assert.deepEqual(keys, [...made.slice(1), 'manual.zip'].sort());
    assert.ok(made.every((k) => k.startsWith(AUTO_PREFIX) && k.endsWith('.zip')));
  });
});
