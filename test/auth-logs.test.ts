import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import PocketBase from 'pocketbase';
import { type App, createApp } from '../src/app.ts';
import { loadConfig } from '../src/config/index.ts';
import { createLogger } from '../src/log/index.ts';
import { createTestDatabase, type TestDatabase } from './helpers/databases.ts';
import { type SmtpCapture, startSmtp } from './helpers/smtp.ts';

const USERS = '/api/collections/users';
/** Distinctive values: any of them found in the log is a leak. */
const CANARY = {
  superuserPassword: 'Canary-Superuser-Pass-5d1e',
  signupPassword: 'Canary-Signup-Pass-7f3a',
  wrongPassword: 'Canary-Wrong-Pass-90bc',
  throttledPassword: 'Canary-Throttled-Pass-e2f4',
  resetPassword: 'Canary-Reset-Pass-1c8d',
  changedPassword: 'Canary-Changed-Pass-44a0',
  mismatchedPassword: 'Canary-Mismatch-Pass-b7b7',
  badJsonPassword: 'Canary-BadJson-Pass-3f3f',
  smtpPassword: 'Canary-Smtp-Secret-a9e1',
  wrongOtp: 'Canary-Wrong-Otp-6060',
  forgedToken: 'Canary-Forged-Token-0d0d',
  failedSignupPassword: 'Canary-Failed-Signup-Pass-2b2b',
};

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies.
type Reply = { status: number; body: any; headers: Headers };

