// Conformance with PocketBase for the settings, health and "feature not built yet" routes, by route. Each
// case names the PocketBase behaviour it checks: a case of its API tests (apis/settings_test.go,
// apis/health_test.go, core/settings_model_test.go) or the source that decides it (core/settings_model.go,
// apis/health.go, apis/batch.go, apis/backup.go, apis/logs.go, apis/cron.go). Where Plinth differs on
// purpose (unknown keys are refused), the case says so.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readParamText } from '../src/schema/index.ts';
import { startServer, type TestServer } from './helpers/server.ts';

// biome-ignore lint/suspicious/noExplicitAny: settings bodies are JSON, checked key by key.
type Json = Record<string, any>;

let server: TestServer;
let userToken: string;
const servers: TestServer[] = [];

before(async () => {
  server = await startServer();
  servers.push(server);
  const pb = server.client();
  await pb
    .collection('users')
    .create({ email: 'ann@example.com', password: 'ann-password', passwordConfirm: 'ann-password' });
  userToken = (await pb.collection('users').authWithPassword('ann@example.com', 'ann-password')).token;
});
after(async () => {
  for (const s of servers) await s.close();
});

const asAdmin = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
  server.request(method, path, {
    token: server.adminToken,
    ...(body === undefined ? {} : { body }),
    headers,
  });
const patch = (body: unknown) => asAdmin('PATCH', '/api/settings', body);
const current = async () => (await asAdmin('GET', '/api/settings')).body;

const SECTIONS = [
  'superuserIPs',
  'meta',
  'logs',
  'smtp',
  's3',
  'backups',
  'batch',
  'rateLimits',
  'trustedProxy',
];

describe('GET /api/settings', () => {
  it('answers a guest 401 and a regular user 403 with data {}', async () => {
    // apis/settings_test.go TestSettingsList: "unauthorized" (401), "authorized as regular user" (403).
    const guest = await server.request('GET', '/api/settings');
    assert.equal(guest.status, 401);
    assert.deepEqual(guest.body.data, {});
    const user = await server.request('GET', '/api/settings', { token: userToken });
    assert.equal(user.status, 403);
    assert.deepEqual(user.body.data, {});
  });

  it('returns every PocketBase section with its defaults, and no secrets', async () => {
    // TestSettingsList "authorized as superuser" expects meta, logs, smtp, s3, backups, batch; the other
    // sections and the defaults are core/settings_model.go newDefaultSettings.
    const s = (await server.admin.settings.getAll()) as Json;
    for (const section of SECTIONS) assert.ok(section in s, section);
    assert.deepEqual(s.superuserIPs, []);
    assert.equal(s.meta.hideControls, false);
    assert.equal(s.meta.accentColor, '#1055c9');
    assert.deepEqual(s.logs, { maxDays: 5, minLevel: 0, logIP: true, logAuthId: false });
    assert.deepEqual(s.batch, { enabled: false, maxRequests: 50, timeout: 3, maxBodySize: 0 });
    assert.equal(s.backups.cron, '');
    assert.equal(s.backups.cronMaxKeep, 3);
    assert.deepEqual(s.trustedProxy, { headers: [], useLeftmostIP: false });
    const s3 = { enabled: false, bucket: '', region: '', endpoint: '', accessKey: '', forcePathStyle: false };
    assert.deepEqual(s.s3, s3);
    assert.deepEqual(s.backups.s3, s3);
    // Settings.MarshalJSON: smtp.password, s3.secret and backups.s3.secret are left out.
    assert.ok(!('password' in s.smtp));
  });
});

