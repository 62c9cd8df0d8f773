import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type OidcServer, startOidc } from './helpers/oidc.ts';
import { startServer, type TestServer, useSmtp } from './helpers/server.ts';
import { type SmtpCapture, startSmtp } from './helpers/smtp.ts';

const REDIRECT = 'http://127.0.0.1:9/cb';
const PASSWORD = 'password-123';

/** Linking a provider to an existing account needs only a token, so the owner is told by mail. */
describe('a mail tells the owner when an OAuth2 sign-in is linked to their account', () => {
  let server: TestServer;
  let smtp: SmtpCapture;
  let idp: OidcServer;

  before(async () => {
    [server, smtp] = await Promise.all([startServer(), startSmtp()]);
    idp = await startOidc({
      clients: [{ client_id: 'plinth', client_secret: 'sekret', redirect_uris: [REDIRECT] }],
    });
    await useSmtp(server, smtp, { meta: { appName: 'Link Test' }, authThrottle: { ipMax: 1_000_000 } });
    await server.admin.collections.update('users', {
      oauth2: {
        enabled: true,
        providers: [
          {
            name: 'oidc',
            clientId: 'plinth',
            clientSecret: 'sekret',
            authURL: idp.authorizationEndpoint,
            tokenURL: idp.tokenEndpoint,
            userInfoURL: idp.userinfoEndpoint,
            extra: { jwksURL: idp.jwksUri, issuers: [idp.issuer] },
          },
        ],
      },
    });
  });
  after(async () => {
    await Promise.all([server.close(), smtp.close(), idp.close()]);
  });

  async function oauth(sub: string, token?: string) {
    const methods = await server.client().collection('users').listAuthMethods();
    const p = methods.oauth2.providers.find((x) => x.name === 'oidc')!;
    const { params } = await idp.authorize(p.authURL + encodeURIComponent(REDIRECT), sub);
    return server.request('POST', '/api/collections/users/auth-with-oauth2', {
      body: { provider: 'oidc', code: params.code, codeVerifier: p.codeVerifier, redirectURL: REDIRECT },
      ...(token ? { token } : {}),
    });
  }

  async function userWithToken(email: string) {
    const pb = server.client();
    await pb.collection('users').create({ email, password: PASSWORD, passwordConfirm: PASSWORD });
    await pb.collection('users').authWithPassword(email, PASSWORD);
    smtp.clear();
    return pb.authStore.token;
  }

  it('when a signed-in user links an identity, and not again when it signs in later', async () => {
    const token = await userWithToken('linker@example.com');
    idp.accounts.set('linker-idp', {
      sub: 'linker-idp',
      email: 'someone-else@example.org',
      email_verified: true,
    });
    const res = await oauth('linker-idp', token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const mail = await smtp.waitFor({ to: 'linker@example.com' });
    assert.match(mail.html, /a oidc sign-in was linked to your account/);
    smtp.clear();
    assert.equal((await oauth('linker-idp')).status, 200);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(
      smtp.mails.filter((m) => /linked to your account/.test(m.html)).map((m) => m.to),
      [],
      'signing in with a linked identity sends no link alert',
    );
  });

  it('when a verified provider email is linked to the verified account with that email', async () => {
    await userWithToken('match@example.com');
    await server.admin
      .collection('users')
      .update((await server.admin.collection('users').getFirstListItem('email="match@example.com"')).id, {
        verified: true,
      });
    smtp.clear();
    idp.accounts.set('match-idp', { sub: 'match-idp', email: 'match@example.com', email_verified: true });
    assert.equal((await oauth('match-idp')).status, 200);
    const mail = await smtp.waitFor({ to: 'match@example.com' });
    assert.match(mail.html, /linked to your account/);
  });

  it('not for a new account, nor when the collection turns alerts off', async () => {
    idp.accounts.set('fresh-idp', { sub: 'fresh-idp', email: 'fresh@example.com', email_verified: true });
    assert.equal((await oauth('fresh-idp')).status, 200);
    await server.admin.collections.update('users', { authAlert: { enabled: false } });
    const token = await userWithToken('quiet@example.com');
    idp.accounts.set('quiet-idp', { sub: 'quiet-idp', email: 'other@example.org', email_verified: true });
    assert.equal((await oauth('quiet-idp', token)).status, 200);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(
      smtp.mails.filter((m) => /linked to your account/.test(m.html)).map((m) => m.to),
      [],
    );
    await server.admin.collections.update('users', { authAlert: { enabled: true } });
  });
});