describe('no secrets in the logs', () => {
  const lines: string[] = [];
  /** Everything secret the flows below produce: tokens, codes, passwords. */
  const secrets = new Map<string, string>(Object.entries(CANARY));
  let app: App;
  let database: TestDatabase;
  let dir: string;
  let url: string;
  let smtp: SmtpCapture;
  let adminToken = '';

  /** Remembers a token and its signature part (the part that alone would let someone replay it). */
  const keepToken = (label: string, token: string) => {
    assert.equal(typeof token, 'string', label);
    assert.ok(token.length > 20, label);
    secrets.set(label, token);
    secrets.set(`${label} (signature)`, token.split('.')[2]!);
  };

  async function request(
    method: string,
    path: string,
    options: { body?: unknown; rawBody?: string; token?: string } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = options.token;
    let body = options.rawBody;
    if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(url + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'plinth-logs-'));
    database = await createTestDatabase();
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    // createLogger takes a destination stream: the production logger, redaction and all, into memory.
    const logger = createLogger('trace', sink);
    const config = loadConfig({ dir, http: '127.0.0.1:0', logLevel: 'trace', db: database.url }, {});
    app = await createApp(config, logger);
    // Rate limits are on by default; this test signs in far more often than one client would.
    await app.settings.update({ rateLimits: { enabled: false } });
    await app.auth.upsertSuperuser('root@example.com', CANARY.superuserPassword);
    await app.server.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    smtp = await startSmtp();
  });
  after(async () => {
    await app.close();
    await smtp.close();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs in a superuser and sets SMTP with a password', async () => {
    const login = await request('POST', '/api/collections/_superusers/auth-with-password', {
      body: { identity: 'root@example.com', password: CANARY.superuserPassword },
    });
    assert.equal(login.status, 200);
    adminToken = login.body.token;
    keepToken('superuser token', adminToken);
    const patch = await request('PATCH', '/api/settings', {
      token: adminToken,
      body: {
        meta: { appURL: url },
        smtp: {
          enabled: true,
          host: smtp.host,
          port: smtp.port,
          username: 'mailer',
          password: CANARY.smtpPassword,
          authMethod: 'PLAIN',
        },
        authThrottle: { identityMax: 3, window: 60 },
      },
    });
    assert.equal(patch.status, 200, JSON.stringify(patch.body));
    assert.equal(patch.body.smtp.password, undefined);
    assert.ok(!JSON.stringify(patch.body).includes(CANARY.smtpPassword));
    const otp = await request('PATCH', '/api/collections/users', {
      token: adminToken,
      body: { otp: { enabled: true } },
    });
    assert.equal(otp.status, 200);
  });

  it('never returns the SMTP password from GET /api/settings, and keeps it when a patch leaves it empty', async () => {
    const get = await request('GET', '/api/settings', { token: adminToken });
    assert.equal(get.status, 200);
    assert.equal(get.body.smtp.username, 'mailer');
    assert.ok(!('password' in get.body.smtp), JSON.stringify(get.body.smtp));
    assert.ok(!JSON.stringify(get.body).includes(CANARY.smtpPassword));
    const again = await request('PATCH', '/api/settings', {
      token: adminToken,
      body: { smtp: { ...get.body.smtp, password: '' } },
    });
    assert.equal(again.status, 200);
    assert.ok(!JSON.stringify(again.body).includes(CANARY.smtpPassword));
    assert.equal(app.settings.get().smtp.password, CANARY.smtpPassword, 'the stored password is kept');
    // The SDK's settings call sees no password either.
    const pb = new PocketBase(url);
    pb.authStore.save(adminToken, null);
    const viaSdk = await pb.settings.getAll();
    assert.ok(!JSON.stringify(viaSdk).includes(CANARY.smtpPassword));
  });

  it('signs up, signs in, fails to sign in, refreshes and changes the password', async () => {
    const signup = await request('POST', `${USERS}/records`, {
      body: {
        email: 'ann@example.com',
        password: CANARY.signupPassword,
        passwordConfirm: CANARY.signupPassword,
      },
    });
    assert.equal(signup.status, 200, JSON.stringify(signup.body));
    const mismatch = await request('POST', `${USERS}/records`, {
      body: {
        email: 'bad@example.com',
        password: CANARY.mismatchedPassword,
        passwordConfirm: 'other-value-1',
      },
    });
    assert.equal(mismatch.status, 400);
    const login = await request('POST', `${USERS}/auth-with-password`, {
      body: { identity: 'ann@example.com', password: CANARY.signupPassword },
    });
    assert.equal(login.status, 200);
    keepToken('login token', login.body.token);
    const wrong = await request('POST', `${USERS}/auth-with-password`, {
      body: { identity: 'ann@example.com', password: CANARY.wrongPassword },
    });
    assert.equal(wrong.status, 400);
    const refresh = await request('POST', `${USERS}/auth-refresh`, { token: login.body.token });
    assert.equal(refresh.status, 200);
    keepToken('refreshed token', refresh.body.token);
    const change = await request('PATCH', `${USERS}/records/${signup.body.id}`, {
      token: refresh.body.token,
      body: {
        oldPassword: CANARY.signupPassword,
        password: CANARY.changedPassword,
        passwordConfirm: CANARY.changedPassword,
      },
    });
    assert.equal(change.status, 200, JSON.stringify(change.body));
    const badOld = await request('PATCH', `${USERS}/records/${signup.body.id}`, {
      token: refresh.body.token,
      body: { oldPassword: CANARY.wrongPassword, password: 'whatever-123', passwordConfirm: 'whatever-123' },
    });
    assert.equal(badOld.status, 400);
  });

  it('resets a password and verifies an email through the mailed links', async () => {
    smtp.clear();
    const reset = await request('POST', `${USERS}/request-password-reset`, {
      body: { email: 'ann@example.com' },
    });
    assert.equal(reset.status, 204);
    const mail = await smtp.waitFor({ to: 'ann@example.com', subject: 'Reset' });
    assert.equal(smtp.lastAuthUser, 'mailer', 'the mailer signed in to SMTP with the configured account');
    const resetToken = /confirm-password-reset\/([\w.-]+)/.exec(mail.html)?.[1];
    assert.ok(resetToken);
    keepToken('reset token', resetToken);
    const confirm = await request('POST', `${USERS}/confirm-password-reset`, {
      body: { token: resetToken, password: CANARY.resetPassword, passwordConfirm: CANARY.resetPassword },
    });
    assert.equal(confirm.status, 204, JSON.stringify(confirm.body));
    const reused = await request('POST', `${USERS}/confirm-password-reset`, {
      body: { token: resetToken, password: CANARY.resetPassword, passwordConfirm: CANARY.resetPassword },
    });
    assert.equal(reused.status, 400);

    await request('POST', `${USERS}/records`, {
      body: { email: 'bob@example.com', password: 'bob-password-1', passwordConfirm: 'bob-password-1' },
    });
    const verify = await request('POST', `${USERS}/request-verification`, {
      body: { email: 'bob@example.com' },
    });
    assert.equal(verify.status, 204);
    const verifyMail = await smtp.waitFor({ to: 'bob@example.com', subject: 'Verify' });
    const verifyToken = /confirm-verification\/([\w.-]+)/.exec(verifyMail.html)?.[1];
    assert.ok(verifyToken);
    keepToken('verification token', verifyToken);
    assert.equal(
      (await request('POST', `${USERS}/confirm-verification`, { body: { token: verifyToken } })).status,
      204,
    );
  });

  it('changes an email through the mailed link', async () => {
    const login = await request('POST', `${USERS}/auth-with-password`, {
      body: { identity: 'ann@example.com', password: CANARY.resetPassword },
    });
    assert.equal(login.status, 200);
    keepToken('token before email change', login.body.token);
    const ask = await request('POST', `${USERS}/request-email-change`, {
      token: login.body.token,
      body: { newEmail: 'ann.new@example.com' },
    });
    assert.equal(ask.status, 204, JSON.stringify(ask.body));
    const mail = await smtp.waitFor({ to: 'ann.new@example.com' });
    const token = /confirm-email-change\/([\w.-]+)/.exec(mail.html)?.[1];
    assert.ok(token, mail.html);
    keepToken('email-change token', token);
    const wrong = await request('POST', `${USERS}/confirm-email-change`, {
      body: { token, password: CANARY.wrongPassword },
    });
    assert.equal(wrong.status, 400);
    const ok = await request('POST', `${USERS}/confirm-email-change`, {
      body: { token, password: CANARY.resetPassword },
    });
    assert.equal(ok.status, 204, JSON.stringify(ok.body));
  });

  it('signs in with an OTP, after a wrong code', async () => {
    const ask = await request('POST', `${USERS}/request-otp`, { body: { email: 'bob@example.com' } });
    assert.equal(ask.status, 200);
    const mail = await smtp.waitFor({ to: 'bob@example.com', subject: 'OTP' });
    const code = /<strong>(\d+)<\/strong>/.exec(mail.html)?.[1];
    assert.ok(code);
    secrets.set('OTP code', code);
    const wrong = await request('POST', `${USERS}/auth-with-otp`, {
      body: { otpId: ask.body.otpId, password: CANARY.wrongOtp },
    });
    assert.equal(wrong.status, 400);
    const ok = await request('POST', `${USERS}/auth-with-otp`, {
      body: { otpId: ask.body.otpId, password: code },
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    keepToken('OTP token', ok.body.token);
  });

  it('answers bad requests: 400, 401, 403, 404 and 429', async () => {
    const user = secrets.get('OTP token')!;
    // 400: malformed JSON that carries a password.
    const badJson = await request('POST', `${USERS}/auth-with-password`, {
      rawBody: `{"identity":"ann.new@example.com","password":"${CANARY.badJsonPassword}"`,
    });
    assert.equal(badJson.status, 400);
    // 401: a forged and a revoked token.
    const forged = await request('POST', `${USERS}/auth-refresh`, { token: `Bearer ${CANARY.forgedToken}` });
    assert.equal(forged.status, 401);
    const gone = secrets.get('login token')!;
    assert.equal((await request('POST', `${USERS}/auth-refresh`, { token: gone })).status, 401);
    // 403: a user where a superuser is needed.
    assert.equal((await request('GET', '/api/settings', { token: user })).status, 403);
    // 404.
    assert.equal((await request('GET', `${USERS}/records/nope`, { token: user })).status, 404);
    // 429: the identity limit is 3, and the canary password keeps trying.
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push(
        (
          await request('POST', `${USERS}/auth-with-password`, {
            body: { identity: 'bob@example.com', password: CANARY.throttledPassword },
          })
        ).status,
      );
    assert.deepEqual(statuses, [400, 400, 400, 429, 429]);
    // Impersonation and its token.
    const bobId = (await request('POST', `${USERS}/auth-refresh`, { token: user })).body.record.id;
    const imp = await request('POST', `${USERS}/impersonate/${bobId}`, { token: adminToken, body: {} });
    assert.equal(imp.status, 200);
    keepToken('impersonation token', imp.body.token);
    // Logging out.
    assert.equal(
      (await request('POST', `${USERS}/auth-logout`, { token: user, body: { scope: 'all' } })).status,
      204,
    );
  });

  it('answers a 500 (a table gone from under a collection) without logging the caller’s token', async () => {
    const created = await request('POST', '/api/collections', {
      token: adminToken,
      body: { name: 'probe', type: 'base', listRule: '', fields: [{ name: 'title', type: 'text' }] },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const q = app.db.dialect.quote;
    await app.db.run(app.db.kysely, `DROP TABLE ${q('probe')}`, []);
    const res = await request('GET', '/api/collections/probe/records', { token: adminToken });
    assert.equal(res.status, 500);
    assert.ok(!JSON.stringify(res.body).includes('probe'), 'the 500 body says nothing about the cause');
    assert.ok(
      lines.some((line) => line.includes('"level":50')),
      'the cause was logged at error level',
    );
    // A sign-up whose INSERT fails: the statement carries the new password's hash and token key.
    const members = await request('POST', '/api/collections', {
      token: adminToken,
      body: { name: 'members', type: 'auth', createRule: '' },
    });
    assert.equal(members.status, 200, JSON.stringify(members.body));
    await app.db.run(app.db.kysely, `DROP TABLE ${q('members')}`, []);
    const signup = await request('POST', '/api/collections/members/records', {
      body: {
        email: 'member@example.com',
        password: CANARY.failedSignupPassword,
        passwordConfirm: CANARY.failedSignupPassword,
      },
    });
    assert.equal(signup.status, 500);
  });

  it('leaves no password, token, code or SMTP secret anywhere in the captured log', async () => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const text = lines.join('');
    // The log is not empty: every request above wrote a line.
    const requestLines = lines
      .join('')
      .split('\n')
      .filter((l) => l.includes('"msg":"request"'));
    assert.ok(requestLines.length >= 30, `only ${requestLines.length} request lines`);
    // Stored secrets too: password hashes and token keys.
    const c = app.collections.get('users');
    for (const email of ['ann.new@example.com', 'bob@example.com']) {
      const record = await app.records.findBy(c, 'email', email, true);
      assert.ok(record);
      secrets.set(`${email} password hash`, String(record.password));
      secrets.set(`${email} tokenKey`, String(record.tokenKey));
    }
    const leaks = [...secrets].filter(([, value]) => value.length >= 6 && text.includes(value));
    assert.deepEqual(
      leaks.map(([label]) => label),
      [],
      `secrets found in the log:\n${leaks
        .map(([label, value]) => {
          const line = text.split('\n').find((l) => l.includes(value)) ?? '';
          return `${label}: ${line.slice(0, 400)}`;
        })
        .join('\n')}`,
    );
    // Secrets the test cannot list in advance (the hash of a password whose record was never stored).
    for (const [label, pattern] of [
      ['a password hash', /\$argon2/],
      ['an Authorization header value', /"authorization"\s*:\s*"(?!\[redacted\])/i],
    ] as const) {
      const line = text.split('\n').find((l) => pattern.test(l));
      assert.equal(line, undefined, `${label} in the log: ${line?.slice(0, 600)}`);
    }
  });
});