describe('PATCH /api/settings', () => {
  const validData = {
    meta: { appName: 'update_test' },
    smtp: { password: 'new_smtp_password' },
    s3: { secret: 'new_s3_secret' },
    backups: { s3: { secret: 'new_backups_s3_secret' } },
  };

  it('answers a guest 401 and a regular user 403, and changes nothing', async () => {
    // TestSettingsSet "unauthorized" and "authorized as regular user".
    const guest = await server.request('PATCH', '/api/settings', { body: validData });
    assert.equal(guest.status, 401);
    assert.deepEqual(guest.body.data, {});
    const user = await server.request('PATCH', '/api/settings', { token: userToken, body: validData });
    assert.equal(user.status, 403);
    assert.deepEqual(user.body.data, {});
    assert.notEqual((await current()).meta.appName, 'update_test');
  });

  it('takes an empty body or {} as no change and returns the settings', async () => {
    // TestSettingsSet "authorized as superuser submitting empty data": 200 with every section.
    const before = await current();
    const none = await asAdmin('PATCH', '/api/settings');
    assert.equal(none.status, 200, JSON.stringify(none.body));
    assert.deepEqual(none.body, before);
    const empty = await patch({});
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.body, before);
  });

  it('refuses a blank app name with validation_required', async () => {
    // TestSettingsSet "submitting invalid data": `"meta":{"appName":{"code":"validation_required"`.
    const res = await patch({ meta: { appName: '' } });
    assert.equal(res.status, 400);
    assert.equal(res.body.data.meta.appName.code, 'validation_required');
    assert.equal(res.body.message, 'An error occurred while saving the new settings.');
  });

  it('stores the three secrets, encrypted, and never returns them', async () => {
    // TestSettingsSet "submitting valid data": secrets persisted, no "secret"/"password" in the answer.
    const res = await patch(validData);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.meta.appName, 'update_test');
    const text = JSON.stringify(res.body);
    assert.ok(!text.includes('secret') && !text.includes('password'), text);
    assert.ok(!JSON.stringify(await current()).includes('new_'));
    const live = server.app.settings.get();
    assert.equal(live.smtp.password, 'new_smtp_password');
    assert.equal(live.s3.secret, 'new_s3_secret');
    assert.equal(live.backups.s3.secret, 'new_backups_s3_secret');
    // Stored encrypted like the SMTP password (core/settings_model.go DBExport encrypts the whole row).
    const stored = String(await readParamText(server.app.db, 'settings'));
    assert.ok(!stored.includes('new_s3_secret') && !stored.includes('new_backups_s3_secret'), stored);
    await server.app.settings.reload();
    assert.equal(server.app.settings.get().backups.s3.secret, 'new_backups_s3_secret');
  });

  it('keeps the stored secrets when a client echoes the GET answer or sends them empty', async () => {
    // Plinth: GET leaves the secrets out, so a form built from it sends them back empty or not at all.
    const echoed = await patch(await current());
    assert.equal(echoed.status, 200, JSON.stringify(echoed.body));
    const blank = await patch({
      smtp: { password: '' },
      s3: { secret: '' },
      backups: { s3: { secret: '' } },
    });
    assert.equal(blank.status, 200);
    const live = server.app.settings.get();
    assert.equal(live.smtp.password, 'new_smtp_password');
    assert.equal(live.s3.secret, 'new_s3_secret');
    assert.equal(live.backups.s3.secret, 'new_backups_s3_secret');
  });

  it('stores and returns every section faithfully (SDK), across a reload from the database', async () => {
    // core/settings_model.go: every section of `settings` is stored and serialized as sent.
    const changes = {
      superuserIPs: [],
      meta: { hideControls: true, accentColor: '#ff8800', appURL: 'https://example.com' },
      logs: { maxDays: 0, minLevel: -4, logIP: false, logAuthId: true },
      batch: { enabled: true, maxRequests: 10, timeout: 5, maxBodySize: 1024 },
      backups: { cron: '0 3 * * *', cronMaxKeep: 7 },
      s3: {
        enabled: false,
        bucket: 'b',
        region: 'r',
        endpoint: 'https://s3.example.com',
        forcePathStyle: true,
      },
      trustedProxy: { headers: ['X-Real-IP'], useLeftmostIP: true },
    };
    const updated = (await server.admin.settings.update(changes)) as Json;
    await server.app.settings.reload();
    const read = (await server.admin.settings.getAll()) as Json;
    for (const s of [updated, read]) {
      assert.equal(s.meta.hideControls, true);
      assert.equal(s.meta.accentColor, '#ff8800');
      assert.deepEqual(s.logs, changes.logs);
      assert.deepEqual(s.batch, changes.batch);
      assert.equal(s.backups.cron, '0 3 * * *');
      assert.equal(s.backups.cronMaxKeep, 7);
      assert.equal(s.s3.bucket, 'b');
      assert.equal(s.s3.forcePathStyle, true);
      assert.deepEqual(s.trustedProxy, changes.trustedProxy);
      assert.equal(s.meta.appName, 'update_test', 'keys not sent are kept');
    }
  });

  it('refuses an unknown section or key, at any depth, naming it, and stores nothing', async () => {
    // Plinth on purpose: PocketBase's JSON binding drops unknown keys with a 200; here it is a 400.
    const before = await current();
    for (const [body, path] of [
      [{ nonsense: { a: 1 } }, ['nonsense']],
      [{ meta: { colour: 'red' } }, ['meta', 'colour']],
      [{ backups: { s3: { secretKey: 'x' } } }, ['backups', 's3', 'secretKey']],
      [{ meta: { appName: 'changed' }, smtpp: {} }, ['smtpp']],
      [{ rateLimits: { enabled: false, rule: [] } }, ['rateLimits', 'rule']],
    ] as const) {
      const res = await patch(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      let at = res.body.data;
      for (const key of path) at = at?.[key];
      assert.equal(at?.code, 'validation_unknown_field', JSON.stringify(res.body));
    }
    assert.deepEqual(await current(), before);
  });

  it('refuses wrong JSON types with a field error naming the key', async () => {
    // PocketBase's binding fails with an empty 400 for these; Plinth names the key.
    for (const [body, path] of [
      [{ meta: { appName: 5 } }, ['meta', 'appName']],
      [{ meta: { hideControls: 'yes' } }, ['meta', 'hideControls']],
      [{ smtp: { port: '587' } }, ['smtp', 'port']],
      [{ batch: { maxRequests: 1.5 } }, ['batch', 'maxRequests']],
      [{ trustedProxy: { headers: 'X-Real-IP' } }, ['trustedProxy', 'headers']],
      [{ trustedProxy: { headers: [1] } }, ['trustedProxy', 'headers', '0']],
      [{ superuserIPs: '127.0.0.1' }, ['superuserIPs']],
      [{ s3: [] }, ['s3']],
      [{ backups: { s3: 'off' } }, ['backups', 's3']],
      [{ meta: { appName: { a: { b: { c: [1, 2, { d: null }] } } } } }, ['meta', 'appName']],
    ] as const) {
      const res = await patch(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      let at = res.body.data;
      for (const key of path) at = at?.[key];
      assert.equal(
        at?.code,
        'validation_invalid_value',
        `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`,
      );
    }
    for (const body of [[], 'settings', 42]) {
      const res = await server.request('PATCH', '/api/settings', { token: server.adminToken, body });
      assert.equal(res.status, 400, JSON.stringify(body));
    }
  });

  it("answers PocketBase's validation codes for each section", async () => {
    // core/settings_model_test.go: TestMetaConfigValidate, TestLogsConfigValidate, TestSMTPConfigValidate,
    // TestS3ConfigValidate, TestBackupsConfigValidate, TestBatchConfigValidate ("invalid data" cases), and
    // TestSettingsValidate for superuserIPs.
    const cases: [unknown, string[], string][] = [
      [{ meta: { appURL: 'test' } }, ['meta', 'appURL'], 'validation_is_url'],
      [{ meta: { senderAddress: 'invalid_email' } }, ['meta', 'senderAddress'], 'validation_is_email'],
      [{ meta: { accentColor: '#fff' } }, ['meta', 'accentColor'], 'validation_length_invalid'],
      [{ meta: { accentColor: '#gggggg' } }, ['meta', 'accentColor'], 'validation_is_hex_color'],
      [{ meta: { appName: 'a'.repeat(300) } }, ['meta', 'appName'], 'validation_length_out_of_range'],
      [{ meta: { senderName: '' } }, ['meta', 'senderName'], 'validation_required'],
      [{ logs: { maxDays: -1 } }, ['logs', 'maxDays'], 'validation_min_greater_equal_than_required'],
      [{ smtp: { enabled: true, host: '' } }, ['smtp', 'host'], 'validation_required'],
      [{ smtp: { enabled: true, port: 0 } }, ['smtp', 'port'], 'validation_required'],
      [{ smtp: { host: 'test:test:test' } }, ['smtp', 'host'], 'validation_is_host'],
      [{ smtp: { localName: 'invalid!' } }, ['smtp', 'localName'], 'validation_is_host'],
      [{ s3: { enabled: true, bucket: '' } }, ['s3', 'bucket'], 'validation_required'],
      [{ s3: { endpoint: 'test:test:test' } }, ['s3', 'endpoint'], 'validation_is_url'],
      [{ backups: { s3: { enabled: true } } }, ['backups', 's3', 'region'], 'validation_required'],
      [{ backups: { cron: 'invalid' } }, ['backups', 'cron'], 'validation_invalid_cron'],
      [{ backups: { cron: '* * * * *', cronMaxKeep: 0 } }, ['backups', 'cronMaxKeep'], 'validation_required'],
      [{ backups: { cron: '61 * * * *' } }, ['backups', 'cron'], 'validation_invalid_cron'],
      [{ batch: { enabled: true, maxRequests: 0 } }, ['batch', 'maxRequests'], 'validation_required'],
      [{ batch: { timeout: -1 } }, ['batch', 'timeout'], 'validation_min_greater_equal_than_required'],
      [
        { batch: { maxBodySize: -1 } },
        ['batch', 'maxBodySize'],
        'validation_min_greater_equal_than_required',
      ],
      [{ superuserIPs: ['127.0.0.1', ''] }, ['superuserIPs', '1'], 'validation_required'],
      [{ superuserIPs: ['not-an-ip'] }, ['superuserIPs', '0'], 'validation_invlaid_ip_or_subnet'],
      [{ rateLimits: { enabled: true, rules: [] } }, ['rateLimits', 'rules'], 'validation_required'],
    ];
    const before = await current();
    for (const [body, path, code] of cases) {
      const res = await patch(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      let at = res.body.data;
      for (const key of path) at = at?.[key];
      assert.equal(at?.code, code, `${JSON.stringify(body)} → ${JSON.stringify(res.body.data)}`);
    }
    // S3 on with nothing set: every connection key is required (TestS3ConfigValidate "zero values (enabled)").
    const s3 = await patch({ s3: { enabled: true, bucket: '', region: '', endpoint: '', accessKey: '' } });
    assert.deepEqual(Object.keys(s3.body.data.s3).sort(), ['accessKey', 'bucket', 'endpoint', 'region']);
    assert.deepEqual(await current(), before, 'a refused patch changes nothing');
  });

  it('accepts what PocketBase accepts', async () => {
    // TestMetaConfigValidate, TestSMTPConfigValidate, TestS3ConfigValidate "valid data (hostname endpoint)",
    // TestBackupsConfigValidate "valid data", SMTP authMethod "" (falls back to PLAIN).
    for (const body of [
      { meta: { accentColor: '#ffffff', appURL: 'http://localhost:8090' } },
      { smtp: { authMethod: '', localName: 'example.com' } },
      { smtp: { authMethod: 'LOGIN' } },
      { s3: { endpoint: 'example.com' } },
      { backups: { cron: '*/10 * * * *', cronMaxKeep: 1 } },
      { backups: { cron: '@daily' } },
      { superuserIPs: [] },
      { trustedProxy: { headers: [] } },
    ]) {
      const res = await patch(body);
      assert.equal(res.status, 200, `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`);
    }
  });

  it('refuses huge values and bodies', async () => {
    // Plinth bounds: PocketBase has none for these keys; a settings row stays small.
    const huge = [
      { s3: { bucket: 'b'.repeat(100_000) } },
      { trustedProxy: { headers: Array.from({ length: 1000 }, (_, i) => `X-H-${i}`) } },
      { superuserIPs: Array.from({ length: 5000 }, () => '127.0.0.1') },
      { backups: { cronMaxKeep: 2 ** 60 } },
    ];
    for (const body of huge) {
      const res = await patch(body);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
    }
    const bomb = await patch({ meta: { appName: 'x'.repeat(3_000_000) } });
    assert.ok(bomb.status === 400 || bomb.status === 413, String(bomb.status));
  });

  it('refuses prototype keys', async () => {
    const res = await server.request('PATCH', '/api/settings', {
      token: server.adminToken,
      rawBody: '{"__proto__":{"meta":{"appName":"polluted"}}}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 400);
    assert.notEqual((await current()).meta.appName, 'polluted');
  });

  it('keeps rate limits in PocketBase shape', async () => {
    // core/settings_model.go RateLimitsConfig; test/rate-limits.test.ts covers the limiter itself.
    const rateLimits = {
      enabled: false,
      excludedIPs: ['10.0.0.0/8'],
      rules: [{ label: '/api/', audience: '@guest', duration: 10, maxRequests: 300 }],
    };
    const res = await patch({ rateLimits });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.rateLimits, rateLimits);
  });
});

describe('POST /api/settings/test/s3', () => {
  it("answers a guest 401, a user 403, then PocketBase's form errors and a failed test", async () => {
    // apis/settings_test.go TestSettingsTestS3: "unauthorized", "authorized as regular user",
    // "missing body + no s3" (filesystem error), "valid filesystem and no s3" (400, data {}).
    assert.equal((await server.request('POST', '/api/settings/test/s3')).status, 401);
    assert.equal((await server.request('POST', '/api/settings/test/s3', { token: userToken })).status, 403);
    const missing = await asAdmin('POST', '/api/settings/test/s3', {});
    assert.equal(missing.status, 400);
    assert.equal(missing.body.data.filesystem.code, 'validation_required');
    const invalid = await asAdmin('POST', '/api/settings/test/s3', { filesystem: 'invalid' });
    assert.equal(invalid.status, 400);
    assert.ok(invalid.body.data.filesystem);
    const storage = await asAdmin('POST', '/api/settings/test/s3', { filesystem: 'storage' });
    assert.equal(storage.status, 400);
    assert.deepEqual(storage.body.data, {});
  });
});

describe('GET /api/health', () => {
  it('answers guests and regular users with data {} only', async () => {
    // apis/health_test.go TestHealthAPI "GET health status (guest)" and "(regular user)".
    for (const token of [undefined, userToken]) {
      const res = await server.request('GET', '/api/health', token ? { token } : {});
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { code: 200, message: 'API is healthy.', data: {} });
    }
  });

  it('gives a superuser canBackup, realIP and possibleProxyHeader (SDK)', async () => {
    // TestHealthAPI "GET health status (superuser)"; canBackup is true: no backup or restore is running.
    const health = await server.admin.health.check();
    assert.equal(health.code, 200);
    assert.deepEqual(health.data, { canBackup: true, realIP: '127.0.0.1', possibleProxyHeader: '' });
  });

  it('names the first proxy-like header present: the configured ones, then the common ones', async () => {
    // apis/health.go: TrustedProxy.Headers, then CF-Connecting-IP, Fly-Client-IP, X-Forwarded-For.
    const check = async (headers: Record<string, string>) =>
      (await asAdmin('GET', '/api/health', undefined, headers)).body.data;
    const forwarded = await check({ 'x-forwarded-for': '203.0.113.9' });
    assert.equal(forwarded.possibleProxyHeader, 'X-Forwarded-For');
    assert.equal(forwarded.realIP, '127.0.0.1', 'a header from an unlisted peer is not believed');
    const both = await check({ 'x-forwarded-for': '203.0.113.9', 'fly-client-ip': '203.0.113.9' });
    assert.equal(both.possibleProxyHeader, 'Fly-Client-IP');
    assert.equal((await patch({ trustedProxy: { headers: ['X-Real-IP'] } })).status, 200);
    const configured = await check({ 'cf-connecting-ip': '203.0.113.9', 'x-real-ip': '203.0.113.9' });
    assert.equal(configured.possibleProxyHeader, 'X-Real-IP');
    assert.equal(configured.realIP, '127.0.0.1', 'trustedProxy settings do not decide the client IP');
    await patch({ trustedProxy: { headers: [] } });
  });

  it('shows the forwarded client as realIP when the boot config trusts the proxy', async () => {
    const proxied = await startServer({ flags: { trustProxy: '127.0.0.1' } });
    servers.push(proxied);
    const res = await proxied.request('GET', '/api/health', {
      token: proxied.adminToken,
      headers: { 'x-forwarded-for': '198.51.100.4' },
    });
    assert.equal(res.body.data.realIP, '198.51.100.4');
  });
});

describe('superuserIPs', () => {
  it('refuses a superuser outside the list on every route and at sign-in, as PocketBase does', async () => {
    // apis/middlewares.go superuserIPsWhitelist (403 on any route) and apis/record_helpers.go
    // recordAuthResponse (403 at superuser sign-in).
    const other = await startServer();
    servers.push(other);
    const pb = other.client();
    await pb
      .collection('users')
      .create({ email: 'bo@example.com', password: 'bo-password-1', passwordConfirm: 'bo-password-1' });
    const set = await other.request('PATCH', '/api/settings', {
      token: other.adminToken,
      body: { superuserIPs: ['10.0.0.0/8', '192.0.2.1'] },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.equal((await other.request('GET', '/api/settings', { token: other.adminToken })).status, 403);
    assert.equal((await other.request('GET', '/api/collections', { token: other.adminToken })).status, 403);
    const signIn = await other.request('POST', '/api/collections/_superusers/auth-with-password', {
      body: { identity: 'root@example.com', password: 'root-password-1' },
    });
    assert.equal(signIn.status, 403);
    // Other records are not concerned.
    const user = await other.request('POST', '/api/collections/users/auth-with-password', {
      body: { identity: 'bo@example.com', password: 'bo-password-1' },
    });
    assert.equal(user.status, 200);
    // Listing the caller's address lets the superuser back in.
    await other.app.settings.update({ superuserIPs: ['127.0.0.0/8'] });
    assert.equal((await other.request('GET', '/api/settings', { token: other.adminToken })).status, 200);
  });
});

describe('GET /api/plinth/features', () => {
  it('tells anyone which features this server has', async () => {
    const res = await server.request('GET', '/api/plinth/features');
    assert.equal(res.status, 200);
    const { features } = res.body;
    for (const name of ['collections', 'records', 'auth', 'settings', 'rateLimits'])
      assert.equal(features[name], true);
    for (const name of ['files', 'realtime', 'batch', 'backups', 'logs', 'crons', 'viewCollections', 'sql'])
      assert.equal(typeof features[name], 'boolean', name);
    assert.equal(features.viewCollections, true);
    assert.equal(features.realtime, true);
  });
});

describe('routes of features not built yet', () => {
  const missing = async (name: string) =>
    (await server.request('GET', '/api/plinth/features')).body.features[name] === false;

  it('POST /api/batch answers as PocketBase with batch off', async (t) => {
    // apis/batch.go batchTransaction: `!Batch.Enabled` → 403 "Batch requests are not allowed."
    if (!(await missing('batch'))) return t.skip('batch is served');
    const res = await server.request('POST', '/api/batch', { body: { requests: [] } });
    assert.equal(res.status, 403);
    assert.equal(res.body.message, 'Batch requests are not allowed.');
    const batch = server.admin.createBatch();
    batch.collection('users').create({ email: 'x@example.com' });
    await assert.rejects(batch.send(), (err: { status: number }) => err.status === 403);
  });

  it('logs: superusers only, empty, as PocketBase with no logs', async (t) => {
    // apis/logs.go: the group requires superuser auth; logsList/logsStats over an empty table.
    if (!(await missing('logs'))) return t.skip('logs are served');
    assert.equal((await server.request('GET', '/api/logs')).status, 401);
    assert.equal((await server.request('GET', '/api/logs', { token: userToken })).status, 403);
    const list = await server.admin.logs.getList(1, 20);
    assert.deepEqual(list.items, []);
    assert.equal(list.totalItems, 0);
    assert.deepEqual(await server.admin.logs.getStats(), []);
    assert.equal((await asAdmin('GET', '/api/logs/abc')).status, 404);
  });

  it('crons: superusers only, no jobs', async (t) => {
    // apis/cron.go: superuser group; cronRun on an unknown id → 404 "Missing or invalid cron job".
    if (!(await missing('crons'))) return t.skip('crons are served');
    assert.equal((await server.request('GET', '/api/crons')).status, 401);
    assert.deepEqual(await server.admin.crons.getFullList(), []);
    const run = await asAdmin('POST', '/api/crons/__pbLogsCleanup__');
    assert.equal(run.status, 404);
    assert.equal(run.body.message, 'Missing or invalid cron job.');
  });

  it('backups: superusers only, none stored, none can be made', async (t) => {
    // apis/backup.go: superuser routes; delete of a missing file → 400; download without a file token → 403.
    if (!(await missing('backups'))) return t.skip('backups are served');
    assert.equal((await server.request('GET', '/api/backups')).status, 401);
    assert.equal((await server.request('POST', '/api/backups', { token: userToken, body: {} })).status, 403);
    assert.deepEqual(await server.admin.backups.getFullList(), []);
    await assert.rejects(
      server.admin.backups.create('x.zip'),
      (err: { status: number }) => err.status === 400,
    );
    assert.equal((await asAdmin('DELETE', '/api/backups/x.zip')).status, 400);
    assert.equal((await server.request('GET', '/api/backups/x.zip')).status, 403);
  });

  it('files: the generic 404', async (t) => {
    // PocketBase's 404 for a missing file (apis/file.go download: NotFoundError).
    if (!(await missing('files'))) return t.skip('files are served');
    for (const path of ['/api/files/users/abc/a.png']) {
      const res = await server.request('GET', path);
      assert.equal(res.status, 404, path);
      assert.deepEqual(res.body, { status: 404, message: "The requested resource wasn't found.", data: {} });
    }
  });
});
