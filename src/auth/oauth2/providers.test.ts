import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GENERIC_OIDC, mapOidcUser, PRESETS, type ProviderPreset, resolveProvider } from './providers.ts';

// The preset user mappers with payloads shaped like each provider's real answers, and resolveProvider.

const preset = (name: string): ProviderPreset => {
  const p = PRESETS[name];
  assert.ok(p, name);
  return p;
};

describe('Google (OpenID Connect userinfo)', () => {
  const raw = {
    sub: '110169484474386276334',
    name: 'Ada Lovelace',
    given_name: 'Ada',
    family_name: 'Lovelace',
    picture: 'https://lh3.googleusercontent.com/a/ACg8ocJ-example=s96-c',
    email: 'ada.lovelace@gmail.com',
    email_verified: true,
    locale: 'en',
  };

  it('maps the standard claims', () => {
    assert.deepEqual(preset('google').mapUser(raw), {
      id: '110169484474386276334',
      name: 'Ada Lovelace',
      username: '',
      email: 'ada.lovelace@gmail.com',
      emailVerified: true,
      avatarURL: 'https://lh3.googleusercontent.com/a/ACg8ocJ-example=s96-c',
      rawUser: raw,
    });
  });

  it('treats a missing or false email_verified as unverified', () => {
    const { email_verified: _, ...noClaim } = raw;
    assert.equal(preset('google').mapUser(noClaim).emailVerified, false);
    assert.equal(preset('google').mapUser({ ...raw, email_verified: false }).emailVerified, false);
  });

  it('is an OpenID Connect provider with Google issuers', () => {
    const google = preset('google');
    assert.deepEqual(google.oidc?.issuers.sort(), ['accounts.google.com', 'https://accounts.google.com']);
    assert.ok(google.scopes.includes('openid'));
  });
});

describe('GitLab (OpenID Connect userinfo)', () => {
  const raw = {
    sub: '4242424',
    sub_legacy: '2b5e8e8b6b8d3f0c9a1e4b6f',
    name: 'Grace Hopper',
    nickname: 'ghopper',
    preferred_username: 'grace.hopper',
    email: 'grace@example.org',
    email_verified: true,
    website: '',
    profile: 'https://gitlab.com/grace.hopper',
    picture: 'https://gitlab.com/uploads/-/system/user/avatar/4242424/avatar.png',
    groups: ['navy', 'cobol'],
  };

  it('maps the claims, preferring preferred_username', () => {
    const user = preset('gitlab').mapUser(raw);
    assert.equal(user.id, '4242424');
    assert.equal(user.name, 'Grace Hopper');
    assert.equal(user.username, 'grace.hopper');
    assert.equal(user.email, 'grace@example.org');
    assert.equal(user.emailVerified, true);
    assert.equal(user.avatarURL, raw.picture);
    assert.equal(user.rawUser, raw);
  });

  it('falls back to nickname for the username', () => {
    const { preferred_username: _, ...rest } = raw;
    assert.equal(preset('gitlab').mapUser(rest).username, 'ghopper');
  });

  it('does not trust an unconfirmed secondary email', () => {
    assert.equal(preset('gitlab').mapUser({ ...raw, email_verified: false }).emailVerified, false);
  });
});

