import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeJwt } from 'jose';
import { assertApiError, sdkError } from './helpers/assertions.ts';
import { startServer, type TestServer, useSmtp } from './helpers/server.ts';
import { type CapturedMail, type SmtpCapture, startSmtp } from './helpers/smtp.ts';

/**
 * One-time passwords, multi-factor sign-in and impersonation, end to end: the official SDK (or raw HTTP
 * for hostile input) against a real Plinth that mails the codes through real SMTP.
 *
 * Collections: `users` (OTP on, no MFA), `members` (OTP on, a template naming the otpId), `guarded`
 * (OTP and MFA on) and `plain` (PocketBase's defaults: OTP off).
 */

const APP_NAME = 'Acme OTP';
const PASSWORD = 'first-password-1';
const OTP_ID = /^[a-z0-9]{15}$/;

let server: TestServer;
let smtp: SmtpCapture;
let counter = 0;

const uniqueEmail = (tag: string) =>
  `${tag}-${++counter}-${Math.random().toString(36).slice(2, 8)}@example.com`;

const base = (collection: string) => `/api/collections/${collection}`;

async function createUser(collection: string, email: string, extra: Record<string, unknown> = {}) {
  const record = await server.admin
    .collection(collection)
    .create({ email, password: PASSWORD, passwordConfirm: PASSWORD, ...extra });
  return String(record.id);
}

/**
 * Waits for a mail and removes it from the capture, so the next wait for the same address and subject
 * (a second code for the same record) finds the next mail rather than this one again.
 */
async function takeMail(to: string, subject: string): Promise<CapturedMail> {
  const mail = await smtp.waitFor({ to, subject });
  smtp.mails.splice(smtp.mails.indexOf(mail), 1);
  return mail;
}

/** The code of the OTP mail to `to` whose subject contains `subject`. */
async function mailedCode(to: string, subject = `OTP for ${APP_NAME}`): Promise<string> {
  const mail = await takeMail(to, subject);
  const code = /<strong>(\d+)<\/strong>/.exec(mail.html)?.[1];
  assert.ok(code, mail.html);
  return code;
}

/** Asks for an OTP through the SDK and reads its code from the mail. */
async function otpFor(collection: string, email: string): Promise<{ otpId: string; code: string }> {
  const { otpId } = await server.client().collection(collection).requestOTP(email);
  return { otpId, code: await mailedCode(email) };
}

const wrongCode = (code: string) => code.replace(/\d$/, (d) => String((Number(d) + 1) % 10));

const refreshStatus = async (collection: string, token: string) =>
  (await server.request('POST', `${base(collection)}/auth-refresh`, { token })).status;

/** The `_sessions` rows of a record, as a superuser sees them. */
const sessionsOf = (recordId: string) =>
  server.admin
    .collection('_sessions')
    .getFullList({ filter: server.admin.filter('recordRef = {:id}', { id: recordId }), sort: 'created' });

before(async () => {
  [server, smtp] = await Promise.all([startServer(), startSmtp()]);
  await useSmtp(server, smtp, { meta: { appName: APP_NAME }, authThrottle: { ipMax: 1_000_000 } });
  await server.admin.collections.update('users', { otp: { enabled: true } });
  await server.admin.collections.create({
    name: 'members',
    type: 'auth',
    fields: [],
    otp: {
      enabled: true,
      emailTemplate: { subject: 'Member code {OTP_ID}', body: '<p>Code <strong>{OTP}</strong></p>' },
    },
  });
  await server.admin.collections.create({
    name: 'guarded',
    type: 'auth',
    fields: [],
    listRule: 'id = @request.auth.id',
    viewRule: 'id = @request.auth.id',
    otp: { enabled: true },
    mfa: { enabled: true },
  });
  await server.admin.collections.create({ name: 'plain', type: 'auth', fields: [] });
});

after(async () => {
  await Promise.all([server?.close(), smtp?.close()]);
});

