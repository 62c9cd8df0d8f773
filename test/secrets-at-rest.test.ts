import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type App, createApp } from '../src/app.ts';
import { loadConfig } from '../src/config/index.ts';
import { createSecretBox } from '../src/lib/index.ts';
import { createLogger } from '../src/log/index.ts';
import { readParamText } from '../src/schema/index.ts';
import { createTestDatabase, type TestDatabase } from './helpers/databases.ts';
import { type SmtpCapture, startSmtp } from './helpers/smtp.ts';

/**
 * Secrets Plinth stores in the database — the SMTP password, OAuth2 client secrets, the token signing
 * keys — are encrypted with a key kept outside it, and one-time codes are HMACs under that key: a copy
 * of the database alone gives none of them back. API answers never carry them. Values stored in
 * plaintext by an earlier version are encrypted at the next start; a new key re-encrypts everything.
 */
const SMTP_SECRET = 'smtp-secret-1234';
const OAUTH_SECRET = 'oauth-secret-5678';
const ROOT = { email: 'root@example.com', password: 'root-password-1' };
const MARK = 'plinthenc:v1:';

describe('secrets at rest', () => {
  let app: App;
  let database: TestDatabase;
  let dataDir: string;
  let smtp: SmtpCapture;
  let token: string;

  async function boot(flags: Record<string, unknown> = {}): Promise<App> {
    await app?.close();
    const config = loadConfig(
      { dir: dataDir, logLevel: 'silent', db: database.url, maxEventLoopDelayMs: 0, ...flags },
      {},
    );
    app = await createApp(config, createLogger('silent'));
    return app;
  }

  async function api(method: string, url: string, body?: unknown) {
    const res = await app.server.inject({
      method: method as 'GET',
      url,
      headers: token ? { authorization: token } : {},
      ...(body === undefined ? {} : { payload: body as object }),
    });
    return { status: res.statusCode, text: res.body, body: res.body ? res.json() : undefined };
  }

  const row = async (sql: string, params: unknown[] = []) =>
    (await app.db.run<Record<string, unknown>>(app.db.kysely, sql, params))[0];
  const collectionOptions = async (name: string) => {
    const q = app.db.dialect.quote;
    return String(
      (await row(`SELECT ${q('options')} FROM ${q('_collections')} WHERE ${q('name')} = ?`, [name]))!.options,
    );
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'plinth-secrets-'));
    database = await createTestDatabase();
    smtp = await startSmtp();
    await boot();
    await app.auth.upsertSuperuser(ROOT.email, ROOT.password);
    const res = await api('POST', '/api/collections/_superusers/auth-with-password', {
      identity: ROOT.email,
      password: ROOT.password,
    });
    token = res.body.token;
  });
  after(async () => {
    await app.close();
    await smtp.close();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stores the SMTP password encrypted, uses it, and never returns it', async () => {
    const patch = await api('PATCH', '/api/settings', {
      smtp: { enabled: true, host: smtp.host, port: smtp.port, username: 'mailer', password: SMTP_SECRET },
    });
    assert.equal(patch.status, 200, patch.text);
    const read = await api('GET', '/api/settings');
    for (const res of [patch, read]) {
      assert.ok(!res.text.includes(SMTP_SECRET));
      assert.equal('password' in res.body.smtp, false);
    }
    const stored = (await readParamText(app.db, 'settings'))!;
    assert.ok(!stored.includes(SMTP_SECRET));
    assert.match(JSON.parse(stored).smtp.password, /^plinthenc:v1:/);
    assert.equal(app.settings.get().smtp.password, SMTP_SECRET);
    const sent = await api('POST', '/api/settings/test/email', { email: 'to@example.com', template: 'otp' });
    assert.equal(sent.status, 204, sent.text);
    assert.equal(smtp.lastAuthUser, 'mailer');
  });

  it('stores OAuth2 client secrets encrypted, never returns them, and keeps them when saved without', async () => {
    const provider = { name: 'github', clientId: 'client-1', clientSecret: OAUTH_SECRET };
    const created = await api('POST', '/api/collections', {
      name: 'members',
      type: 'auth',
      oauth2: { enabled: true, providers: [provider] },
    });
    assert.equal(created.status, 200, created.text);
    const cached = () =>
      (app.collections.get('members').options.oauth2 as { providers: (typeof provider)[] }).providers[0]!;
    for (const res of [
      created,
      await api('GET', '/api/collections/members'),
      await api('GET', '/api/collections'),
    ]) {
      assert.ok(!res.text.includes(OAUTH_SECRET));
      assert.ok(!res.text.includes('clientSecret'));
    }
    assert.ok(!(await collectionOptions('members')).includes(OAUTH_SECRET));
    assert.ok((await collectionOptions('members')).includes(MARK));
    assert.equal(cached().clientSecret, OAUTH_SECRET);

    // A client saves back what it read (no secret): the stored one stays.
    const read = (await api('GET', '/api/collections/members')).body;
    read.oauth2.providers[0].clientId = 'client-2';
    assert.equal((await api('PATCH', '/api/collections/members', { oauth2: read.oauth2 })).status, 200);
    assert.deepEqual([cached().clientId, cached().clientSecret], ['client-2', OAUTH_SECRET]);
    const imported = await api('PUT', '/api/collections/import', { collections: [read] });
    assert.equal(imported.status, 204, imported.text);
    assert.equal(cached().clientSecret, OAUTH_SECRET);
    // A new secret replaces it.
    read.oauth2.providers[0].clientSecret = 'another-secret';
    await api('PATCH', '/api/collections/members', { oauth2: read.oauth2 });
    assert.equal(cached().clientSecret, 'another-secret');
    read.oauth2.providers[0].clientSecret = OAUTH_SECRET;
    await api('PATCH', '/api/collections/members', { oauth2: read.oauth2 });
  });

  it('stores the token signing keys encrypted', async () => {
    const stored = JSON.parse((await readParamText(app.db, 'signingKeys'))!) as {
      keys: { jwk: { d: string } }[];
    };
    assert.ok(stored.keys.length > 0);
    for (const k of stored.keys) assert.ok(k.jwk.d.startsWith(MARK));
    assert.equal((await api('GET', '/api/collections')).status, 200, 'tokens still verify');
  });

  it('stores one-time codes so that the row alone does not give the code back', async () => {
    await api('PATCH', '/api/collections/users', { otp: { enabled: true, length: 4 } });
    const email = 'otp-user@example.com';
    await api('POST', '/api/collections/users/records', {
      email,
      password: 'pw-123456789',
      passwordConfirm: 'pw-123456789',
    });
    const { otpId } = (await api('POST', '/api/collections/users/request-otp', { email })).body;
    const code = /\b(\d{4})\b/.exec((await smtp.waitFor({ to: email })).html)![1]!;
    const q = app.db.dialect.quote;
    const stored = String((await row(`SELECT * FROM ${q('_otps')} WHERE ${q('id')} = ?`, [otpId]))!.password);
    assert.ok(!stored.includes(code));
    const digest = stored.replace(/^hmac:v2:/, '');
    // Every code, under every keyless way to derive it from what the row holds: none matches.
    for (let n = 0; n < 10_000; n++) {
      const guess = String(n).padStart(4, '0');
      for (const candidate of [
        createHash('sha256').update(guess).digest('hex'),
        createHash('sha256').update(`${otpId}:${guess}`).digest('hex'),
        createHmac('sha256', otpId).update(guess).digest('hex'),
        createHmac('sha256', guess).update(otpId).digest('hex'),
      ])
        assert.notEqual(candidate, digest, `code ${guess} recovered from the row`);
    }
    // With the key kept outside the database, it is the code's HMAC; and the code signs in.
    const box = createSecretBox(fileKey());
    assert.equal(digest, box.mac('otp', `${otpId}:${code}`));
    token = '';
    const signedIn = await api('POST', '/api/collections/users/auth-with-otp', { otpId, password: code });
    assert.equal(signedIn.status, 200, signedIn.text);
    token = (
      await api('POST', '/api/collections/_superusers/auth-with-password', {
        identity: ROOT.email,
        password: ROOT.password,
      })
    ).body.token;
  });

  /** The key in the data dir's key file. */
  const fileKey = () => readFileSync(join(dataDir, 'encryption.key'), 'utf8').trim();

  /** Every stored secret, as stored. */
  async function storedSecrets(): Promise<string[]> {
    const settings = JSON.parse((await readParamText(app.db, 'settings'))!);
    const members = JSON.parse(await collectionOptions('members'));
    const keys = JSON.parse((await readParamText(app.db, 'signingKeys'))!) as {
      keys: { jwk: { d: string } }[];
    };
    return [
      settings.smtp.password,
      members.oauth2.providers[0].clientSecret,
      ...keys.keys.map((k) => k.jwk.d),
    ];
  }

  /** The stored secrets open to their values through the running app, and the superuser's token works. */
  async function assertSecretsWork(): Promise<void> {
    assert.equal(app.settings.get().smtp.password, SMTP_SECRET);
    const members = app.collections.get('members').options.oauth2 as {
      providers: { clientSecret: string }[];
    };
    assert.equal(members.providers[0]!.clientSecret, OAUTH_SECRET);
    assert.equal((await api('GET', '/api/collections')).status, 200, 'tokens signed before still verify');
  }

  it('encrypts secrets an earlier version stored in plaintext at the next start', async () => {
    const box = createSecretBox(fileKey());
    const q = app.db.dialect.quote;
    // biome-ignore lint/suspicious/noExplicitAny: stored JSON, edited in place.
    const plain = async (id: string, fn: (value: Record<string, any>) => void) => {
      const value = JSON.parse((await readParamText(app.db, id))!);
      fn(value);
      await app.db.run(app.db.kysely, `UPDATE ${q('_params')} SET ${q('value')} = ? WHERE ${q('id')} = ?`, [
        JSON.stringify(value),
        id,
      ]);
    };
    await plain('settings', (v) => {
      v.smtp.password = SMTP_SECRET;
    });
    await plain('signingKeys', (v) => {
      for (const k of v.keys) k.jwk.d = box.open(k.jwk.d, 'signingKey');
    });
    const options = JSON.parse(await collectionOptions('members'));
    options.oauth2.providers[0].clientSecret = OAUTH_SECRET;
    await app.db.run(
      app.db.kysely,
      `UPDATE ${q('_collections')} SET ${q('options')} = ? WHERE ${q('name')} = ?`,
      [JSON.stringify(options), 'members'],
    );
    assert.ok((await storedSecrets()).every((s) => !s.startsWith(MARK)));
    await boot();
    for (const s of await storedSecrets()) assert.ok(s.startsWith(`${MARK}${box.keyId}:`), s);
    await assertSecretsWork();
  });

  it('re-encrypts everything when a key is configured, and needs the key that encrypted it', async () => {
    const configured = 'configured-key-'.padEnd(48, 'x');
    const next = createSecretBox(configured);
    await boot({ encryptionKey: configured });
    for (const s of await storedSecrets()) assert.ok(s.startsWith(`${MARK}${next.keyId}:`), s);
    await assertSecretsWork();
    // The key file is no longer needed.
    unlinkSync(join(dataDir, 'encryption.key'));
    await boot({ encryptionKey: configured });
    await assertSecretsWork();
    // Another key cannot open them: the start fails and says why, changing nothing.
    await app.close();
    const wrong = loadConfig(
      { dir: dataDir, logLevel: 'silent', db: database.url, encryptionKey: 'w'.repeat(32) },
      {},
    );
    await assert.rejects(createApp(wrong, createLogger('silent')), /not configured/);
    // Rotation: the new key with the old one given as an old key.
    const rotated = 'rotated-key-'.padEnd(40, 'y');
    await boot({ encryptionKey: rotated, oldEncryptionKeys: [configured] });
    for (const s of await storedSecrets())
      assert.ok(s.startsWith(`${MARK}${createSecretBox(rotated).keyId}:`), s);
    await assertSecretsWork();
  });

  it('refuses a key shorter than 32 characters at start', () => {
    assert.throws(() => loadConfig({ encryptionKey: 'short' }, {}), /encryptionKey must be at least 32/);
    assert.throws(
      () => loadConfig({}, { PLINTH_OLD_ENCRYPTION_KEYS: `${'o'.repeat(32)},short` }),
      /oldEncryptionKeys/,
    );
  });
});
