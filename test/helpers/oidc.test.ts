import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { type OidcServer, startOidc } from './oidc.ts';

const REDIRECT_URI = 'http://127.0.0.1:9/callback'; // nothing listens there: authorize() must not follow it
const ALICE = {
  sub: 'alice-1',
  email: 'alice@example.com',
  email_verified: true,
  name: 'Alice Liddell',
  preferred_username: 'alice',
  picture: 'https://img.example.com/alice.png',
};
const BOB = { sub: 'bob-2', email: 'bob@example.com', email_verified: false };

async function discover(
  oidc: OidcServer,
  clientAuth = client.ClientSecretPost('app-secret'),
  clientId = 'app',
) {
  return client.discovery(new URL(oidc.issuer), clientId, undefined, clientAuth, {
    execute: [client.allowInsecureRequests],
  });
}

/** One full relying-party round trip: auth URL with PKCE, state and nonce, sign-in, code exchange. */
async function signIn(
  oidc: OidcServer,
  config: client.Configuration,
  sub: string,
  verifierOverride?: string,
) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authURL = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid email profile',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const redirect = await oidc.authorize(authURL.href, sub);
  const tokens = await client.authorizationCodeGrant(config, new URL(redirect.url), {
    pkceCodeVerifier: verifierOverride ?? verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  return { redirect, tokens, state, nonce };
}

describe('the OIDC provider helper', () => {
  let oidc: OidcServer;
  before(async () => {
    oidc = await startOidc({
      clients: [
        { client_id: 'app', client_secret: 'app-secret', redirect_uris: [REDIRECT_URI] },
        {
          client_id: 'basic-app',
          client_secret: 'basic-secret',
          redirect_uris: [REDIRECT_URI],
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
      accounts: [ALICE, BOB],
    });
  });
  after(async () => {
    await oidc.close();
  });

  test('serves discovery with the advertised endpoints', async () => {
    const config = await discover(oidc);
    const metadata = config.serverMetadata();
    assert.equal(metadata.issuer, oidc.issuer);
    assert.equal(metadata.authorization_endpoint, oidc.authorizationEndpoint);
    assert.equal(metadata.token_endpoint, oidc.tokenEndpoint);
    assert.equal(metadata.userinfo_endpoint, oidc.userinfoEndpoint);
    assert.equal(metadata.jwks_uri, oidc.jwksUri);
    assert.match(oidc.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  test('signs a user in with PKCE, state and nonce, and the ID token carries the email claims', async () => {
    const config = await discover(oidc);
    const { redirect, tokens, state, nonce } = await signIn(oidc, config, ALICE.sub);
    assert.ok(redirect.url.startsWith(`${REDIRECT_URI}?`), redirect.url);
    assert.equal(redirect.params['state'], state);
    assert.equal(redirect.params['iss'], oidc.issuer);
    assert.ok(redirect.params['code']);

    const claims = tokens.claims()!;
    assert.equal(claims.iss, oidc.issuer);
    assert.equal(claims.aud, 'app');
    assert.equal(claims.nonce, nonce);
    assert.equal(claims.sub, ALICE.sub);
    assert.equal(claims['email'], ALICE.email);
    assert.equal(claims['email_verified'], true);
    assert.equal(claims['name'], ALICE.name);

    const userinfo = await client.fetchUserInfo(config, tokens.access_token, ALICE.sub);
    assert.deepEqual(userinfo, ALICE);

    const { payload, protectedHeader } = await jwtVerify(
      tokens.id_token!,
      createRemoteJWKSet(new URL(oidc.jwksUri)),
      {
        issuer: oidc.issuer,
        audience: 'app',
      },
    );
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(payload.sub, ALICE.sub);
  });

  test('signs in a different user next, and serves account changes made meanwhile', async () => {
    const config = await discover(oidc);
    oidc.accounts.set(BOB.sub, { ...BOB, name: 'Bob' });
    const { tokens } = await signIn(oidc, config, BOB.sub);
    assert.equal(tokens.claims()!.sub, BOB.sub);
    assert.equal(tokens.claims()!['email_verified'], false);
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, BOB.sub);
    assert.deepEqual(userinfo, { ...BOB, name: 'Bob' });
    const again = await signIn(oidc, config, ALICE.sub);
    assert.equal(again.tokens.claims()!.sub, ALICE.sub);
  });

  test('rejects a token exchange with the wrong code_verifier', async () => {
    const config = await discover(oidc);
    await assert.rejects(signIn(oidc, config, ALICE.sub, client.randomPKCECodeVerifier()), (error: Error) => {
      assert.equal((error as client.ResponseBodyError).error, 'invalid_grant');
      return true;
    });
  });

  test('accepts client_secret_basic authentication', async () => {
    const config = await discover(oidc, client.ClientSecretBasic('basic-secret'), 'basic-app');
    const { tokens } = await signIn(oidc, config, ALICE.sub);
    assert.equal(tokens.claims()!.aud, 'basic-app');
  });

  test('an unknown user comes back as access_denied', async () => {
    const config = await discover(oidc);
    const authURL = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid email',
      state: 'xyz',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const { params } = await oidc.authorize(authURL.href, 'nobody');
    assert.equal(params['error'], 'access_denied');
    assert.equal(params['state'], 'xyz');
  });

  test('a request the provider cannot redirect makes authorize() throw', async () => {
    const config = await discover(oidc);
    const authURL = client.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:9/elsewhere',
      scope: 'openid',
    });
    await assert.rejects(oidc.authorize(authURL.href, ALICE.sub), /400: .*redirect_uri/);
  });
});

test('the OIDC provider helper works under an issuer path', async () => {
  const oidc = await startOidc({
    clients: [{ client_id: 'app', client_secret: 'app-secret', redirect_uris: [REDIRECT_URI] }],
    accounts: [ALICE],
    issuerPath: '/oidc',
  });
  try {
    assert.match(oidc.issuer, /^http:\/\/127\.0\.0\.1:\d+\/oidc$/);
    const config = await discover(oidc);
    assert.equal(config.serverMetadata().token_endpoint, oidc.tokenEndpoint);
    const { tokens } = await signIn(oidc, config, ALICE.sub);
    assert.equal(tokens.claims()!.iss, oidc.issuer);
    assert.equal(tokens.claims()!['email'], ALICE.email);
  } finally {
    await oidc.close();
  }
});