describe('one-time passwords', () => {
  it('refuses both steps when the collection has OTP turned off', async () => {
    const email = uniqueEmail('plain');
    await createUser('plain', email);
    // 403, as PocketBase answers a switched-off method (record_auth_otp_request_test "auth collection with disabled otp").
    const err = await sdkError(server.client().collection('plain').requestOTP(email), 403);
    assert.equal(typeof err.response.message, 'string');
    const auth = await server.request('POST', `${base('plain')}/auth-with-otp`, {
      body: { otpId: 'a'.repeat(15), password: '12345678' },
    });
    assertApiError(auth, 'auth-with-otp on plain', 403);
    const methods = await server.client().collection('plain').listAuthMethods();
    assert.equal(methods.otp.enabled, false);
    assert.equal((await server.client().collection('users').listAuthMethods()).otp.enabled, true);
  });

  it('signs in with the mailed code, verifies the address, and takes each code once', async () => {
    const email = uniqueEmail('otp');
    const id = await createUser('users', email);
    const pb = server.client();
    const { otpId } = await pb.collection('users').requestOTP(email);
    assert.match(otpId, OTP_ID);
    const mail = await takeMail(email, 'OTP');
    assert.deepEqual(mail.to, [email]);
    assert.equal(mail.subject, `OTP for ${APP_NAME}`);
    const code = /<strong>(\d+)<\/strong>/.exec(mail.html)?.[1] ?? '';
    assert.match(code, /^\d{8}$/);

    const wrong = await sdkError(pb.collection('users').authWithOTP(otpId, wrongCode(code)), 400);
    assert.ok(wrong.response.data, JSON.stringify(wrong.response));
    const auth = await pb.collection('users').authWithOTP(otpId, code);
    assert.equal(auth.record.id, id);
    assert.equal(auth.record.verified, true);
    assert.equal(pb.authStore.record?.id, id);
    assert.equal(decodeJwt(auth.token).type, 'auth');
    assert.equal((await server.admin.collection('users').getOne(id)).verified, true);
    assert.equal(await refreshStatus('users', auth.token), 200);
    const sessions = await sessionsOf(id);
    assert.deepEqual(
      sessions.map((s) => s.method),
      ['otp'],
    );

    await sdkError(server.client().collection('users').authWithOTP(otpId, code), 400);
  });

  it('answers an unknown address with an otpId of the same shape and mails nothing', async () => {
    const known = uniqueEmail('known');
    const unknown = uniqueEmail('unknown');
    await createUser('users', known);
    const forKnown = await server.client().collection('users').requestOTP(known);
    const forUnknown = await server.client().collection('users').requestOTP(unknown);
    assert.deepEqual(Object.keys(forUnknown), Object.keys(forKnown));
    assert.match(forUnknown.otpId, OTP_ID);
    assert.match(forKnown.otpId, OTP_ID);
    await mailedCode(known);
    await sleep(1000);
    assert.equal(smtp.mails.filter((m) => m.to.includes(unknown)).length, 0);
    // The fake id leads nowhere.
    const res = await server.request('POST', `${base('users')}/auth-with-otp`, {
      body: { otpId: forUnknown.otpId, password: '00000000' },
    });
    assertApiError(res, 'fake otpId', 400);
  });

  it('after five wrong codes refuses even the right one with 429 and Retry-After', async () => {
    const email = uniqueEmail('guessed');
    await createUser('users', email);
    const { otpId, code } = await otpFor('users', email);
    for (let i = 0; i < 5; i++) {
      const res = await server.request('POST', `${base('users')}/auth-with-otp`, {
        body: { otpId, password: wrongCode(code) },
      });
      assertApiError(res, `wrong code ${i + 1}`, 400);
    }
    const right = await server.request('POST', `${base('users')}/auth-with-otp`, {
      body: { otpId, password: code },
    });
    assertApiError(right, 'right code after five wrong ones', 429);
    const retry = Number(right.headers.get('retry-after'));
    assert.ok(Number.isInteger(retry) && retry > 0, String(right.headers.get('retry-after')));
    const viaSdk = await sdkError(server.client().collection('users').authWithOTP(otpId, code), 429);
    assert.equal(viaSdk.response.status, 429);
  });

  it('refuses an expired code', async () => {
    await server.admin.collections.update('users', { otp: { duration: 1 } });
    try {
      const email = uniqueEmail('slow');
      const id = await createUser('users', email);
      const { otpId, code } = await otpFor('users', email);
      await sleep(1500);
      await sdkError(server.client().collection('users').authWithOTP(otpId, code), 400);
      assert.equal((await server.admin.collection('users').getOne(id)).verified, false);
    } finally {
      await server.admin.collections.update('users', { otp: { duration: 180 } });
    }
  });

  it('refuses an otpId of another collection without using it up', async () => {
    const email = uniqueEmail('member');
    await createUser('users', email);
    const memberId = await createUser('members', email);
    const { otpId } = await server.client().collection('members').requestOTP(email);
    const code = await mailedCode(email, `Member code ${otpId}`);

    await sdkError(server.client().collection('users').authWithOTP(otpId, code), 400);
    const auth = await server.client().collection('members').authWithOTP(otpId, code);
    assert.equal(auth.record.id, memberId);
  });
});

