import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeJwt } from 'jose';
import { assertApiError, sdkError } from './helpers/assertions.ts';
import { startServer, type TestServer, useSmtp } from './helpers/server.ts';
import { type CapturedMail, linkIn, type SmtpCapture, startSmtp } from './helpers/smtp.ts';

/**
 * Verification, password reset, email change and sign-in alerts, end to end: the official SDK (or raw
 * HTTP for hostile input) against a real Plinth, which mails through real SMTP; every token and link
 * comes out of a received mail.
 */

const APP_NAME = 'Acme & Co';
const PASSWORD = 'first-password-1';
const NEW_PASSWORD = 'second-password-2';

let server: TestServer;
let smtp: SmtpCapture;
let counter = 0;

/** A fresh address per scenario, so mails never mix. */
const uniqueEmail = (tag: string) =>
  `${tag}-${++counter}-${Math.random().toString(36).slice(2, 8)}@example.com`;

const base = (collection = 'users') => `/api/collections/${collection}`;

async function createUser(email: string, extra: Record<string, unknown> = {}, collection = 'users') {
  const record = await server.admin
    .collection(collection)
    .create({ email, password: PASSWORD, passwordConfirm: PASSWORD, ...extra });
  return String(record.id);
}

async function signIn(email: string, password = PASSWORD, collection = 'users') {
  const pb = server.client();
  await pb.collection(collection).authWithPassword(email, password);
  return pb;
}

const refreshStatus = async (token: string, collection = 'users') =>
  (await server.request('POST', `${base(collection)}/auth-refresh`, { token })).status;

/** The token at the end of the mailed `/_/#/auth/{route}/{TOKEN}` link. */
function tokenIn(mail: CapturedMail, route: string): string {
  const link = linkIn(mail, new RegExp(`/_/#/auth/${route}/`));
  assert.ok(link.startsWith(`${server.url}/_/#/auth/${route}/`), link);
  return link.slice(link.lastIndexOf('/') + 1);
}

/** Asserts that nothing reaches any of the addresses within `ms` (mails go out after the answer). */
async function assertNoMail(to: string[], ms = 1000): Promise<void> {
  await sleep(ms);
  const wanted = to.map((t) => t.toLowerCase());
  const got = smtp.mails.filter((m) => m.to.some((t) => wanted.includes(t.toLowerCase())));
  assert.deepEqual(
    got.map((m) => `${m.to.join(',')}: ${m.subject}`),
    [],
  );
}

const mailsTo = (to: string) =>
  smtp.mails.filter((m) => m.to.some((t) => t.toLowerCase() === to.toLowerCase()));

before(async () => {
  [server, smtp] = await Promise.all([startServer(), startSmtp()]);
  // Every request here comes from 127.0.0.1: the per-IP budget must not end the suite early.
  await useSmtp(server, smtp, { meta: { appName: APP_NAME }, authThrottle: { ipMax: 1_000_000 } });
  await server.admin.collections.create({ name: 'members', type: 'auth', fields: [] });
});

after(async () => {
  await Promise.all([server?.close(), smtp?.close()]);
});

