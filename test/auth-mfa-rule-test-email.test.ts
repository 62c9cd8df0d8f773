import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ClientResponseError } from 'pocketbase';
import { startServer, type TestServer, useSmtp } from './helpers/server.ts';
import { type SmtpCapture, startSmtp } from './helpers/smtp.ts';

describe('mfa.rule and the test email', () => {
  let server: TestServer;
  let smtp: SmtpCapture;
  const password = 'password-123';
  before(async () => {
    server = await startServer();
    smtp = await startSmtp();
    await useSmtp(server, smtp, { meta: { appName: 'Rule Test' }, authThrottle: { enabled: false } });
  });
  after(async () => {
    await server.close();
    await smtp.close();
  });

  test('MFA applies only to the records mfa.rule matches', async () => {
    await server.admin.collections.create({
      name: 'staff',
      type: 'auth',
      createRule: '',
      fields: [{ name: 'role', type: 'text' }],
      mfa: { enabled: true, rule: "role = 'admin'" },
      otp: { enabled: true },
    });
    const pb = server.client();
    for (const role of ['admin', 'clerk'])
      await pb
        .collection('staff')
        .create({ email: `${role}@example.com`, role, password, passwordConfirm: password });
    const clerk = await pb.collection('staff').authWithPassword('clerk@example.com', password);
    assert.ok(clerk.token, 'no second method for a record outside the rule');
    const err = await pb
      .collection('staff')
      .authWithPassword('admin@example.com', password)
      .catch((e: unknown) => e);
    assert.ok(err instanceof ClientResponseError);
    assert.equal(err.status, 401);
    assert.match(String(err.response.mfaId), /^[a-z0-9]{15}$/);
  });

  test('an mfa.rule that does not compile is refused when the collection is saved', async () => {
    const res = await server.request('PATCH', '/api/collections/staff', {
      token: server.adminToken,
      body: { mfa: { enabled: true, rule: 'nosuchfield = 1' } },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.data.mfa.rule.code, 'validation_invalid_rule');
    const wrongType = await server.request('PATCH', '/api/collections/staff', {
      token: server.adminToken,
      body: { mfa: { rule: 42 } },
    });
    assert.equal(wrongType.status, 400);
    assert.equal(wrongType.body.data.mfa.rule.code, 'validation_invalid_rule');
  });

  test('a superuser sends a test email of each template through the SDK', async () => {
    for (const template of ['verification', 'password-reset', 'email-change', 'otp', 'login-alert']) {
      smtp.clear();
      await server.admin.settings.testEmail('users', 'test-to@example.com', template);
      const mail = await smtp.waitFor({ to: 'test-to@example.com' });
      assert.ok(mail.subject.length > 0, template);
      if (template === 'otp') {
        assert.equal(mail.subject, 'OTP for Rule Test');
        assert.match(mail.html, /12345678/);
      }
    }
  });

  test('the test email refuses bad input and non-superusers, and reports an SMTP failure as a 400', async () => {
    const post = (body: unknown, token = server.adminToken) =>
      server.request('POST', '/api/settings/test/email', { token, body });
    assert.equal(
      (await post({ email: 'x@example.com', template: 'nope' })).body.data.template.code,
      'validation_in_invalid',
    );
    assert.equal((await post({ email: 'not-an-email', template: 'otp' })).status, 400);
    assert.equal((await post({ email: 'x@example.com', template: 'otp', collection: 'staffx' })).status, 400);
    assert.equal((await post([])).status, 400);
    assert.equal((await post({ email: 'x@example.com', template: 'otp' }, '')).status, 401);
    const user = server.client();
    await user.collection('staff').authWithPassword('clerk@example.com', password);
    assert.equal((await post({ email: 'x@example.com', template: 'otp' }, user.authStore.token)).status, 403);
    // A port nothing listens on: the superuser sees why, as a 400, not a 500.
    await server.request('PATCH', '/api/settings', { token: server.adminToken, body: { smtp: { port: 9 } } });
    const failed = await post({ email: 'x@example.com', template: 'otp' });
    assert.equal(failed.status, 400);
    assert.match(failed.body.message, /Failed to send the test email/);
    await server.request('PATCH', '/api/settings', {
      token: server.adminToken,
      body: { smtp: { port: smtp.port } },
    });
  });
});