describe('multi-factor sign-in', () => {
  it('asks for a second method after the password and signs in with the OTP and the mfaId', async () => {
    const email = uniqueEmail('mfa');
    const id = await createUser('guarded', email);
    const pb = server.client();
    const first = await sdkError(pb.collection('guarded').authWithPassword(email, PASSWORD), 401);
    const mfaId = first.response.mfaId;
    assert.equal(typeof mfaId, 'string');
    assert.ok(mfaId.length > 0);
    assert.equal(first.response.status, 401);
    assert.deepEqual(first.response.data, {});
    assert.equal(pb.authStore.token, '', 'no token after one factor');
    assert.deepEqual(await sessionsOf(id), [], 'no session after one factor');

    const { otpId, code } = await otpFor('guarded', email);
    const auth = await pb.collection('guarded').authWithOTP(otpId, code, { mfaId });
    assert.equal(auth.record.id, id);
    assert.equal(pb.authStore.record?.id, id);
    assert.equal(await refreshStatus('guarded', auth.token), 200);
    assert.equal((await pb.collection('guarded').getOne(id)).id, id);

    // The MFA session is spent.
    const again = await otpFor('guarded', email);
    await sdkError(
      server.client().collection('guarded').authWithOTP(again.otpId, again.code, { mfaId }),
      400,
    );
  });

  it('takes the OTP first and the password second, with mfaId in the query or the body', async () => {
    const email = uniqueEmail('otp-first');
    const id = await createUser('guarded', email);
    const pb = server.client();
    const first = await otpFor('guarded', email);
    const err = await sdkError(pb.collection('guarded').authWithOTP(first.otpId, first.code), 401);
    const auth = await pb
      .collection('guarded')
      .authWithPassword(email, PASSWORD, { mfaId: err.response.mfaId });
    assert.equal(auth.record.id, id);

    const second = await otpFor('guarded', email);
    const step = await server.request('POST', `${base('guarded')}/auth-with-otp`, {
      body: { otpId: second.otpId, password: second.code },
    });
    assert.equal(step.status, 401);
    assert.equal(typeof step.body.mfaId, 'string');
    const done = await server.request('POST', `${base('guarded')}/auth-with-password`, {
      body: { identity: email, password: PASSWORD, mfaId: step.body.mfaId },
    });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.record.id, id);
  });

  it('refuses the same method twice, but keeps the MFA session for another method', async () => {
    const email = uniqueEmail('twice');
    await createUser('guarded', email);
    const pb = server.client();
    const { mfaId } = (await sdkError(pb.collection('guarded').authWithPassword(email, PASSWORD), 401))
      .response;
    const same = await sdkError(pb.collection('guarded').authWithPassword(email, PASSWORD, { mfaId }), 400);
    assert.ok(same.response.data?.mfaId, JSON.stringify(same.response));
    assert.equal(pb.authStore.token, '');
    const { otpId, code } = await otpFor('guarded', email);
    await pb.collection('guarded').authWithOTP(otpId, code, { mfaId });
    assert.ok(pb.authStore.token);
  });

  it("refuses another record's mfaId and an unknown one", async () => {
    const alice = uniqueEmail('alice');
    const bob = uniqueEmail('bob');
    await createUser('guarded', alice);
    await createUser('guarded', bob);
    const { mfaId } = (
      await sdkError(server.client().collection('guarded').authWithPassword(alice, PASSWORD), 401)
    ).response;
    const { otpId, code } = await otpFor('guarded', bob);
    const err = await sdkError(
      server.client().collection('guarded').authWithOTP(otpId, code, { mfaId }),
      400,
    );
    assert.ok(err.response.data?.mfaId, JSON.stringify(err.response));
    for (const bogus of ['a'.repeat(15), 'x'.repeat(101), "' OR 1=1 --"]) {
      const res = await server.request(
        'POST',
        `${base('guarded')}/auth-with-password?mfaId=${encodeURIComponent(bogus)}`,
        { body: { identity: bob, password: PASSWORD } },
      );
      assertApiError(res, `mfaId ${bogus.slice(0, 20)}`, 400);
    }
  });

  it('refuses an expired mfaId', async () => {
    await server.admin.collections.update('guarded', { mfa: { duration: 1 } });
    try {
      const email = uniqueEmail('late');
      const id = await createUser('guarded', email);
      const { mfaId } = (
        await sdkError(server.client().collection('guarded').authWithPassword(email, PASSWORD), 401)
      ).response;
      const { otpId, code } = await otpFor('guarded', email);
      await sleep(1500);
      await sdkError(server.client().collection('guarded').authWithOTP(otpId, code, { mfaId }), 400);
      assert.deepEqual(await sessionsOf(id), []);
    } finally {
      await server.admin.collections.update('guarded', { mfa: { duration: 1800 } });
    }
  });

  it('leaves sign-in unchanged where MFA is off, ignoring a stray mfaId', async () => {
    const email = uniqueEmail('single');
    const id = await createUser('users', email);
    const pb = server.client();
    const auth = await pb.collection('users').authWithPassword(email, PASSWORD);
    assert.equal(auth.record.id, id);
    const withStray = await pb
      .collection('users')
      .authWithPassword(email, PASSWORD, { mfaId: 'a'.repeat(15) });
    assert.equal(withStray.record.id, id);
    const { otpId, code } = await otpFor('users', email);
    assert.equal((await pb.collection('users').authWithOTP(otpId, code)).record.id, id);
    const methods = await pb.collection('users').listAuthMethods();
    assert.equal(methods.mfa.enabled, false);
    assert.equal((await pb.collection('guarded').listAuthMethods()).mfa.enabled, true);
  });
});