describe('email verification', () => {
  it('mails a link with the app name and URL filled in, and the link verifies the address', async () => {
    const email = uniqueEmail('verify');
    const id = await createUser(email);
    const pb = server.client();
    assert.equal(await pb.collection('users').requestVerification(email), true);

    const mail = await smtp.waitFor({ to: email, subject: 'Verify' });
    assert.deepEqual(mail.to, [email]);
    assert.equal(mail.subject, `Verify your ${APP_NAME} email`);
    assert.doesNotMatch(mail.html, /\{(APP_NAME|APP_URL|TOKEN)\}/);
    const token = tokenIn(mail, 'confirm-verification');
    const claims = decodeJwt(token);
    assert.equal(claims.id, id);
    assert.equal(claims.type, 'verification');

    assert.equal(
      (await server.admin.collection('users').getOne(id)).verified,
      false,
      'not verified before the link',
    );
    assert.equal(await pb.collection('users').confirmVerification(token), true);
    assert.equal((await server.admin.collection('users').getOne(id)).verified, true);

    const again = await server.request('POST', `${base()}/confirm-verification`, { body: { token } });
    assert.equal(again.status, 204, 'confirming twice is harmless');
    assert.equal((await server.admin.collection('users').getOne(id)).verified, true);
  });

  it('answers 204 and mails nothing for an unknown address or an already verified account', async () => {
    const unknown = uniqueEmail('nobody');
    const verified = uniqueEmail('already');
    await createUser(verified, { verified: true });
    for (const email of [unknown, verified, verified.toUpperCase()]) {
      const res = await server.request('POST', `${base()}/request-verification`, { body: { email } });
      assert.equal(res.status, 204, email);
      assert.equal(res.body, undefined);
    }
    await assertNoMail([unknown, verified]);
  });

  it('refuses a token of another collection, of another kind, or tampered with', async () => {
    const email = uniqueEmail('twin');
    const userId = await createUser(email);
    const memberId = await createUser(email, {}, 'members');
    await server.client().collection('members').requestVerification(email);
    const memberToken = tokenIn(await smtp.waitFor({ to: email, subject: 'Verify' }), 'confirm-verification');
    const authToken = (await signIn(email)).authStore.token;

    const [h, p, s] = memberToken.split('.') as [string, string, string];
    const claims = decodeJwt(memberToken);
    const swapped = Buffer.from(
      JSON.stringify({ ...claims, id: userId, collectionId: '_pb_users_auth_' }),
    ).toString('base64url');
    const flipped = `${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
    for (const [label, token] of [
      ['a members token', memberToken],
      ['an auth token', authToken],
      ['a re-signed payload', `${h}.${swapped}.${s}`],
      ['a flipped signature', `${h}.${p}.${flipped}`],
      ['no signature', `${h}.${p}.`],
      ['garbage', 'not-a-token'],
    ] as const) {
      const res = await server.request('POST', `${base()}/confirm-verification`, { body: { token } });
      assertApiError(res, label, 400);
      // PocketBase names a valid token of another auth collection for what it is.
      const code =
        token === memberToken ? 'validation_token_collection_mismatch' : 'validation_invalid_token';
      assert.equal(res.body.data.token?.code, code, label);
    }
    assert.equal((await server.admin.collection('users').getOne(userId)).verified, false);

    // The token is good where it belongs, and only there.
    await server.client().collection('members').confirmVerification(memberToken);
    assert.equal((await server.admin.collection('members').getOne(memberId)).verified, true);
    assert.equal((await server.admin.collection('users').getOne(userId)).verified, false);
  });

  it('uses an edited template, escaping HTML from the record in the body and line breaks in the subject', async () => {
    const original = (await server.admin.collections.getOne('users')).verificationTemplate;
    await server.admin.collections.update('users', {
      verificationTemplate: {
        subject: 'Welcome {RECORD:name} to {APP_NAME}',
        body: '<p>Dear {RECORD:name},</p><p><a href="{APP_URL}/_/#/auth/confirm-verification/{TOKEN}">Verify</a> ({APP_NAME})</p>',
      },
    });
    try {
      const email = uniqueEmail('markup');
      const name = '<b>Bob</b> & "Co"\r\nBcc: victim@example.com';
      const id = await createUser(email, { name });
      await server.client().collection('users').requestVerification(email);
      const mail = await smtp.waitFor({ to: email, subject: 'Welcome' });

      assert.deepEqual(mail.to, [email], 'no recipient smuggled in through the name');
      assert.equal(mail.headers.bcc, undefined);
      assert.equal(mail.subject, `Welcome <b>Bob</b> & "Co" Bcc: victim@example.com to ${APP_NAME}`);
      assert.ok(
        mail.html.includes('Dear &lt;b&gt;Bob&lt;/b&gt; &amp; &quot;Co&quot;'),
        `name escaped in the body: ${mail.html}`,
      );
      assert.ok(!mail.html.includes('<b>Bob</b>'), mail.html);
      assert.ok(mail.html.includes('(Acme &amp; Co)'), mail.html);
      await server.client().collection('users').confirmVerification(tokenIn(mail, 'confirm-verification'));
      assert.equal((await server.admin.collection('users').getOne(id)).verified, true);
    } finally {
      await server.admin.collections.update('users', { verificationTemplate: original });
    }
  });
});

describe('password reset', () => {
  async function resetToken(email: string): Promise<string> {
    await server.client().collection('users').requestPasswordReset(email);
    const mail = await smtp.waitFor({ to: email, subject: 'Reset' });
    assert.equal(mail.subject, `Reset your ${APP_NAME} password`);
    return tokenIn(mail, 'confirm-password-reset');
  }

  it('sets the new password once, verifies the address and ends every session', async () => {
    const email = uniqueEmail('reset');
    const id = await createUser(email);
    const before = [(await signIn(email)).authStore.token, (await signIn(email)).authStore.token];
    for (const token of before) assert.equal(await refreshStatus(token), 200);

    const token = await resetToken(email);
    const pb = server.client();
    assert.equal(await pb.collection('users').confirmPasswordReset(token, NEW_PASSWORD, NEW_PASSWORD), true);

    for (const old of before) assert.equal(await refreshStatus(old), 401, 'every earlier session ended');
    await sdkError(signIn(email, PASSWORD), 400);
    await signIn(email, NEW_PASSWORD);
    assert.equal((await server.admin.collection('users').getOne(id)).verified, true);

    const reuse = await server.request('POST', `${base()}/confirm-password-reset`, {
      body: { token, password: 'third-password-3', passwordConfirm: 'third-password-3' },
    });
    assertApiError(reuse, 'second confirm', 400);
    assert.equal(reuse.body.data.token?.code, 'validation_invalid_token');
    await signIn(email, NEW_PASSWORD);
  });

  it('refuses a mismatched confirmation or a short password and changes nothing', async () => {
    const email = uniqueEmail('mismatch');
    const id = await createUser(email);
    const session = (await signIn(email)).authStore.token;
    const token = await resetToken(email);

    const mismatch = await server.request('POST', `${base()}/confirm-password-reset`, {
      body: { token, password: NEW_PASSWORD, passwordConfirm: 'something-else-9' },
    });
    assertApiError(mismatch, 'mismatch', 400);
    assert.ok(mismatch.body.data.passwordConfirm?.code, JSON.stringify(mismatch.body));

    const short = await server.request('POST', `${base()}/confirm-password-reset`, {
      body: { token, password: 'short', passwordConfirm: 'short' },
    });
    assertApiError(short, 'short', 400);
    assert.ok(short.body.data.password?.code, JSON.stringify(short.body));

    const noConfirm = await server.request('POST', `${base()}/confirm-password-reset`, {
      body: { token, password: NEW_PASSWORD },
    });
    assertApiError(noConfirm, 'no passwordConfirm', 400);
    assert.ok(noConfirm.body.data.passwordConfirm?.code, JSON.stringify(noConfirm.body));

    await signIn(email, PASSWORD);
    assert.equal(await refreshStatus(session), 200, 'the session survives a refused reset');
    assert.equal((await server.admin.collection('users').getOne(id)).verified, false);
    // A refused attempt does not burn the token.
    await server.client().collection('users').confirmPasswordReset(token, NEW_PASSWORD, NEW_PASSWORD);
    await signIn(email, NEW_PASSWORD);
  });

  it('refuses a confirmation that carries no new password, changing nothing', async () => {
    const email = uniqueEmail('no-password');
    const id = await createUser(email);
    const token = await resetToken(email);
    for (const body of [
      { token },
      { token, password: '', passwordConfirm: '' },
      { token, password: null, passwordConfirm: null },
    ]) {
      const res = await server.request('POST', `${base()}/confirm-password-reset`, { body });
      assertApiError(res, `body ${JSON.stringify(Object.keys(body))}`, 400);
      assert.ok(res.body.data.password?.code, JSON.stringify(res.body));
    }
    assert.equal((await server.admin.collection('users').getOne(id)).verified, false);
    await signIn(email, PASSWORD);
  });

  it('keeps the token kinds apart: a reset token does not verify, a verification token does not reset', async () => {
    const email = uniqueEmail('confused');
    const id = await createUser(email);
    const reset = await resetToken(email);
    await server.client().collection('users').requestVerification(email);
    const verify = tokenIn(await smtp.waitFor({ to: email, subject: 'Verify' }), 'confirm-verification');

    const asVerification = await server.request('POST', `${base()}/confirm-verification`, {
      body: { token: reset },
    });
    assertApiError(asVerification, 'reset token at confirm-verification', 400);
    assert.equal(asVerification.body.data.token?.code, 'validation_invalid_token');
    const asReset = await server.request('POST', `${base()}/confirm-password-reset`, {
      body: { token: verify, password: NEW_PASSWORD, passwordConfirm: NEW_PASSWORD },
    });
    assertApiError(asReset, 'verification token at confirm-password-reset', 400);
    assert.equal(asReset.body.data.token?.code, 'validation_invalid_token');
    for (const token of [reset, verify]) {
      assert.equal(await refreshStatus(token), 401, 'a mailed token is no auth token');
      const asEmailChange = await server.request('POST', `${base()}/confirm-email-change`, {
        body: { token, password: PASSWORD },
      });
      assertApiError(asEmailChange, 'mailed token at confirm-email-change', 400);
    }

    assert.equal((await server.admin.collection('users').getOne(id)).verified, false);
    await signIn(email, PASSWORD);
  });

  it('refuses a reset token once the password was changed some other way', async () => {
    const email = uniqueEmail('changed');
    const id = await createUser(email);
    const byOwner = await resetToken(email);
    const pb = await signIn(email);
    await pb.collection('users').update(id, {
      oldPassword: PASSWORD,
      password: NEW_PASSWORD,
      passwordConfirm: NEW_PASSWORD,
    });
    const res = await server.request('POST', `${base()}/confirm-password-reset`, {
      body: { token: byOwner, password: 'attacker-password', passwordConfirm: 'attacker-password' },
    });
    assertApiError(res, 'after the owner changed it', 400);
    assert.equal(res.body.data.token?.code, 'validation_invalid_token');

    smtp.clear();
    const bySuperuser = await resetToken(email);
    await server.admin
      .collection('users')
      .update(id, { password: 'third-password-3', passwordConfirm: 'third-password-3' });
    const late = await server.request('POST', `${base()}/confirm-password-reset`, {
      body: { token: bySuperuser, password: 'attacker-password', passwordConfirm: 'attacker-password' },
    });
    assertApiError(late, 'after a superuser changed it', 400);
    await signIn(email, 'third-password-3');
  });
});

describe('email change', () => {
  it('needs the record signed in to the same collection', async () => {
    const email = uniqueEmail('guest');
    await createUser(email);
    const target = uniqueEmail('wanted');
    await sdkError(server.client().collection('users').requestEmailChange(target), 401);
    const asSuperuser = await server.request('POST', `${base()}/request-email-change`, {
      token: server.adminToken,
      body: { newEmail: target },
    });
    assert.ok([401, 403].includes(asSuperuser.status), String(asSuperuser.status));
    assertApiError(asSuperuser, 'superuser on users');
    const memberEmail = uniqueEmail('member');
    await createUser(memberEmail, {}, 'members');
    const member = await signIn(memberEmail, PASSWORD, 'members');
    const crossed = await server.request('POST', `${base()}/request-email-change`, {
      token: member.authStore.token,
      body: { newEmail: target },
    });
    assert.ok([401, 403].includes(crossed.status), String(crossed.status));
    await assertNoMail([target]);
  });

  it('mails the new address; the wrong password changes nothing, the right one switches, verifies and signs out', async () => {
    const oldEmail = uniqueEmail('moving');
    const newEmail = uniqueEmail('moved');
    const id = await createUser(oldEmail);
    const pb = await signIn(oldEmail);
    const other = (await signIn(oldEmail)).authStore.token;
    const current = pb.authStore.token;

    assert.equal(await pb.collection('users').requestEmailChange(newEmail), true);
    const mail = await smtp.waitFor({ to: newEmail, subject: 'Confirm' });
    assert.equal(mail.subject, `Confirm your ${APP_NAME} new email address`);
    assert.deepEqual(mailsTo(oldEmail), [], 'nothing goes to the old address');
    const token = tokenIn(mail, 'confirm-email-change');

    const wrong = await server.request('POST', `${base()}/confirm-email-change`, {
      body: { token, password: 'not-my-password' },
    });
    assertApiError(wrong, 'wrong password', 400);
    assert.ok(wrong.body.data.password?.code, JSON.stringify(wrong.body));
    assert.equal((await server.admin.collection('users').getOne(id)).email, oldEmail);
    assert.equal(await refreshStatus(current), 200, 'a refused confirm keeps the sessions');

    assert.equal(await pb.collection('users').confirmEmailChange(token, PASSWORD), true);
    assert.equal(pb.authStore.token, '', 'the SDK signs out the record whose email changed');
    const after = await server.admin.collection('users').getOne(id);
    assert.equal(after.email, newEmail);
    assert.equal(after.verified, true);
    for (const old of [current, other]) assert.equal(await refreshStatus(old), 401);
    await sdkError(signIn(oldEmail), 400);
    await signIn(newEmail);

    const reuse = await server.request('POST', `${base()}/confirm-email-change`, {
      body: { token, password: PASSWORD },
    });
    assertApiError(reuse, 'second confirm', 400);
    assert.equal(reuse.body.data.token?.code, 'validation_invalid_token');
  });

  it('refuses an address another record has, in any letter case', async () => {
    const email = uniqueEmail('taker');
    const taken = uniqueEmail('taken');
    await createUser(email);
    await createUser(taken);
    const pb = await signIn(email);
    for (const newEmail of [taken, taken.toUpperCase(), email]) {
      const err = await sdkError(pb.collection('users').requestEmailChange(newEmail), 400);
      assert.ok(err.response.data?.newEmail?.code, JSON.stringify(err.response));
    }
    await assertNoMail([taken]);
  });

  it('refuses a token once the email changed in the meantime', async () => {
    const email = uniqueEmail('twice');
    const first = uniqueEmail('first');
    const second = uniqueEmail('second');
    const id = await createUser(email);
    const pb = await signIn(email);
    await pb.collection('users').requestEmailChange(first);
    await pb.collection('users').requestEmailChange(second);
    const toFirst = tokenIn(await smtp.waitFor({ to: first, subject: 'Confirm' }), 'confirm-email-change');
    const toSecond = tokenIn(await smtp.waitFor({ to: second, subject: 'Confirm' }), 'confirm-email-change');
    await server.client().collection('users').confirmEmailChange(toSecond, PASSWORD);
    const stale = await server.request('POST', `${base()}/confirm-email-change`, {
      body: { token: toFirst, password: PASSWORD },
    });
    assertApiError(stale, 'stale token', 400);
    assert.equal(stale.body.data.token?.code, 'validation_invalid_token');
    assert.equal((await server.admin.collection('users').getOne(id)).email, second);

    // The same when a superuser edits the address.
    const third = uniqueEmail('third');
    const again = await signIn(second);
    await again.collection('users').requestEmailChange(third);
    const toThird = tokenIn(await smtp.waitFor({ to: third, subject: 'Confirm' }), 'confirm-email-change');
    const edited = uniqueEmail('edited');
    await server.admin.collection('users').update(id, { email: edited });
    const late = await server.request('POST', `${base()}/confirm-email-change`, {
      body: { token: toThird, password: PASSWORD },
    });
    assertApiError(late, 'after a superuser edit', 400);
    assert.equal((await server.admin.collection('users').getOne(id)).email, edited);
  });
});

describe('sign-in alerts', () => {
  const login = (email: string, userAgent: string) =>
    server.request('POST', `${base()}/auth-with-password`, {
      body: { identity: email, password: PASSWORD },
      headers: { 'user-agent': userAgent },
    });

  /** Origins are written after the answer: wait until this many are stored, so logins do not race. */
  async function originsStored(id: string, count: number): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const rows = await server.admin
        .collection('_authOrigins')
        .getFullList({ filter: server.admin.filter('recordRef = {:id}', { id }) });
      if (rows.length >= count) return;
      await sleep(20);
    }
    assert.fail(`expected ${count} stored origins`);
  }

  it('mails an alert for a login from a new device only, once per device', async () => {
    const email = uniqueEmail('alerted');
    const id = await createUser(email);
    assert.equal((await login(email, 'Device-One/1.0')).status, 200);
    await originsStored(id, 1);
    assert.equal((await login(email, 'Device-One/1.0')).status, 200);
    await sleep(300);
    assert.deepEqual(mailsTo(email), [], 'no alert for the first login or the same device');

    assert.equal((await login(email, 'Device-Two/2.0')).status, 200);
    const alert = await smtp.waitFor({ to: email, subject: 'new location' });
    assert.equal(alert.subject, 'Login from a new location');
    assert.ok(alert.html.includes('Acme &amp; Co'), alert.html);
    // {ALERT_INFO}: when, from where, on what.
    assert.match(
      alert.html,
      /a sign-in from a new device on \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, from 127\.0\.0\.1 \(Device-Two\/2\.0\)/,
    );
    await originsStored(id, 2);

    assert.equal((await login(email, 'Device-Two/2.0')).status, 200);
    assert.equal((await login(email, 'Device-One/1.0')).status, 200);
    await sleep(1000);
    assert.equal(mailsTo(email).length, 1, 'known devices raise no further alert');
  });

  it('mails nothing when the collection turns alerts off', async () => {
    await server.admin.collections.update('users', { authAlert: { enabled: false } });
    try {
      const email = uniqueEmail('quiet');
      const id = await createUser(email);
      assert.equal((await login(email, 'Quiet-One/1.0')).status, 200);
      await originsStored(id, 1);
      assert.equal((await login(email, 'Quiet-Two/2.0')).status, 200);
      await originsStored(id, 2);
      await assertNoMail([email]);
    } finally {
      await server.admin.collections.update('users', { authAlert: { enabled: true } });
    }
  });
});

describe('hostile input to the email flows', () => {
  const HUGE = 'x'.repeat(10_000);
  /** Bodies no endpoint may accept, as raw JSON text (so `__proto__` keys reach the server as written). */
  const NON_OBJECTS = ['[]', '[{"email":"a@example.com"}]', '"a@example.com"', 'null', '42', 'true', '{', ''];

  function fieldBodies(fields: string[]): string[] {
    const out: string[] = ['{}'];
    for (const field of fields) {
      for (const value of [
        123,
        true,
        null,
        [],
        ['a@example.com'],
        { $ne: null },
        '',
        `${HUGE}@example.com`,
        HUGE,
        '\u0000',
      ])
        out.push(JSON.stringify({ [field]: value }));
      out.push(`{"__proto__":{"${field}":"proto@example.com"}}`);
      out.push(`{"constructor":{"prototype":{"${field}":"proto@example.com"}}}`);
    }
    return out;
  }

  /** Sends every body and returns the answers that are not a 4xx PocketBase error (all are tried). */
  async function hammer(path: string, bodies: string[], token?: string): Promise<string[]> {
    const wrong: string[] = [];
    const attempts: [string, string][] = [
      ...bodies.map((rawBody) => ['application/json', rawBody] as [string, string]),
      ['text/plain', '{"email":"a@example.com"}'],
      ['application/x-www-form-urlencoded', 'email=a%40example.com'],
    ];
    for (const [type, rawBody] of attempts) {
      const res = await server.request('POST', path, { rawBody, token, headers: { 'content-type': type } });
      try {
        assertApiError(res, '');
      } catch {
        wrong.push(
          `${path} ${type} ${JSON.stringify(rawBody.slice(0, 60))} -> ${res.status} ${JSON.stringify(res.body)}`,
        );
      }
    }
    return wrong;
  }

  it('answers every malformed request with a 4xx error body, never a 500', async () => {
    const email = uniqueEmail('hostile');
    await createUser(email);
    const token = (await signIn(email)).authStore.token;
    const wrong = [
      ...(await hammer(`${base()}/request-verification`, [...NON_OBJECTS, ...fieldBodies(['email'])])),
      ...(await hammer(`${base()}/request-password-reset`, [...NON_OBJECTS, ...fieldBodies(['email'])])),
      ...(await hammer(
        `${base()}/request-email-change`,
        [...NON_OBJECTS, ...fieldBodies(['newEmail'])],
        token,
      )),
      ...(await hammer(`${base()}/confirm-verification`, [...NON_OBJECTS, ...fieldBodies(['token'])])),
      ...(await hammer(`${base()}/confirm-password-reset`, [
        ...NON_OBJECTS,
        ...fieldBodies(['token', 'password', 'passwordConfirm']),
      ])),
      ...(await hammer(`${base()}/confirm-email-change`, [
        ...NON_OBJECTS,
        ...fieldBodies(['token', 'password']),
      ])),
    ];
    assert.deepEqual(wrong, []);
    for (const path of ['request-verification', 'confirm-verification']) {
      assertApiError(
        await server.request('POST', `${base('does_not_exist')}/${path}`, { body: { email } }),
        `unknown collection ${path}`,
        404,
      );
    }
    assert.equal(({} as Record<string, unknown>).email, undefined, 'Object.prototype untouched');
    assert.equal(await refreshStatus(token), 200, 'the server is still fine');
    await assertNoMail([email, 'proto@example.com', 'a@example.com'], 300);
  });

  it('refuses an address with a NUL byte or another control character', async () => {
    const email = uniqueEmail('control');
    const id = await createUser(email);
    const token = (await signIn(email)).authStore.token;
    const stripped = uniqueEmail('stripped');
    const bad = [stripped.replace('@', '\u0000@'), 'bell\u0007@example.com', 'esc@exa\u001bmple.com'];
    const wrong: string[] = [];
    for (const [path, field, auth] of [
      ['request-verification', 'email', undefined],
      ['request-password-reset', 'email', undefined],
      ['request-email-change', 'newEmail', token],
    ] as const) {
      for (const value of bad) {
        const res = await server.request('POST', `${base()}/${path}`, {
          body: { [field]: value },
          token: auth,
        });
        if (res.status !== 400 || !res.body?.data?.[field])
          wrong.push(`${path} ${JSON.stringify(value)} -> ${res.status} ${JSON.stringify(res.body)}`);
      }
    }
    // Had a mail gone out anyway (to the address with the NUL dropped), its token must not set that address.
    await sleep(300);
    const leaked = mailsTo(stripped)[0];
    if (leaked) {
      wrong.push(`a confirmation mail reached ${stripped}`);
      const res = await server.request('POST', `${base()}/confirm-email-change`, {
        body: { token: tokenIn(leaked, 'confirm-email-change'), password: PASSWORD },
      });
      assertApiError(res, 'confirming the NUL address');
      assert.equal((await server.admin.collection('users').getOne(id)).email, email);
    }
    assert.deepEqual(wrong, []);
  });

  it('refuses a password that is not a string at confirm-password-reset', async () => {
    const email = uniqueEmail('numeric');
    await createUser(email);
    await server.client().collection('users').requestPasswordReset(email);
    const token = tokenIn(await smtp.waitFor({ to: email, subject: 'Reset' }), 'confirm-password-reset');
    const res = await server.request('POST', `${base()}/confirm-password-reset`, {
      body: { token, password: 12345678, passwordConfirm: 12345678 },
    });
    assertApiError(res, 'numeric password', 400);
    await signIn(email, PASSWORD);
  });

  it('takes only the password from a reset confirmation, and only as a string of sane length', async () => {
    const email = uniqueEmail('valid-token');
    const id = await createUser(email);
    const resetToken = async () => {
      smtp.clear();
      await server.client().collection('users').requestPasswordReset(email);
      return tokenIn(await smtp.waitFor({ to: email, subject: 'Reset' }), 'confirm-password-reset');
    };
    const token = await resetToken();
    for (const password of [HUGE, true, ['a-long-password'], { $ne: null }]) {
      const body = { token, password, passwordConfirm: password };
      const res = await server.request('POST', `${base()}/confirm-password-reset`, { body });
      assertApiError(res, `password ${JSON.stringify(password).slice(0, 40)}`);
    }
    const extra = await server.request('POST', `${base()}/confirm-password-reset`, {
      body: {
        token,
        password: NEW_PASSWORD,
        passwordConfirm: NEW_PASSWORD,
        email: 'hijack@example.com',
        verified: false,
        emailVisibility: true,
        tokenKey: 'k'.repeat(40),
      },
    });
    assert.equal(extra.status, 204, JSON.stringify(extra.body));
    const after = await server.admin.collection('users').getOne(id);
    assert.equal(after.email, email);
    assert.equal(after.verified, true);
    assert.equal(after.emailVisibility, false);
    await signIn(email, NEW_PASSWORD);

    // A NUL inside a password is either refused or kept whole (never cut at the NUL).
    const withNul = 'before\u0000after-9';
    const nul = await server.request('POST', `${base()}/confirm-password-reset`, {
      body: { token: await resetToken(), password: withNul, passwordConfirm: withNul },
    });
    if (nul.status === 204) {
      await signIn(email, withNul);
      await sdkError(signIn(email, 'before'), 400);
    } else {
      assertApiError(nul, 'NUL password', 400);
      await signIn(email, NEW_PASSWORD);
    }
  });
});

describe('anti-enumeration', () => {
  /** Status, content type and exact body bytes of a raw POST. */
  async function raw(path: string, body: unknown) {
    const res = await fetch(server.url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      length: res.headers.get('content-length'),
      body: Buffer.from(await res.arrayBuffer()).toString('hex'),
    };
  }

  it('answers request-verification and request-password-reset the same for known and unknown addresses', async () => {
    const unverified = uniqueEmail('known');
    const verified = uniqueEmail('known-verified');
    await createUser(unverified);
    await createUser(verified, { verified: true });
    for (const path of ['request-verification', 'request-password-reset']) {
      const answers = [];
      for (const email of [unverified, verified, uniqueEmail('unknown'), uniqueEmail('unknown')])
        answers.push(await raw(`${base()}/${path}`, { email }));
      for (const answer of answers) assert.deepEqual(answer, answers[0], path);
      assert.equal(answers[0]!.status, 204);
    }
    await smtp.waitFor({ to: unverified, subject: 'Verify' });
    await smtp.waitFor({ to: unverified, subject: 'Reset' });
    await smtp.waitFor({ to: verified, subject: 'Reset' });
  });
});
