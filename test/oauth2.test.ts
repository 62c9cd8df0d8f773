import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type PocketBase from 'pocketbase';
import { type OidcAccount, type OidcServer, startOidc } from './helpers/oidc.ts';
import { startServer, type TestServer } from './helpers/server.ts';

// OAuth2 / OpenID Connect sign-in against a real identity provider (oidc-provider on loopback).

const REDIRECT = 'http://127.0.0.1:9/cb';
const FAILED = 'Failed to authenticate with the OAuth2 provider.';
const b64sha = (text: string) => createHash('sha256').update(text).digest('base64url');

interface ListedProvider {
  name: string;
  state: string;
  authURL: string;
  codeVerifier: string;
  codeChallenge: string;
  codeChallengeMethod: string;
}

describe('OAuth2 sign-in with a real OpenID Connect provider', () => {
  let server: TestServer;
  let idp: OidcServer;
  let providerConfig: Record<string, unknown>;
  let images: Awaited<ReturnType<typeof startImages>>;

  const account = (a: OidcAccount) => {
    idp.accounts.set(a.sub, a);
    return a;
  };

  /** A fresh auth-methods call: the listed `oidc` entry of the collection. */
  async function listed(collection = 'users', pb: PocketBase = server.client()): Promise<ListedProvider> {
    const methods = await pb.collection(collection).listAuthMethods();
    const p = methods.oauth2.providers.find((x) => x.name === 'oidc');
    assert.ok(p, 'oidc is listed');
    return p as ListedProvider;
  }

  /** Plays the browser at the provider as `sub`; the authorization code for the listed entry. */
  async function codeFor(p: ListedProvider, sub: string): Promise<string> {
    const { params } = await idp.authorize(p.authURL + encodeURIComponent(REDIRECT), sub);
    assert.equal(params.state, p.state);
    assert.ok(params.code, JSON.stringify(params));
    return params.code;
  }

  /** POST auth-with-oauth2 over raw HTTP. */
  function post(body: unknown, options: { token?: string; collection?: string; query?: string } = {}) {
    const path = `/api/collections/${options.collection ?? 'users'}/auth-with-oauth2${options.query ?? ''}`;
    return server.request('POST', path, { body, ...(options.token ? { token: options.token } : {}) });
  }

  /** A whole sign-in as `sub`: auth-methods, the provider's login, then auth-with-oauth2. */
  async function oauth(
    sub: string,
    options: { token?: string; collection?: string; createData?: unknown; query?: string } = {},
  ) {
    const p = await listed(options.collection);
    const code = await codeFor(p, sub);
    const body: Record<string, unknown> = {
      provider: 'oidc',
      code,
      codeVerifier: p.codeVerifier,
      redirectURL: REDIRECT,
    };
    if (options.createData !== undefined) body.createData = options.createData;
    return post(body, options);
  }

  async function usersWithEmail(email: string, collection = 'users') {
    return server.admin
      .collection(collection)
      .getFullList({ filter: server.admin.filter('email = {:email}', { email }) });
  }

  async function linksOf(recordId: string) {
    return server.admin
      .collection('_externalAuths')
      .getFullList({ filter: server.admin.filter('recordRef = {:id}', { id: recordId }) });
  }

  async function linksOfIdentity(providerId: string) {
    return server.admin
      .collection('_externalAuths')
      .getFullList({ filter: server.admin.filter('providerId = {:id}', { id: providerId }) });
  }

  async function passwordSignIn(identity: string, password: string, collection = 'users') {
    return server.request('POST', `/api/collections/${collection}/auth-with-password`, {
      body: { identity, password },
    });
  }

  async function createPasswordUser(email: string, password: string, collection = 'users') {
    const res = await server.request('POST', `/api/collections/${collection}/records`, {
      body: { email, password, passwordConfirm: password },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const signedIn = await passwordSignIn(email, password, collection);
    assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
    return { id: String(res.body.id), token: String(signedIn.body.token) };
  }

  before(async () => {
    // Avatars come from a loopback image server: 127.0.0.1 is let through, 127.0.0.2 is not.
    server = await startServer({ flags: { fetchAllowPrivate: '127.0.0.1' } });
    images = await startImages();
    idp = await startOidc({
      clients: [{ client_id: 'plinth', client_secret: 'sekret', redirect_uris: [REDIRECT] }],
    });
    providerConfig = {
      name: 'oidc',
      clientId: 'plinth',
      clientSecret: 'sekret',
      authURL: idp.authorizationEndpoint,
      tokenURL: idp.tokenEndpoint,
      userInfoURL: idp.userinfoEndpoint,
      extra: { jwksURL: idp.jwksUri, issuers: [idp.issuer] },
    };
    const users = await server.admin.collections.getOne('users');
    await server.admin.collections.update('users', {
      fields: [...users.fields, { name: 'bio', type: 'text', max: 20 }],
      oauth2: {
        enabled: true,
        mappedFields: { name: 'name', avatarURL: 'avatar' },
        providers: [
          providerConfig,
          // Configured URLs but no client id: not usable.
          { ...providerConfig, name: 'oidc2', clientId: '' },
        ],
      },
    });
  });
  after(async () => {
    await idp?.close();
    await server?.close();
    await images?.close();
  });

  it('signs a new user up, then signs the same user in again', async () => {
    account({ sub: 'new-1', email: 'new1@example.com', email_verified: true, name: 'New One' });
    const pb = server.client();
    const methods = await pb.collection('users').listAuthMethods();
    assert.equal(methods.oauth2.enabled, true);
    assert.deepEqual(
      methods.oauth2.providers.map((p) => p.name),
      ['oidc'],
      'a provider without a client id is not listed',
    );
    const p = methods.oauth2.providers[0] as ListedProvider;
    assert.equal(p.codeChallengeMethod, 'S256');
    assert.match(p.codeVerifier, /^[A-Za-z0-9\-._~]{43,128}$/);
    assert.equal(p.codeChallenge, b64sha(p.codeVerifier));
    assert.ok(p.state.length >= 20);
    assert.ok(p.authURL.startsWith(`${idp.authorizationEndpoint}?`));
    assert.ok(p.authURL.endsWith('&redirect_uri='));
    const query = new URL(p.authURL).searchParams;
    assert.equal(query.get('client_id'), 'plinth');
    assert.equal(query.get('response_type'), 'code');
    assert.equal(query.get('state'), p.state);
    assert.equal(query.get('code_challenge'), p.codeChallenge);
    assert.equal(query.get('code_challenge_method'), 'S256');
    assert.equal(query.get('nonce'), b64sha(`plinth-oidc-nonce:${p.codeVerifier}`));
    assert.deepEqual(query.get('scope')?.split(' ').sort(), ['email', 'openid', 'profile']);
    assert.equal(query.get('redirect_uri'), '');
    assert.ok(!p.authURL.includes('sekret'), 'the client secret never leaves the server');

    const code = await codeFor(p, 'new-1');
    const first = await pb.collection('users').authWithOAuth2Code('oidc', code, p.codeVerifier, REDIRECT);
    assert.ok(first.token);
    assert.equal(first.record.email, 'new1@example.com');
    assert.equal(first.record.verified, true);
    assert.equal(first.record.name, 'New One');
    assert.equal(first.meta?.isNew, true);
    assert.equal(first.meta?.id, 'new-1');
    assert.equal(first.meta?.email, 'new1@example.com');
    assert.equal(first.meta?.name, 'New One');
    assert.ok(first.meta?.accessToken);
    assert.equal(first.meta?.rawUser?.sub, 'new-1');

    // The owner sees the link.
    const links = await pb.collection('_externalAuths').getFullList();
    assert.equal(links.length, 1);
    assert.equal(links[0]?.provider, 'oidc');
    assert.equal(links[0]?.providerId, 'new-1');
    assert.equal(links[0]?.recordRef, first.record.id);
    assert.equal(links[0]?.collectionRef, first.record.collectionId);
    const sessions = await pb.collection('_sessions').getFullList();
    assert.deepEqual(
      sessions.map((s) => s.method),
      ['oauth2'],
    );

    // Another browser, another flow: the same account.
    const again = await oauth('new-1');
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.record.id, first.record.id);
    assert.equal(again.body.meta.isNew, false);
    assert.equal((await usersWithEmail('new1@example.com')).length, 1);
    assert.equal((await linksOf(first.record.id)).length, 1);
  });

  it('refuses a wrong PKCE verifier without creating anything; the right one still works', async () => {
    account({ sub: 'pkce-1', email: 'pkce1@example.com', email_verified: true });
    const p = await listed();
    const code = await codeFor(p, 'pkce-1');
    const wrong = await post({
      provider: 'oidc',
      code,
      codeVerifier: 'x'.repeat(56),
      redirectURL: REDIRECT,
    });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.message, FAILED);
    assert.equal((await usersWithEmail('pkce1@example.com')).length, 0);
    assert.equal((await linksOfIdentity('pkce-1')).length, 0);

    // oidc-provider does not consume a code refused for its verifier.
    const right = await post({ provider: 'oidc', code, codeVerifier: p.codeVerifier, redirectURL: REDIRECT });
    assert.equal(right.status, 200, JSON.stringify(right.body));
    // ...but a code is good once.
    const replay = await post({
      provider: 'oidc',
      code,
      codeVerifier: p.codeVerifier,
      redirectURL: REDIRECT,
    });
    assert.equal(replay.status, 400);
    assert.equal(replay.body.message, FAILED);
  });

  it('requires the PKCE verifier', async () => {
    account({ sub: 'pkce-2', email: 'pkce2@example.com', email_verified: true });
    const p = await listed();
    const code = await codeFor(p, 'pkce-2');
    // Optional in the form, as in PocketBase, but a PKCE exchange without it fails.
    for (const codeVerifier of [undefined, '']) {
      const res = await post({ provider: 'oidc', code, codeVerifier, redirectURL: REDIRECT });
      assert.equal(res.status, 400);
      assert.equal(res.body.message, FAILED);
    }
    assert.equal((await usersWithEmail('pkce2@example.com')).length, 0);
  });

  it("refuses another flow's verifier with this flow's code (PKCE and nonce are bound to the flow)", async () => {
    account({ sub: 'nonce-1', email: 'nonce1@example.com', email_verified: true });
    const mine = await listed();
    const other = await listed();
    assert.notEqual(mine.codeVerifier, other.codeVerifier);
    const code = await codeFor(mine, 'nonce-1');
    const res = await post({
      provider: 'oidc',
      code,
      codeVerifier: other.codeVerifier,
      redirectURL: REDIRECT,
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.message, FAILED);
    assert.equal((await usersWithEmail('nonce1@example.com')).length, 0);
  });

  it('refuses a redirect URL other than the one the code was issued for', async () => {
    account({ sub: 'redir-1', email: 'redir1@example.com', email_verified: true });
    const p = await listed();
    const code = await codeFor(p, 'redir-1');
    const res = await post({
      provider: 'oidc',
      code,
      codeVerifier: p.codeVerifier,
      redirectURL: 'http://127.0.0.1:9/elsewhere',
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.message, FAILED);
    assert.equal((await usersWithEmail('redir1@example.com')).length, 0);
  });

  it('gives a pre-registered (unverified) account to the verified email owner and evicts the squatter', async () => {
    // The attacker registers the victim's address with a password of their own...
    const attacker = await createPasswordUser('victim@example.com', 'attacker-password-1');
    // ...and, signed in to it, links an identity of their own at the provider.
    account({ sub: 'attacker-idp', email: 'attacker@example.com', email_verified: true });
    const linked = await oauth('attacker-idp', { token: attacker.token });
    assert.equal(linked.status, 200, JSON.stringify(linked.body));
    assert.equal(linked.body.record.id, attacker.id);
    assert.equal(linked.body.meta.isNew, false);
    assert.equal((await linksOf(attacker.id)).length, 1);
    const attackerOAuthToken = String(linked.body.token);

    // The victim signs in with the provider, which verified their address.
    account({ sub: 'victim-idp', email: 'victim@example.com', email_verified: true, name: 'Victim' });
    const victim = await oauth('victim-idp');
    assert.equal(victim.status, 200, JSON.stringify(victim.body));
    assert.equal(victim.body.record.id, attacker.id, 'the existing account, not a second one');
    assert.equal(victim.body.record.verified, true);
    assert.equal(victim.body.meta.isNew, false);

    // The attacker's password, sessions and linked identity are gone.
    const password = await passwordSignIn('victim@example.com', 'attacker-password-1');
    assert.equal(password.status, 400);
    for (const token of [attacker.token, attackerOAuthToken]) {
      const refresh = await server.request('POST', '/api/collections/users/auth-refresh', { token });
      assert.equal(refresh.status, 401, 'the squatter session is over');
    }
    const links = await linksOf(attacker.id);
    assert.deepEqual(
      links.map((l) => l.providerId),
      ['victim-idp'],
    );
    // The attacker's identity now leads to an account of its own, not the victim's.
    const again = await oauth('attacker-idp');
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.notEqual(again.body.record.id, attacker.id);
    assert.equal(again.body.record.email, 'attacker@example.com');
    assert.equal(again.body.meta.isNew, true);
    // The victim's own session works.
    const refresh = await server.request('POST', '/api/collections/users/auth-refresh', {
      token: victim.body.token,
    });
    assert.equal(refresh.status, 200);
  });

  it('takes back an account squatted through an unverified provider email', async () => {
    // The squatter's provider lets them claim any address without proof: a new, unverified account.
    account({ sub: 'squat-idp', email: 'victim2@example.com', email_verified: false });
    const squat = await oauth('squat-idp');
    assert.equal(squat.status, 200, JSON.stringify(squat.body));
    assert.equal(squat.body.record.verified, false);
    const id = String(squat.body.record.id);

    account({ sub: 'victim2-idp', email: 'victim2@example.com', email_verified: true });
    const victim = await oauth('victim2-idp');
    assert.equal(victim.status, 200, JSON.stringify(victim.body));
    assert.equal(victim.body.record.id, id);
    assert.equal(victim.body.record.verified, true);
    assert.equal(victim.body.meta.isNew, false);

    const refresh = await server.request('POST', '/api/collections/users/auth-refresh', {
      token: squat.body.token,
    });
    assert.equal(refresh.status, 401);
    assert.deepEqual(
      (await linksOf(id)).map((l) => l.providerId),
      ['victim2-idp'],
    );
    // The squatter's identity no longer leads anywhere: its email is taken and unproven.
    const again = await oauth('squat-idp');
    assert.equal(again.status, 400);
    assert.equal((await usersWithEmail('victim2@example.com')).length, 1);
    assert.equal((await linksOfIdentity('squat-idp')).length, 0);
  });

  it('drops the links of a deleted account; the identity then signs up anew', async () => {
    account({ sub: 'del-idp', email: 'deleted@example.com', email_verified: true });
    const first = await oauth('del-idp');
    assert.equal(first.status, 200);
    const pb = server.client();
    pb.authStore.save(first.body.token);
    await pb.collection('users').delete(first.body.record.id);
    assert.equal((await linksOfIdentity('del-idp')).length, 0);
    const again = await oauth('del-idp');
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.notEqual(again.body.record.id, first.body.record.id);
    assert.equal(again.body.meta.isNew, true);
  });

  it('matches a verified provider email to an existing account case-insensitively', async () => {
    const owner = await createPasswordUser('casey@example.com', 'casey-password-1');
    account({ sub: 'casey-idp', email: 'Casey@Example.COM', email_verified: true });
    const res = await oauth('casey-idp');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.record.id, owner.id);
    assert.equal(res.body.meta.isNew, false);
    const all = await server.admin
      .collection('users')
      .getFullList({ filter: server.admin.filter('email ~ {:e}', { e: 'casey@' }) });
    assert.equal(all.length, 1);
  });

  it('links a verified email to a verified account without touching its password or sessions', async () => {
    const owner = await createPasswordUser('verified-owner@example.com', 'owner-password-1');
    await server.admin.collection('users').update(owner.id, { verified: true });
    account({ sub: 'vo-idp', email: 'verified-owner@example.com', email_verified: true });
    const res = await oauth('vo-idp');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.record.id, owner.id);
    assert.equal((await passwordSignIn('verified-owner@example.com', 'owner-password-1')).status, 200);
    const refresh = await server.request('POST', '/api/collections/users/auth-refresh', {
      token: owner.token,
    });
    assert.equal(refresh.status, 200);
  });

  it('refuses an unverified provider email that matches an existing account', async () => {
    const owner = await createPasswordUser('careful@example.com', 'careful-password-1');
    const before = await server.admin.collection('users').getOne(owner.id);
    for (const email_verified of [false, undefined]) {
      const sub = `unverified-${String(email_verified)}`;
      account({ sub, email: 'careful@example.com', ...(email_verified === false ? { email_verified } : {}) });
      const res = await oauth(sub);
      assert.equal(res.status, 400);
      assert.equal(
        res.body.message,
        'An account with this email already exists; sign in to it first, then link this provider.',
      );
      assert.equal((await linksOfIdentity(sub)).length, 0);
    }
    assert.equal((await linksOf(owner.id)).length, 0);
    assert.deepEqual(await server.admin.collection('users').getOne(owner.id), before);
    assert.equal((await passwordSignIn('careful@example.com', 'careful-password-1')).status, 200);
    const refresh = await server.request('POST', '/api/collections/users/auth-refresh', {
      token: owner.token,
    });
    assert.equal(refresh.status, 200);
  });

  it('creates an unverified account for an unverified provider email nobody has', async () => {
    account({ sub: 'unv-new', email: 'unverified-new@example.com', email_verified: false, name: 'Unv' });
    const res = await oauth('unv-new');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.meta.isNew, true);
    assert.equal(res.body.record.email, 'unverified-new@example.com');
    assert.equal(res.body.record.verified, false);
    assert.equal((await linksOf(res.body.record.id)).length, 1);
  });

  it('links an identity to the signed-in user, and to nobody else after that', async () => {
    const ann = await createPasswordUser('ann-link@example.com', 'ann-password-1');
    const bob = await createPasswordUser('bob-link@example.com', 'bob-password-1');
    account({ sub: 'shared-idp', email: 'someone-else@example.com', email_verified: true });
    const linked = await oauth('shared-idp', { token: ann.token });
    assert.equal(linked.status, 200, JSON.stringify(linked.body));
    assert.equal(linked.body.record.id, ann.id);
    assert.equal(linked.body.record.email, 'ann-link@example.com', 'linking does not change the email');
    const pbAnn = server.client();
    pbAnn.authStore.save(ann.token);
    const annLinks = await pbAnn.collection('_externalAuths').getFullList();
    assert.deepEqual(
      annLinks.map((l) => [l.provider, l.providerId]),
      [['oidc', 'shared-idp']],
    );
    // Linking it again as Ann is a no-op.
    const twice = await oauth('shared-idp', { token: ann.token });
    assert.equal(twice.status, 200);
    assert.equal((await linksOf(ann.id)).length, 1);

    const stolen = await oauth('shared-idp', { token: bob.token });
    assert.equal(stolen.status, 400);
    assert.equal(stolen.body.message, 'This OAuth2 identity is already linked to another account.');
    assert.equal((await linksOf(bob.id)).length, 0);
    // Bob cannot see Ann's link either.
    const pbBob = server.client();
    pbBob.authStore.save(bob.token);
    assert.deepEqual(await pbBob.collection('_externalAuths').getFullList(), []);
    // A guest signing in with the identity gets Ann's account.
    const guest = await oauth('shared-idp');
    assert.equal(guest.status, 200);
    assert.equal(guest.body.record.id, ann.id);
  });

  it('refuses a second identity of the same provider for an account that has one, without a 500', async () => {
    // One link per (account, provider): PocketBase's unique index, which Plinth's `_externalAuths` has too.
    account({ sub: 'dup-first', email: 'dup@example.com', email_verified: true });
    const first = await oauth('dup-first');
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const id = String(first.body.record.id);

    // Another identity at the same provider, same verified email, not signed in.
    account({ sub: 'dup-same-email', email: 'dup@example.com', email_verified: true });
    const byEmail = await oauth('dup-same-email');
    assert.equal(byEmail.status, 400, JSON.stringify(byEmail.body));
    assert.equal(typeof byEmail.body.message, 'string');

    // Another identity at the same provider, linked while signed in.
    account({ sub: 'dup-signed-in', email: 'dup-other@example.com', email_verified: true });
    const signedIn = await oauth('dup-signed-in', { token: first.body.token });
    assert.equal(signedIn.status, 400, JSON.stringify(signedIn.body));
    assert.equal(typeof signedIn.body.message, 'string');

    assert.deepEqual(
      (await linksOf(id)).map((l) => l.providerId),
      ['dup-first'],
    );
    assert.equal((await usersWithEmail('dup-other@example.com')).length, 0);
  });

  it('lets the owner unlink; afterwards the documented matching rules apply again', async () => {
    // An identity whose verified email is the account's: unlinking and signing in links it again.
    account({ sub: 'unlink-same', email: 'unlink-same@example.com', email_verified: true });
    const first = await oauth('unlink-same');
    assert.equal(first.status, 200);
    const pb = server.client();
    pb.authStore.save(first.body.token);
    const [link] = await pb.collection('_externalAuths').getFullList();
    assert.ok(link);
    await pb.collection('_externalAuths').delete(link.id);
    assert.equal((await linksOf(first.body.record.id)).length, 0);
    const relinked = await oauth('unlink-same');
    assert.equal(relinked.status, 200);
    assert.equal(relinked.body.record.id, first.body.record.id);
    assert.equal(relinked.body.meta.isNew, false);
    assert.equal((await linksOf(first.body.record.id)).length, 1);

    // An identity with another email, linked while signed in: once unlinked it is a stranger.
    const carl = await createPasswordUser('carl@example.com', 'carl-password-1');
    account({ sub: 'unlink-other', email: 'carl-elsewhere@example.com', email_verified: true });
    assert.equal((await oauth('unlink-other', { token: carl.token })).status, 200);
    const pbCarl = server.client();
    pbCarl.authStore.save(carl.token);
    const [carlLink] = await pbCarl.collection('_externalAuths').getFullList();
    assert.ok(carlLink);
    // Nobody else may delete it.
    const other = server.client();
    other.authStore.save(first.body.token);
    await assert.rejects(other.collection('_externalAuths').delete(carlLink.id), (e: { status: number }) =>
      [403, 404].includes(e.status),
    );
    await pbCarl.collection('_externalAuths').delete(carlLink.id);
    const stranger = await oauth('unlink-other');
    assert.equal(stranger.status, 200);
    assert.notEqual(stranger.body.record.id, carl.id);
    assert.equal(stranger.body.record.email, 'carl-elsewhere@example.com');
    assert.equal(stranger.body.meta.isNew, true);
  });

  it('applies and validates createData; it cannot set a known password or the verified flag', async () => {
    account({ sub: 'cd-1', email: 'cd1@example.com', email_verified: false, name: 'Mapped' });
    const applied = await oauth('cd-1', { createData: { bio: 'hello', name: 'Chosen' } });
    assert.equal(applied.status, 200, JSON.stringify(applied.body));
    assert.equal(applied.body.record.bio, 'hello');
    assert.equal(applied.body.record.name, 'Chosen');

    account({ sub: 'cd-2', email: 'cd2@example.com', email_verified: true });
    const bad = await oauth('cd-2', { createData: { bio: 'x'.repeat(50) } });
    assert.equal(bad.status, 400);
    assert.equal(typeof bad.body.data.bio?.code, 'string');
    assert.equal((await usersWithEmail('cd2@example.com')).length, 0);
    assert.equal((await linksOfIdentity('cd-2')).length, 0);

    account({ sub: 'cd-3', email: 'cd3@example.com', email_verified: false });
    const known = await oauth('cd-3', {
      createData: {
        password: 'known-password-1',
        passwordConfirm: 'known-password-1',
        email: 'chosen@example.com',
      },
    });
    assert.equal(known.status, 200, JSON.stringify(known.body));
    assert.equal(known.body.record.email, 'cd3@example.com', "the provider's email wins");
    assert.equal(known.body.record.verified, false);
    assert.equal((await passwordSignIn('cd3@example.com', 'known-password-1')).status, 400);
    assert.equal((await usersWithEmail('chosen@example.com')).length, 0);

    account({ sub: 'cd-4', email: 'cd4@example.com', email_verified: false });
    const verified = await oauth('cd-4', { createData: { verified: true } });
    // As for any guest sign-up: only superusers and managers set `verified`.
    assert.equal(verified.status, 400);
    assert.equal(verified.body.data.verified?.code, 'validation_manage_only');
    assert.equal((await usersWithEmail('cd4@example.com')).length, 0);
    assert.equal((await linksOfIdentity('cd-4')).length, 0);

    const notObject = await post({
      provider: 'oidc',
      code: 'irrelevant',
      codeVerifier: 'x'.repeat(56),
      redirectURL: REDIRECT,
      createData: ['x'],
    });
    // PocketBase cannot load a createData that is not an object: 400 with empty data.
    assert.equal(notObject.status, 400);
    assert.deepEqual(notObject.body.data, {});
  });

  it('asks for a second method when MFA is on, and accepts a password with the mfaId', async () => {
    await server.admin.collections.create({
      name: 'mfa_users',
      type: 'auth',
      createRule: '',
      fields: [],
      mfa: { enabled: true },
      oauth2: { enabled: true, providers: [providerConfig] },
    });
    const created = await server.admin.collection('mfa_users').create({
      email: 'mfa@example.com',
      password: 'mfa-password-1',
      passwordConfirm: 'mfa-password-1',
      verified: true,
    });
    account({ sub: 'mfa-idp', email: 'mfa@example.com', email_verified: true });
    const first = await oauth('mfa-idp', { collection: 'mfa_users' });
    assert.equal(first.status, 401, JSON.stringify(first.body));
    assert.equal(typeof first.body.mfaId, 'string');
    assert.ok(!first.body.token);

    const pb = server.client();
    const second = await pb
      .collection('mfa_users')
      .authWithPassword('mfa@example.com', 'mfa-password-1', { mfaId: first.body.mfaId });
    assert.ok(second.token);
    assert.equal(second.record.id, created.id);

    // The reverse order works as well: password first, then OAuth2 with the mfaId.
    const pw = await passwordSignIn('mfa@example.com', 'mfa-password-1', 'mfa_users');
    assert.equal(pw.status, 401);
    const viaOAuth = await oauth('mfa-idp', {
      collection: 'mfa_users',
      query: `?mfaId=${encodeURIComponent(pw.body.mfaId)}`,
    });
    assert.equal(viaOAuth.status, 200, JSON.stringify(viaOAuth.body));
    assert.equal(viaOAuth.body.record.id, created.id);
  });

  it('does not create accounts when the create rule forbids it, but signs linked users in', async () => {
    await server.admin.collections.create({
      name: 'closed_users',
      type: 'auth',
      createRule: null,
      fields: [],
      oauth2: { enabled: true, providers: [providerConfig] },
    });
    const existing = await server.admin.collection('closed_users').create({
      email: 'insider@example.com',
      password: 'insider-password-1',
      passwordConfirm: 'insider-password-1',
      verified: true,
    });
    account({ sub: 'insider-idp', email: 'insider@example.com', email_verified: true });
    const linked = await oauth('insider-idp', { collection: 'closed_users' });
    assert.equal(linked.status, 200, JSON.stringify(linked.body));
    assert.equal(linked.body.record.id, existing.id);

    account({ sub: 'outsider-idp', email: 'outsider@example.com', email_verified: true });
    const refused = await oauth('outsider-idp', { collection: 'closed_users' });
    assert.ok([400, 403].includes(refused.status), String(refused.status));
    assert.equal(refused.body.status, refused.status);
    assert.equal(typeof refused.body.message, 'string');
    assert.equal(typeof refused.body.data, 'object');
    assert.ok(!refused.body.token);
    assert.equal((await usersWithEmail('outsider@example.com', 'closed_users')).length, 0);
    assert.equal((await linksOfIdentity('outsider-idp')).length, 0);

    const again = await oauth('insider-idp', { collection: 'closed_users' });
    assert.equal(again.status, 200);
    assert.equal(again.body.record.id, existing.id);
  });

  it('refuses disabled OAuth2, unknown providers and providers without a client id', async () => {
    await server.admin.collections.create({ name: 'plain_users', type: 'auth', fields: [] });
    const methods = await server.client().collection('plain_users').listAuthMethods();
    assert.equal(methods.oauth2.enabled, false);
    assert.deepEqual(methods.oauth2.providers, []);
    const body = { provider: 'oidc', code: 'c', codeVerifier: 'x'.repeat(56), redirectURL: REDIRECT };
    // 403, as PocketBase answers a switched-off method (record_auth_with_oauth2_test "disabled OAuth2 auth").
    const disabled = await post(body, { collection: 'plain_users' });
    assert.equal(disabled.status, 403);
    assert.equal(typeof disabled.body.message, 'string');

    for (const provider of ['google', 'nope', 'oidc3', 'constructor', '__proto__', 'toString']) {
      const res = await post({ ...body, provider });
      assert.equal(res.status, 400, provider);
      assert.equal(res.body.data.provider?.code, 'validation_invalid_provider', provider);
    }
    const noClient = await post({ ...body, provider: 'oidc2' });
    assert.equal(noClient.status, 400);
    assert.equal(noClient.body.data.provider?.code, 'validation_invalid_provider');
  });

  it('refuses a provider entry named after an Object.prototype key', async () => {
    await server.admin.collections.create({
      name: 'proto_users',
      type: 'auth',
      createRule: '',
      fields: [],
      oauth2: { enabled: true, providers: [{ ...providerConfig, name: 'constructor' }] },
    });
    const methods = await server.client().collection('proto_users').listAuthMethods();
    assert.deepEqual(
      methods.oauth2.providers.map((p) => p.name),
      [],
      '"constructor" is neither a preset nor a generic slot',
    );
  });

  it('lists presets saved in PocketBase’s shape (unset URLs as empty strings)', async () => {
    // What PocketBase's dashboard and collection exports hold for a preset with default URLs.
    const entry = (name: string) => ({
      name,
      clientId: `${name}-client`,
      clientSecret: 'secret',
      authURL: '',
      tokenURL: '',
      userInfoURL: '',
      displayName: '',
      pkce: null,
      extra: null,
    });
    const names = ['google', 'github', 'gitlab', 'microsoft', 'apple', 'discord'];
    await server.admin.collections.create({
      name: 'pb_shape_users',
      type: 'auth',
      fields: [],
      oauth2: { enabled: true, providers: names.map(entry) },
    });
    const methods = await server.client().collection('pb_shape_users').listAuthMethods();
    assert.deepEqual(
      methods.oauth2.providers.map((p) => p.name),
      names,
    );
    const github = methods.oauth2.providers.find((p) => p.name === 'github');
    assert.ok(github?.authURL.startsWith('https://github.com/login/oauth/authorize?'));
  });

  it('answers hostile input with 400, never 500', async () => {
    const valid = { provider: 'oidc', code: 'c', codeVerifier: 'x'.repeat(56), redirectURL: REDIRECT };
    const path = '/api/collections/users/auth-with-oauth2';
    for (const rawBody of ['[]', '"x"', 'null', '123', 'true', '{', '{"provider":']) {
      const res = await server.request('POST', path, {
        rawBody,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(res.status, 400, rawBody);
      assert.equal(res.body.status, 400);
    }
    const form = await server.request('POST', path, {
      rawBody: 'provider=oidc&code=c',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.ok(form.status >= 400 && form.status < 500, String(form.status));

    // A field error names the field; a value of the wrong JSON type is a body PocketBase cannot load
    // (400, empty data); `createData: null` is no createData, so the made-up code fails at the provider.
    const cases: [Record<string, unknown>, string | null][] = [
      [{ ...valid, provider: 1 }, null],
      [{ ...valid, provider: ['oidc'] }, null],
      [{ ...valid, provider: { $ne: '' } }, null],
      [{ ...valid, provider: '' }, 'provider'],
      [{ ...valid, code: { $gt: '' } }, null],
      [{ ...valid, code: '' }, 'code'],
      [{ ...valid, code: 'c'.repeat(100_000) }, 'code'],
      [{ ...valid, codeVerifier: ['x'] }, null],
      [{ ...valid, codeVerifier: 'v'.repeat(129) }, 'codeVerifier'],
      [{ ...valid, redirectURL: true }, null],
      [{ ...valid, redirectURL: 'javascript:alert(1)' }, 'redirectURL'],
      [{ ...valid, redirectURL: 'data:text/html,<script>alert(1)</script>' }, 'redirectURL'],
      [{ ...valid, redirectURL: 'file:///etc/passwd' }, 'redirectURL'],
      [{ ...valid, redirectURL: `http://x/${'a'.repeat(5000)}` }, 'redirectURL'],
      [{ ...valid, createData: 'x' }, null],
      [{ ...valid, createData: null }, null],
      [{ ...valid, provider: 'p'.repeat(200_000) }, 'provider'],
    ];
    for (const [body, field] of cases) {
      const res = await post(body);
      const label = `${field}: ${JSON.stringify(res.body).slice(0, 200)}`;
      assert.equal(res.status, 400, label);
      if (field) assert.ok(res.body.data?.[field]?.code, label);
      else assert.deepEqual(res.body.data, {}, label);
    }
    // A well-formed request with a made-up code: the provider refuses it.
    const madeUp = await post(valid);
    assert.equal(madeUp.status, 400);
    assert.equal(madeUp.body.message, FAILED);
    // Prototype pollution attempts in createData stay data.
    const polluted = await server.request('POST', path, {
      rawBody: `{"provider":"oidc","code":"c","codeVerifier":"${'x'.repeat(56)}","redirectURL":"${REDIRECT}","createData":{"__proto__":{"verified":true}}}`,
      headers: { 'content-type': 'application/json' },
    });
    assert.ok(polluted.status === 400, String(polluted.status));
    assert.equal(({} as Record<string, unknown>).verified, undefined);
  });

  describe('the avatar, mapped to the file field `avatar`', () => {
    const spool = () => {
      const dir = join(server.dataDir, '.uploads');
      return existsSync(dir) ? readdirSync(dir) : [];
    };
    async function signUp(sub: string, picture: string) {
      account({ sub, email: `${sub}@example.com`, email_verified: true, picture });
      const res = await oauth(sub);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.meta.isNew, true);
      return res.body.record;
    }

    it('downloads it into the field at sign-up, typed by its content', async () => {
      const record = await signUp('avatar-1', `${images.url}/people/alice.png`);
      assert.match(record.avatar, /^alice_\w{10}\.png$/);
      const file = await fetch(`${server.url}/api/files/users/${record.id}/${record.avatar}`);
      assert.equal(file.status, 200);
      assert.equal(file.headers.get('content-type'), 'image/png');
      assert.deepEqual(Buffer.from(await file.arrayBuffer()), PNG);
      assert.deepEqual(spool(), [], 'no spool file left');
    });

    it('follows a redirect to an allowed address', async () => {
      const record = await signUp(
        'avatar-2',
        `${images.url}/redirect?to=${encodeURIComponent(`${images.url}/x/bob.png`)}`,
      );
      assert.match(record.avatar, /^bob_\w{10}\.png$/);
    });

    it('signs up without it when it cannot be had, and never reaches a refused address', async () => {
      const refused = `http://127.0.0.2:${images.port}/secret.png`;
      const cases = [
        refused, // loopback, not allowed
        `${images.url}/redirect?to=${encodeURIComponent(refused)}`, // redirected there
        `${images.url}/page.html`, // not an image (the field takes images only)
        `${images.url}/big.png`, // past the field's 5 MiB, declared
        `${images.url}/big.png?chunked=1`, // past it, streamed without a length
        `${images.url}/missing.png`, // 404
        'file:///etc/passwd',
        `http://[::ffff:127.0.0.2]:${images.port}/secret.png`,
      ];
      const ids: string[] = [];
      for (const [i, picture] of cases.entries()) {
        const record = await signUp(`avatar-no-${i}`, picture);
        assert.equal(record.avatar, '', picture);
        ids.push(record.id);
      }
      assert.equal(images.hits('/secret.png'), 0, 'the refused address was never asked');
      assert.deepEqual(spool(), []);
      for (const id of ids) assert.ok(!existsSync(join(server.dataDir, 'storage', '_pb_users_auth_', id)));
    });
  });
});

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

/**
 * Avatars on loopback: `*.png` is a PNG, `/page.html` a page, `/big.png` 6 MiB, `/redirect?to=URL` a 302.
 * Listens on 127.0.0.1 and 127.0.0.2, counting the requests for each path.
 */
async function startImages() {
  const counts = new Map<string, number>();
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://images');
    counts.set(url.pathname, (counts.get(url.pathname) ?? 0) + 1);
    if (url.pathname === '/redirect') {
      res.writeHead(302, { location: url.searchParams.get('to') ?? '/' }).end();
    } else if (url.pathname === '/page.html') {
      res.writeHead(200, { 'content-type': 'image/png' }).end('<!doctype html><html><body>hi</body></html>');
    } else if (url.pathname === '/big.png') {
      const body = Buffer.concat([PNG, Buffer.alloc(6 << 20)]);
      if (url.searchParams.has('chunked')) {
        res.writeHead(200, { 'content-type': 'image/png' });
        for (let i = 0; i < body.length; i += 1 << 20) res.write(body.subarray(i, i + (1 << 20)));
        res.end();
      } else res.writeHead(200, { 'content-length': body.length }).end(body);
    } else if (url.pathname.endsWith('.png') && url.pathname !== '/missing.png') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(PNG);
    } else res.writeHead(404).end();
  };
  const servers: Server[] = [];
  for (const host of ['127.0.0.1', '127.0.0.2']) {
    const srv = createServer(handler);
    await new Promise<void>((resolve) =>
      srv.listen(servers[0] ? (servers[0].address() as AddressInfo).port : 0, host, resolve),
    );
    servers.push(srv);
  }
  const port = ((servers[0] as Server).address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    hits: (path: string) => counts.get(path) ?? 0,
    close: () => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))),
  };
}