describe('impersonation', () => {
  it('gives a superuser a token that acts as the record but cannot be refreshed', async () => {
    const email = uniqueEmail('puppet');
    const id = await createUser('users', email);
    await createUser('users', uniqueEmail('bystander'));
    const before = Math.floor(Date.now() / 1000);
    const as = await server.admin.collection('users').impersonate(id, 3600);
    assert.equal(as.authStore.record?.id, id);
    const claims = decodeJwt(as.authStore.token);
    assert.equal(claims.refreshable, false);
    assert.equal(claims.id, id);
    assert.ok(Number(claims.exp) >= before + 3590 && Number(claims.exp) <= before + 3610, String(claims.exp));

    assert.equal((await as.collection('users').getOne(id)).email, email);
    const list = await as.collection('users').getFullList();
    assert.deepEqual(
      list.map((r) => r.id),
      [id],
      'owner rules apply: only the record itself',
    );
    const refresh = await sdkError(as.collection('users').authRefresh(), 403);
    assert.equal(refresh.response.status, 403);
    const admin = await server.request('GET', '/api/collections', { token: as.authStore.token });
    assert.equal(admin.status, 403, 'no superuser powers through the impersonated token');

    const sessions = await sessionsOf(id);
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0]!.method, 'impersonate');
    assert.equal(sessions[0]!.impersonatedBy, server.admin.authStore.record?.id);
  });

  it('takes the default duration when none is given', async () => {
    const id = await createUser('users', uniqueEmail('default'));
    for (const body of [undefined, {}, { duration: 0 }]) {
      const res = await server.request('POST', `${base('users')}/impersonate/${id}`, {
        token: server.adminToken,
        body,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const claims = decodeJwt(res.body.token);
      assert.ok(Number(claims.exp) - Number(claims.iat) > 3600);
    }
  });

  it('is for superusers only, and for records that exist', async () => {
    const email = uniqueEmail('victim');
    const id = await createUser('users', email);
    const otherEmail = uniqueEmail('would-be');
    await createUser('users', otherEmail);
    const user = server.client();
    await user.collection('users').authWithPassword(otherEmail, PASSWORD);
    await sdkError(user.collection('users').impersonate(id, 60), 403);
    const self = user.authStore.record?.id ?? '';
    await sdkError(user.collection('users').impersonate(self, 60), 403);
    const guest = await server.request('POST', `${base('users')}/impersonate/${id}`, { body: {} });
    assertApiError(guest, 'guest', 401);
    const missing = await server.request('POST', `${base('users')}/impersonate/nosuchrecord123`, {
      token: server.adminToken,
      body: {},
    });
    assertApiError(missing, 'unknown id', 404);
    assert.deepEqual(await sessionsOf(id), []);
  });

  it('refuses a duration that is negative, not a whole number, or absurdly long', async () => {
    const id = await createUser('users', uniqueEmail('durations'));
    for (const duration of [-1, '3600', 1.5, 10 ** 12, 1e308, true, [60], { s: 60 }, 'x'.repeat(10_000)]) {
      const res = await server.request('POST', `${base('users')}/impersonate/${id}`, {
        token: server.adminToken,
        body: { duration },
      });
      assertApiError(res, `duration ${JSON.stringify(duration).slice(0, 30)}`, 400);
      // Out of range: a field error; not a whole number: PocketBase cannot load the body (empty data).
      if (typeof duration === 'number' && Number.isInteger(duration))
        assert.ok(res.body.data.duration, JSON.stringify(res.body));
      else assert.deepEqual(res.body.data, {}, JSON.stringify(res.body));
    }
    assert.deepEqual(await sessionsOf(id), []);
  });
});