describe('GitHub (/user and /user/emails)', () => {
  const user = {
    login: 'octocat',
    id: 583231,
    node_id: 'MDQ6VXNlcjU4MzIzMQ==',
    avatar_url: 'https://avatars.githubusercontent.com/u/583231?v=4',
    type: 'User',
    site_admin: false,
    name: 'The Octocat',
    company: '@github',
    email: 'octocat@github.com',
    created_at: '2011-01-25T18:44:36Z',
  };
  const github = preset('github');
  const pick = (list: unknown) => {
    assert.ok(github.verifiedEmail);
    return github.verifiedEmail.pick(list);
  };

  it('maps /user without trusting its public email', () => {
    assert.deepEqual(github.mapUser(user), {
      id: '583231',
      name: 'The Octocat',
      username: 'octocat',
      email: '',
      emailVerified: false,
      avatarURL: 'https://avatars.githubusercontent.com/u/583231?v=4',
      rawUser: user,
    });
  });

  it('asks /user/emails for the address', () => {
    assert.equal(github.verifiedEmail?.url, 'https://api.github.com/user/emails');
    assert.ok(github.scopes.includes('user:email'));
    assert.equal(github.oidc, undefined);
  });

  it('picks the verified primary email', () => {
    const emails = [
      { email: 'octo-old@example.com', verified: true, primary: false, visibility: null },
      { email: 'octocat@github.com', verified: true, primary: true, visibility: 'public' },
      { email: '583231+octocat@users.noreply.github.com', verified: true, primary: false, visibility: null },
    ];
    assert.equal(pick(emails), 'octocat@github.com');
  });

  it('picks nothing when the primary email is unverified, even if another is verified', () => {
    const emails = [
      { email: 'victim@example.com', verified: false, primary: true, visibility: 'private' },
      { email: 'octo-old@example.com', verified: true, primary: false, visibility: null },
    ];
    assert.equal(pick(emails), '');
  });

  it('picks nothing from error answers and junk', () => {
    for (const answer of [
      { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' },
      { message: 'Not Found' },
      [],
      [null, 1, 'x', { email: 'a@example.com', primary: 'true', verified: 'true' }],
      [{ email: 'a@example.com', primary: true }],
      [{ primary: true, verified: true }],
      null,
      'octocat@github.com',
    ]) {
      assert.equal(pick(answer), '', JSON.stringify(answer));
    }
  });
});

describe('Discord (/users/@me)', () => {
  const raw = {
    id: '80351110224678912',
    username: 'nelly',
    discriminator: '0',
    global_name: 'Nelly',
    avatar: '8342729096ea3675442027381ff50dfe',
    bot: false,
    mfa_enabled: true,
    locale: 'en-US',
    verified: true,
    email: 'nelly@discord.com',
    flags: 64,
    premium_type: 1,
    public_flags: 64,
  };

  it('maps the user and builds the avatar URL', () => {
    assert.deepEqual(preset('discord').mapUser(raw), {
      id: '80351110224678912',
      name: 'Nelly',
      username: 'nelly',
      email: 'nelly@discord.com',
      emailVerified: true,
      avatarURL: 'https://cdn.discordapp.com/avatars/80351110224678912/8342729096ea3675442027381ff50dfe.png',
      rawUser: raw,
    });
  });

  it('treats verified false as an unverified email', () => {
    assert.equal(preset('discord').mapUser({ ...raw, verified: false }).emailVerified, false);
  });

  it('copes with no avatar, no global name and no email scope', () => {
    const { email: _e, verified: _v, ...noEmail } = raw;
    const user = preset('discord').mapUser({ ...noEmail, avatar: null, global_name: null });
    assert.equal(user.avatarURL, '');
    assert.equal(user.name, '');
    assert.equal(user.email, '');
    assert.equal(user.emailVerified, false);
  });
});

describe('Microsoft (Graph OIDC userinfo)', () => {
  const raw = {
    sub: 'OLu859SGc2Sr9ZsqbkG-QbeLgJlb41KcdiPoLYNpSFA',
    name: 'Megan Bowen',
    family_name: 'Bowen',
    given_name: 'Megan',
    picture: 'https://graph.microsoft.com/v1.0/me/photo/$value',
    email: 'MeganB@contoso.onmicrosoft.com',
  };

  it('maps the claims', () => {
    const user = preset('microsoft').mapUser(raw);
    assert.equal(user.id, raw.sub);
    assert.equal(user.name, 'Megan Bowen');
    assert.equal(user.email, 'MeganB@contoso.onmicrosoft.com');
    assert.equal(user.avatarURL, raw.picture);
  });

  it('never treats the email as verified, whatever the claims say', () => {
    for (const email_verified of [true, 'true', undefined]) {
      assert.equal(preset('microsoft').mapUser({ ...raw, email_verified }).emailVerified, false);
    }
  });

  it('is not treated as OpenID Connect (per-tenant issuers): identity comes from userinfo', () => {
    assert.equal(preset('microsoft').oidc, undefined);
    assert.ok(preset('microsoft').userInfoURL);
  });
});

describe('Apple (ID token claims)', () => {
  const claims = {
    iss: 'https://appleid.apple.com',
    aud: 'com.example.web',
    exp: 1_900_000_000,
    iat: 1_899_996_400,
    sub: '001234.5a1b2c3d4e5f60718293a4b5c6d7e8f9.1234',
    c_hash: 'bQ3eB7A2rX2FgV1ZkQhnAA',
    email: 'q7x8y9z0ab@privaterelay.appleid.com',
    email_verified: 'true',
    is_private_email: 'true',
    auth_time: 1_899_996_399,
    nonce_supported: true,
  };

  it('reads email_verified given as the string "true"', () => {
    const user = preset('apple').mapUser(claims);
    assert.equal(user.id, claims.sub);
    assert.equal(user.email, claims.email);
    assert.equal(user.emailVerified, true);
    assert.equal(user.name, '');
  });

  it('reads "false" and anything but true / "true" as unverified', () => {
    for (const email_verified of ['false', 'TRUE', 'True', 'yes', '1', 1, {}, ['true'], null]) {
      assert.equal(
        preset('apple').mapUser({ ...claims, email_verified }).emailVerified,
        false,
        JSON.stringify(email_verified),
      );
    }
    assert.equal(preset('apple').mapUser({ ...claims, email_verified: true }).emailVerified, true);
  });

  it('takes the identity from the ID token alone', () => {
    const apple = preset('apple');
    assert.equal(apple.userInfoURL, '');
    assert.deepEqual(apple.oidc?.issuers, ['https://appleid.apple.com']);
  });
});

describe('mapOidcUser on odd values', () => {
  it('turns numbers into strings and drops non-string values', () => {
    const user = mapOidcUser({
      sub: 12345,
      name: { first: 'A' },
      preferred_username: ['x'],
      email: 42,
      email_verified: 1,
      picture: null,
    });
    assert.equal(user.id, '12345');
    assert.equal(user.name, '');
    assert.equal(user.username, '');
    assert.equal(user.email, '42');
    assert.equal(user.emailVerified, false);
    assert.equal(user.avatarURL, '');
  });

  it('maps an empty payload to an empty user (which the flow refuses for its missing id)', () => {
    const user = mapOidcUser({});
    assert.equal(user.id, '');
    assert.equal(user.emailVerified, false);
  });
});

describe('resolveProvider', () => {
  const urls = {
    authURL: 'https://idp.example/auth',
    tokenURL: 'https://idp.example/token',
    userInfoURL: 'https://idp.example/userinfo',
  };

  it('gives each preset its built-in URLs', () => {
    for (const name of Object.keys(PRESETS)) {
      const p = resolveProvider({ name, clientId: 'id', clientSecret: 'secret' });
      assert.ok(p, name);
      assert.equal(p.authURL, preset(name).authURL, name);
      assert.equal(p.tokenURL, preset(name).tokenURL, name);
      assert.equal(p.userInfoURL, preset(name).userInfoURL, name);
      assert.equal(p.displayName, preset(name).displayName, name);
      assert.deepEqual(p.scopes, preset(name).scopes, name);
      assert.deepEqual(p.oidc, preset(name).oidc, name);
      assert.equal(p.mapUser, preset(name).mapUser, name);
    }
  });

  it('lets the collection override URLs, display name, scopes, issuers and key set', () => {
    const p = resolveProvider({
      name: 'gitlab',
      clientId: 'id',
      ...urls,
      displayName: 'Company GitLab',
      extra: {
        jwksURL: 'https://idp.example/jwks',
        issuers: ['https://idp.example'],
        scopes: ['openid', 'email'],
      },
    });
    assert.ok(p);
    assert.equal(p.authURL, urls.authURL);
    assert.equal(p.tokenURL, urls.tokenURL);
    assert.equal(p.userInfoURL, urls.userInfoURL);
    assert.equal(p.displayName, 'Company GitLab');
    assert.deepEqual(p.scopes, ['openid', 'email']);
    assert.deepEqual(p.oidc, { jwksURL: 'https://idp.example/jwks', issuers: ['https://idp.example'] });
    assert.equal(p.mapUser, mapOidcUser);
  });

  it('keeps the preset parts a collection does not override', () => {
    const p = resolveProvider({ name: 'google', clientId: 'id', authURL: urls.authURL });
    assert.ok(p);
    assert.equal(p.authURL, urls.authURL);
    assert.equal(p.tokenURL, preset('google').tokenURL);
    assert.deepEqual(p.oidc, preset('google').oidc);
    const github = resolveProvider({ name: 'github', clientId: 'id', ...urls });
    assert.ok(github?.verifiedEmail, 'GitHub keeps its verified-email lookup');
    assert.equal(github.mapUser, preset('github').mapUser);
  });

  it('reads entries saved in PocketBase’s shape (empty strings and nulls mean “not set”)', () => {
    // PocketBase stores every key of a provider entry, unset ones as "" and null.
    const wrong: string[] = [];
    for (const name of Object.keys(PRESETS)) {
      const p = resolveProvider({
        name,
        clientId: 'id',
        clientSecret: 'secret',
        authURL: '',
        tokenURL: '',
        userInfoURL: '',
        displayName: '',
        pkce: null,
        extra: null,
      });
      if (!p) wrong.push(`${name}: not resolved`);
      else
        for (const key of ['authURL', 'tokenURL', 'userInfoURL', 'displayName'] as const)
          if (p[key] !== preset(name)[key]) wrong.push(`${name}: ${key} ${JSON.stringify(p[key])}`);
    }
    assert.deepEqual(wrong, []);
  });

  it('refuses unknown names, including Object.prototype keys', () => {
    for (const name of ['facebook', '', 'Google', 'constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      assert.equal(resolveProvider({ name, clientId: 'id' }), undefined, name);
      assert.equal(resolveProvider({ name, clientId: 'id', ...urls }), undefined, `${name} with URLs`);
    }
  });

  it('needs the URLs for a generic OpenID Connect slot', () => {
    for (const name of GENERIC_OIDC) {
      assert.equal(resolveProvider({ name, clientId: 'id' }), undefined, name);
      assert.equal(resolveProvider({ name, clientId: 'id', authURL: urls.authURL }), undefined, name);
      assert.equal(
        resolveProvider({ name, clientId: 'id', authURL: urls.authURL, tokenURL: urls.tokenURL }),
        undefined,
        `${name}: neither userinfo nor an ID token to learn who the user is`,
      );
      assert.equal(
        resolveProvider({
          name,
          clientId: 'id',
          authURL: urls.authURL,
          tokenURL: urls.tokenURL,
          extra: { jwksURL: 'https://idp.example/jwks', issuers: [] },
        }),
        undefined,
        `${name}: a key set without issuers is not enough`,
      );
    }
  });

  it('makes a generic slot with userinfo plain OAuth2, and one with a key set and issuers OIDC', () => {
    const plain = resolveProvider({ name: 'oidc2', clientId: 'id', ...urls });
    assert.ok(plain);
    assert.equal(plain.oidc, undefined);
    assert.equal(plain.displayName, 'OIDC');
    assert.deepEqual(plain.scopes, ['openid', 'email', 'profile']);
    assert.equal(plain.mapUser, mapOidcUser);
    assert.equal(plain.verifiedEmail, undefined);

    const idTokenOnly = resolveProvider({
      name: 'oidc3',
      clientId: 'id',
      authURL: urls.authURL,
      tokenURL: urls.tokenURL,
      extra: { jwksURL: 'https://idp.example/jwks', issuers: ['https://idp.example'] },
    });
    assert.ok(idTokenOnly);
    assert.equal(idTokenOnly.userInfoURL, '');
    assert.deepEqual(idTokenOnly.oidc, {
      jwksURL: 'https://idp.example/jwks',
      issuers: ['https://idp.example'],
    });
  });

  it('stringifies scopes and issuers given as other types, and ignores non-list ones', () => {
    const p = resolveProvider({
      name: 'oidc',
      clientId: 'id',
      ...urls,
      extra: {
        jwksURL: 'https://idp.example/jwks',
        scopes: [1, 'email'] as unknown as string[],
        issuers: 'https://idp.example' as unknown as string[],
      },
    });
    assert.ok(p);
    assert.deepEqual(p.scopes, ['1', 'email']);
    assert.equal(p.oidc, undefined, 'a lone string is not a list of issuers');
  });
});
