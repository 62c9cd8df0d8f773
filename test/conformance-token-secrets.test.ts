import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer, useSmtp } from './helpers/server.ts';
import { linkIn, type SmtpCapture, startSmtp } from './helpers/smtp.ts';

/**
 * PocketBase's dashboard "Invalidate all previously issued tokens" (an auth collection's Options > Token
 * options) saves a new random `secret` in a token option. PocketBase never shows these secrets in an
 * answer (core/collection_model.go) and a new one ends every token of that kind. Plinth signs with its
 * own keys, so the secret is a marker: a new `authToken.secret` ends the collection's sessions, a new
 * `passwordResetToken.secret` (and the other mailed kinds) ends the links already mailed.
 */

const PASSWORD = 'first-password-1';
const newSecret = () => randomBytes(36).toString('base64url'); // 48 characters, like the dashboard's 50

let server: TestServer;
let smtp: SmtpCapture;

const admin = (method: string, path: string, body?: unknown) =>
  server.request(method, path, { token: server.adminToken, body });

async function signIn(collection: string, email: string): Promise<string> {
  const res = await server.request('POST', `/api/collections/${collection}/auth-with-password`, {
    body: { identity: email, password: PASSWORD },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.token;
}

const refreshStatus = async (collection: string, token: string) =>
  (await server.request('POST', `/api/collections/${collection}/auth-refresh`, { token })).status;

before(async () => {
  [server, smtp] = await Promise.all([startServer(), startSmtp()]);
  await useSmtp(server, smtp, { authThrottle: { ipMax: 1_000_000 } });
  for (const name of ['members', 'others']) {
    const res = await admin('POST', '/api/collections', { name, type: 'auth', fields: [] });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    for (const who of ['ann', 'bob']) {
      const created = await admin('POST', `/api/collections/${name}/records`, {
        email: `${who}@${name}.test`,
        password: PASSWORD,
        passwordConfirm: PASSWORD,
      });
      assert.equal(created.status, 200, JSON.stringify(created.body));
    }
  }
});

after(async () => {
  await Promise.all([server?.close(), smtp?.close()]);
});

describe('token option secrets (the dashboard "invalidate tokens" button)', () => {
  it('a new authToken.secret is taken, never shown, and ends the sessions of that collection only', async () => {
    const ann = await signIn('members', 'ann@members.test');
    const bob = await signIn('members', 'bob@members.test');
    const other = await signIn('others', 'ann@others.test');

    const res = await admin('PATCH', '/api/collections/members', {
      authToken: { duration: 86400, secret: newSecret() },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.authToken, { duration: 86400 }, 'the answer has no secret');
    const got = await admin('GET', '/api/collections/members');
    for (const key of [
      'authToken',
      'passwordResetToken',
      'emailChangeToken',
      'verificationToken',
      'fileToken',
    ])
      assert.equal(got.body[key].secret, undefined, `${key} has no secret in GET`);

    assert.equal(await refreshStatus('members', ann), 401, 'a token issued before is refused');
    assert.equal(await refreshStatus('members', bob), 401);
    assert.equal(await refreshStatus('others', other), 200, 'another collection is untouched');
    const fresh = await signIn('members', 'ann@members.test');
    assert.equal(await refreshStatus('members', fresh), 200, 'signing in again works');
  });

  it('saving the collection back as read (no secret) keeps every session', async () => {
    const ann = await signIn('members', 'ann@members.test');
    const read = await admin('GET', '/api/collections/members');
    const saved = await admin('PATCH', `/api/collections/${read.body.id}`, {
      ...read.body,
      authToken: { ...read.body.authToken, duration: 7200 },
      passwordResetToken: { ...read.body.passwordResetToken, secret: '' },
    });
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    assert.equal(saved.body.authToken.duration, 7200);
    assert.equal(await refreshStatus('members', ann), 200);
  });

  it('refuses a secret shorter than 30 characters or not a string, as PocketBase does', async () => {
    for (const secret of ['short', 42]) {
      const res = await admin('PATCH', '/api/collections/members', { authToken: { secret } });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.data.authToken.secret.code, 'validation_length_out_of_range');
    }
  });

  it('a new passwordResetToken.secret ends the reset links already mailed', async () => {
    const email = 'bob@members.test';
    const ask = async () => {
      smtp.clear();
      const res = await server.request('POST', '/api/collections/members/request-password-reset', {
        body: { email },
      });
      assert.equal(res.status, 204);
      const mail = await smtp.waitFor({ to: email, subject: 'Reset' });
      const link = linkIn(mail, /confirm-password-reset\//);
      return link.slice(link.lastIndexOf('/') + 1);
    };
    const confirm = (token: string) =>
      server.request('POST', '/api/collections/members/confirm-password-reset', {
        body: { token, password: PASSWORD, passwordConfirm: PASSWORD },
      });

    const old = await ask();
    const res = await admin('PATCH', '/api/collections/members', {
      passwordResetToken: { duration: 1800, secret: newSecret() },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const refused = await confirm(old);
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.data.token.code, 'validation_invalid_token');

    const current = await ask();
    assert.equal((await confirm(current)).status, 204, 'a link mailed after the change works');
  });

  it('tokenKey:autogenerate (the record menu "Reset issued tokens") ends that record\'s sessions only', async () => {
    const ann = await signIn('others', 'ann@others.test');
    const bob = await signIn('others', 'bob@others.test');
    const list = await admin(
      'GET',
      '/api/collections/others/records?filter=' + encodeURIComponent('email="ann@others.test"'),
    );
    const id = list.body.items[0].id;

    const renamed = await admin('PATCH', `/api/collections/others/records/${id}`, {
      emailVisibility: true,
      tokenKey: 'a-value-chosen-by-the-client-is-still-ignored',
    });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    assert.equal(
      await refreshStatus('others', ann),
      200,
      'another change (or a tokenKey value) keeps the sessions',
    );

    const reset = await admin('PATCH', `/api/collections/others/records/${id}`, {
      'tokenKey:autogenerate': '',
    });
    assert.equal(reset.status, 200, JSON.stringify(reset.body));
    assert.equal(await refreshStatus('others', ann), 401, "the record's tokens are refused");
    assert.equal(await refreshStatus('others', bob), 200, 'another record keeps its session');
    assert.equal(await refreshStatus('others', await signIn('others', 'ann@others.test')), 200);
  });
});