describe('hostile input to OTP, MFA and impersonation', () => {
  const HUGE = 'x'.repeat(10_000);
  const NON_OBJECTS = ['[]', '[{"email":"a@example.com"}]', '"a@example.com"', 'null', '42', 'true', '{', ''];

  function fieldBodies(fields: string[], valid: Record<string, unknown> = {}): string[] {
    const out: string[] = ['{}'];
    for (const field of fields) {
      for (const value of [
        123,
        true,
        null,
        [],
        ['a'],
        { $ne: null },
        '',
        HUGE,
        `${HUGE}@example.com`,
        '\u0000',
        'a\u0000b',
      ])
        out.push(JSON.stringify({ ...valid, [field]: value }));
      out.push(`{"__proto__":{"${field}":"proto"}}`);
      out.push(`{"constructor":{"prototype":{"${field}":"proto"}}}`);
    }
    return out;
  }

  /** Sends every body and returns the answers that are not a 4xx PocketBase error (all are tried). */
  async function hammer(
    path: string,
    bodies: string[],
    token?: string,
    otherTypes = true,
  ): Promise<string[]> {
    const wrong: string[] = [];
    const attempts: [string, string][] = bodies.map((rawBody) => ['application/json', rawBody]);
    if (otherTypes)
      attempts.push(
        ['text/plain', '{"email":"a@example.com"}'],
        ['application/x-www-form-urlencoded', 'email=a%40example.com'],
      );
    for (const [type, rawBody] of attempts) {
      const res = await server.request('POST', path, { rawBody, token, headers: { 'content-type': type } });
      try {
        assertApiError(res, '');
      } catch {
        const body = JSON.stringify(res.body) ?? '';
        wrong.push(
          `${path} ${type} ${JSON.stringify(rawBody.slice(0, 60))} -> ${res.status} ${body.slice(0, 100)}`,
        );
      }
    }
    return wrong;
  }

  it('answers malformed OTP and MFA requests with a 4xx error body, never a 500', async () => {
    const email = uniqueEmail('hostile');
    await createUser('guarded', email);
    const { mfaId } = (
      await sdkError(server.client().collection('guarded').authWithPassword(email, PASSWORD), 401)
    ).response;
    const wrong = [
      ...(await hammer(`${base('users')}/request-otp`, [...NON_OBJECTS, ...fieldBodies(['email'])])),
      ...(await hammer(`${base('users')}/auth-with-otp`, [
        ...NON_OBJECTS,
        ...fieldBodies(['otpId', 'password'], { otpId: 'a'.repeat(15), password: '12345678' }),
      ])),
      ...(await hammer(`${base('guarded')}/auth-with-password`, [
        ...NON_OBJECTS,
        ...fieldBodies(['mfaId'], { identity: email, password: PASSWORD }),
      ])),
      ...(await hammer(`${base('guarded')}/auth-with-otp`, [
        ...fieldBodies(['mfaId'], { otpId: 'a'.repeat(15), password: '12345678' }),
      ])),
    ];
    // An mfaId in the query that is not a plain string.
    for (const query of [`mfaId=${'x'.repeat(10_000)}`, 'mfaId=a%00b', 'mfaId=1&mfaId=2', 'mfaId[a]=1']) {
      const res = await server.request('POST', `${base('guarded')}/auth-with-password?${query}`, {
        body: { identity: email, password: PASSWORD },
      });
      if (res.status === 401 && typeof res.body?.mfaId === 'string') continue; // ignored: a new first step
      try {
        assertApiError(res, '');
      } catch {
        wrong.push(`?${query.slice(0, 40)} -> ${res.status} ${JSON.stringify(res.body)}`);
      }
    }
    assert.deepEqual(wrong, []);
    assert.equal(({} as Record<string, unknown>).email, undefined, 'Object.prototype untouched');
    assert.equal(({} as Record<string, unknown>).mfaId, undefined, 'Object.prototype untouched');
    // The MFA session survived the noise.
    const { otpId, code } = await otpFor('guarded', email);
    await server.client().collection('guarded').authWithOTP(otpId, code, { mfaId });
  });

  it('refuses an address with a NUL byte or another control character at request-otp', async () => {
    const wrong: string[] = [];
    for (const email of [uniqueEmail('nul').replace('@', '\u0000@'), 'bell\u0007@example.com']) {
      const res = await server.request('POST', `${base('users')}/request-otp`, { body: { email } });
      if (res.status !== 400 || !res.body?.data?.email)
        wrong.push(`${JSON.stringify(email)} -> ${res.status} ${JSON.stringify(res.body)}`);
    }
    assert.deepEqual(wrong, []);
  });

  it('answers malformed impersonation requests with a 4xx error body, never a 500', async () => {
    const id = await createUser('users', uniqueEmail('hostile-imp'));
    // `{}` and `{"duration": null}` ask for the default duration; 123 seconds is a fine duration.
    const valid = new Set(['{}', '{"duration":null}', '{"duration":123}']);
    const wrong = await hammer(
      `${base('users')}/impersonate/${id}`,
      fieldBodies(['duration']).filter((b) => !valid.has(b)),
      server.adminToken,
      false,
    );
    for (const path of [
      `${base('users')}/impersonate/${'x'.repeat(10_000)}`,
      `${base('users')}/impersonate/a%00b`,
      `${base('users')}/impersonate/%2e%2e%2f_superusers`,
      `${base('nope')}/impersonate/${id}`,
      `${base('_sessions')}/impersonate/${id}`,
    ]) {
      const res = await server.request('POST', path, { token: server.adminToken, body: {} });
      try {
        assertApiError(res, '');
      } catch {
        wrong.push(`${path.slice(0, 80)} -> ${res.status} ${JSON.stringify(res.body)}`);
      }
    }
    assert.deepEqual(wrong, []);
    assert.deepEqual(await sessionsOf(id), []);
  });

  it('refuses an impersonation body that is not a JSON object', async () => {
    const id = await createUser('users', uniqueEmail('non-object'));
    // No body and `null` ask for the default duration, as in PocketBase; other non-objects are mistakes.
    const wrong = await hammer(
      `${base('users')}/impersonate/${id}`,
      NON_OBJECTS.filter((b) => b !== '' && b !== 'null'),
      server.adminToken,
    );
    assert.deepEqual(wrong, []);
    assert.deepEqual(await sessionsOf(id), []);
  });
});

describe('anti-enumeration of request-otp', () => {
  it('answers known and unknown addresses alike: status, headers and the shape of the body', async () => {
    const known = uniqueEmail('known-otp');
    await createUser('users', known);
    const answers = [];
    for (const email of [known, uniqueEmail('unknown-otp'), known, uniqueEmail('unknown-otp')]) {
      const res = await fetch(`${server.url}${base('users')}/request-otp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email }),
      });
      const text = await res.text();
      answers.push({
        status: res.status,
        type: res.headers.get('content-type'),
        length: res.headers.get('content-length'),
        shape: text.replace(/"otpId":"[a-z0-9]{15}"/, '"otpId":"<id>"'),
      });
    }
    for (const answer of answers) assert.deepEqual(answer, answers[0]);
    assert.equal(answers[0]!.status, 200);
    assert.equal(answers[0]!.shape, '{"otpId":"<id>"}');
  });
});
