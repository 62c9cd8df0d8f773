import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type App, createApp, mailBackupFailure } from '../src/app.ts';
import { AUTO_PREFIX, cronMatches, runScheduled } from '../src/backups/index.ts';
import { Metrics } from '../src/http/metrics.ts';
import { JobStats } from '../src/lib/index.ts';
import { createLogger } from '../src/log/index.ts';
import { startServer, TEST_ENGINE, type TestServer, useSmtp } from './helpers/server.ts';
import { startSmtp } from './helpers/smtp.ts';

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
  const deps = (app: App, jobs?: JobStats) => ({
    db: app.db,
    backups: app.backups,
    settings: () => ({ cron: '* * * * *', cronMaxKeep: 2 }),
    log: createLogger('silent'),
    jobs,
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

  it('counts its runs for /metrics, and mails every superuser when one fails, as PocketBase does', async () => {
    const smtp = await startSmtp();
    after(() => smtp.close());
    await useSmtp(srv, smtp, { meta: { appName: 'Backup Test' } });
    const second = await srv.request('POST', '/api/collections/_superusers/records', {
      token: srv.adminToken,
      body: { email: 'second@example.com', password: 'password-123', passwordConfirm: 'password-123' },
    });
    assert.equal(second.status, 200, JSON.stringify(second.body));
    const jobs = new JobStats();
    const alerting = (app: App) => ({
      ...deps(app, jobs),
      onFailure: mailBackupFailure(app.auth, createLogger('silent')),
    });
    assert.ok(await runScheduled(alerting(srv.app), new Date('2031-01-01T00:00:00Z')));
    assert.equal(smtp.mails.length, 0);
    // Backups kept on an S3 endpoint that refuses connections: the next one fails.
    const s3 = (enabled: boolean) =>
      srv.request('PATCH', '/api/settings', {
        token: srv.adminToken,
        body: {
          backups: {
            s3: {
              enabled,
              bucket: 'gone',
              region: 'us-east-1',
              endpoint: 'http://127.0.0.1:9',
              accessKey: 'key',
              secret: 'secret',
              forcePathStyle: true,
            },
          },
        },
      });
    assert.equal((await s3(true)).status, 200);
    try {
      await assert.rejects(runScheduled(alerting(srv.app), new Date('2031-01-01T00:01:00Z')));
    } finally {
      assert.equal((await s3(false)).status, 200);
    }
    const superusers = (await srv.app.db.kysely.selectFrom('_superusers').select('email').execute()).map(
      (r) => r.email as string,
    );
    assert.ok(superusers.length >= 2);
    for (const to of superusers) {
      const mail = await smtp.waitFor({ to, subject: 'scheduled backup failed' });
      assert.equal(mail.subject, 'Backup Test: scheduled backup failed');
      assert.match(mail.text + mail.html, /auto_plinth_backup_203101010001\.zip failed/);
    }
    assert.equal(smtp.mails.length, superusers.length);
    const metrics = new Metrics({
      engine: TEST_ENGINE,
      admission: () => ({ inFlight: 0, queued: 0, shed: {} }),
      realtime: () => ({ clients: 0, subscriptions: 0 }),
      jobs,
    });
    const text = await metrics.registry.metrics();
    assert.match(text, /^plinth_job_runs_total\{job="scheduled_backup",outcome="ok"\} 1$/m);
    assert.match(text, /^plinth_job_runs_total\{job="scheduled_backup",outcome="failed"\} 1$/m);
    const last = text.match(/^plinth_job_last_success_timestamp_seconds\{job="scheduled_backup"\} (\S+)$/m);
    assert.ok(last && Math.abs(Number(last[1]) - Date.now() / 1000) < 60, String(last));
    assert.match(text, /^plinth_job_last_duration_seconds\{job="scheduled_backup"\} \d/m);
  });
});
