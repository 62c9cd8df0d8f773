import assert from 'node:assert/strict';
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
  sign,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  type JSONWebKeySet,
  type JWK,
  jwtVerify,
} from 'jose';
import { createSecretBox } from '../src/lib/index.ts';
import { readParam, SESSIONS_NAME } from '../src/schema/index.ts';
import { SUPERUSER, startServer, type TestServer, useSmtp } from './helpers/server.ts';
import { type SmtpCapture, startSmtp } from './helpers/smtp.ts';

const USERS = '/api/collections/users';
const SUPERUSERS_ID = 'pbc_3142635823';
const AUD = 'plinth:auth';

type Claims = Record<string, unknown>;
type Header = Record<string, unknown>;

const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** A JWT with exactly this header and payload, signed by `signer` over `header.payload` (no library checks). */
function rawToken(header: Header, payload: Claims, signer: (input: Buffer) => Buffer): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${signer(Buffer.from(input)).toString('base64url')}`;
}

/** Signs with an Ed25519 or P-256 key object, whatever the header claims. */
const keySigner = (key: KeyObject) => (input: Buffer) =>
  key.asymmetricKeyType === 'ed25519'
    ? sign(null, input, key)
    : sign('sha256', input, { key, dsaEncoding: 'ieee-p1363' });

const hmacSigner = (secret: Buffer | string) => (input: Buffer) =>
  createHmac('sha256', secret).update(input).digest();

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('token security and the JWKS', () => {
  let server: TestServer;
  let smtp: SmtpCapture;
  let ann: { id: string; email: string; password: string };
  let bob: { id: string; email: string; password: string };
  let annToken = '';

  before(async () => {
    server = await startServer();
    smtp = await startSmtp();
    await useSmtp(server, smtp);
    ann = { id: '', email: 'ann@example.com', password: 'ann-password-1' };
    bob = { id: '', email: 'bob@example.com', password: 'bob-password-1' };
    for (const u of [ann, bob])
      u.id = (
        await server.admin
          .collection('users')
          .create({ email: u.email, password: u.password, passwordConfirm: u.password })
      ).id;
    annToken = await signIn(ann);
  });
  after(async () => {
    await server.close();
    await smtp.close();
  });

  async function signIn(user: { email: string; password: string }): Promise<string> {
    const res = await server.request('POST', `${USERS}/auth-with-password`, {
      body: { identity: user.email, password: user.password },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.token;
  }

  async function jwks(): Promise<JSONWebKeySet> {
    const res = await server.request('GET', '/.well-known/jwks.json');
    assert.equal(res.status, 200);
    return res.body;
  }

  /** Plinth's signing keys as stored (the test reads them from the database to forge exact tokens). */
  async function storedKeys(): Promise<JWK[]> {
    const stored = await readParam<{ keys: { jwk: JWK }[] }>(server.app.db, 'signingKeys');
    assert.ok(stored?.keys.length);
    // Private keys are stored encrypted under the key in the data dir's key file.
    const box = createSecretBox(readFileSync(join(server.dataDir, 'encryption.key'), 'utf8').trim());
    return stored.keys.map((k) => ({ ...k.jwk, d: box.open(String(k.jwk.d), 'signingKey') }));
  }

  /** A token signed with Plinth's real active key: valid unless the claims or header make it not. */
  async function forge(claims: Claims, header: Header = {}): Promise<string> {
    const [jwk] = await storedKeys();
    const key = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
    return rawToken({ alg: jwk!.alg, kid: jwk!.kid, typ: 'JWT', ...header }, claims, keySigner(key));
  }

  /** The claims of ann's real token, for variations. */
  const annClaims = (): Claims => ({ ...decodeJwt(annToken) });

  /** Asserts that a request with this Authorization value is served as a guest and never fails. */
  async function assertGuest(authorization: string, label = authorization.slice(0, 60)): Promise<void> {
    const refresh = await server.request('POST', `${USERS}/auth-refresh`, { token: authorization });
    assert.equal(refresh.status, 401, `auth-refresh with ${label}`);
    assert.equal(refresh.body.status, 401);
    // ann's owner rule would show her own record to her; a guest sees nothing.
    const list = await server.request('GET', `${USERS}/records`, { token: authorization });
    assert.equal(list.status, 200, `list with ${label}`);
    assert.deepEqual(list.body.items, [], `list with ${label}`);
    // The superuser guard answers guests 401 (an authenticated non-superuser would get 403).
    const admin = await server.request('GET', '/api/collections', { token: authorization });
    assert.equal(admin.status, 401, `collections with ${label}`);
  }

  async function assertAuthenticatedAsAnn(authorization: string): Promise<void> {
    const list = await server.request('GET', `${USERS}/records`, { token: authorization });
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.items.map((r: { id: string }) => r.id),
      [ann.id],
    );
  }

  describe('the JWKS', () => {
    it('publishes only public signing keys, with kid, alg and use', async () => {
      const res = await server.request('GET', '/.well-known/jwks.json');
      assert.equal(res.status, 200);
      assert.match(String(res.headers.get('content-type')), /application\/json/);
      assert.ok(res.body.keys.length >= 1);
      for (const key of res.body.keys) {
        assert.equal(typeof key.kid, 'string');
        assert.ok(key.kid.length > 0);
        assert.ok(['EdDSA', 'ES256'].includes(key.alg), key.alg);
        assert.equal(key.use, 'sig');
        for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'])
          assert.equal(key[secret], undefined, `private part ${secret} published`);
      }
      const header = decodeProtectedHeader(annToken);
      assert.ok(res.body.keys.some((k: JWK) => k.kid === header.kid && k.alg === header.alg));
    });

    it('lets another service verify a token with the JWKS alone (local and remote key sets)', async () => {
      const local = await jwtVerify(annToken, createLocalJWKSet(await jwks()), { audience: AUD });
      assert.equal(local.payload.id, ann.id);
      assert.equal(local.payload.type, 'auth');
      assert.equal(local.payload.collectionId, '_pb_users_auth_');
      assert.equal(local.payload.aud, AUD);
      assert.equal(typeof local.payload.sid, 'string');
      assert.ok(Number(local.payload.exp) > nowSeconds());
      const remote = createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`));
      const verified = await jwtVerify(annToken, remote, { audience: AUD });
      assert.equal(verified.payload.id, ann.id);
      await assert.rejects(jwtVerify(annToken, remote, { audience: 'plinth:passwordReset' }));
    });

    it('signs tokens a forger with the real key and correct claims could reproduce (control for the forgeries below)', async () => {
      const token = await forge(annClaims());
      await assertAuthenticatedAsAnn(token);
      // Headers Plinth does not look at, and a payload well within the size limit, change nothing.
      await assertAuthenticatedAsAnn(await forge(annClaims(), { cty: 'JWT', note: 'harmless' }));
      await assertAuthenticatedAsAnn(await forge({ ...annClaims(), pad: 'p'.repeat(2000) }));
      const refresh = await server.request('POST', `${USERS}/auth-refresh`, { token });
      assert.equal(refresh.status, 200);
    });
  });

  describe('attacks on the token make the caller a guest', () => {
    it('alg none, with or without a signature', async () => {
      const claims = annClaims();
      const { kid } = decodeProtectedHeader(annToken);
      const signature = annToken.split('.')[2]!;
      for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
        await assertGuest(`${b64({ alg, kid, typ: 'JWT' })}.${b64(claims)}.`, `alg ${alg}`);
        await assertGuest(`${b64({ alg, kid, typ: 'JWT' })}.${b64(claims)}.${signature}`, `alg ${alg} + sig`);
        await assertGuest(`${b64({ alg, typ: 'JWT' })}.${b64(claims)}.`, `alg ${alg}, no kid`);
      }
    });

    it('HS256 signed with the public key (raw bytes, JWK x, whole JWK, PEM, DER) as the HMAC secret', async () => {
      const claims = annClaims();
      const { kid } = decodeProtectedHeader(annToken);
      const publicJwk = (await jwks()).keys.find((k) => k.kid === kid)!;
      const publicKey = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' });
      const secrets: [string, Buffer | string][] = [
        ['x bytes', Buffer.from(String(publicJwk.x), 'base64url')],
        ['x string', String(publicJwk.x)],
        ['JWK JSON', JSON.stringify(publicJwk)],
        ['SPKI PEM', String(publicKey.export({ type: 'spki', format: 'pem' }))],
        ['SPKI DER', publicKey.export({ type: 'spki', format: 'der' })],
        ['kid', String(kid)],
      ];
      for (const [label, secret] of secrets)
        for (const alg of ['HS256', 'HS384', 'HS512'])
          await assertGuest(
            rawToken({ alg, kid, typ: 'JWT' }, claims, hmacSigner(secret)),
            `${alg} ${label}`,
          );
    });

    it('a token signed by an attacker’s own key, under a fake kid or Plinth’s kid', async () => {
      const claims = annClaims();
      const { kid } = decodeProtectedHeader(annToken);
      const ed = generateKeyPairSync('ed25519').privateKey;
      const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      for (const [alg, key] of [
        ['EdDSA', ed],
        ['ES256', ec],
      ] as const) {
        for (const k of [kid, 'attacker-key', '', '../../etc/passwd', "' OR 1=1 --"])
          await assertGuest(rawToken({ alg, kid: k, typ: 'JWT' }, claims, keySigner(key)), `${alg} kid=${k}`);
        await assertGuest(rawToken({ alg, typ: 'JWT' }, claims, keySigner(key)), `${alg} without kid`);
        await assertGuest(rawToken({ alg, kid: 42 }, claims, keySigner(key)), `${alg} numeric kid`);
      }
    });

    it('the attacker’s key embedded as a jwk header, or referenced by jku, x5u or x5c', async () => {
      let fetched = 0;
      const attacker = generateKeyPairSync('ed25519');
      const attackerJwk = { ...attacker.publicKey.export({ format: 'jwk' }), kid: 'attacker', alg: 'EdDSA' };
      // A key server the attacker controls: Plinth must never fetch from it.
      const keyServer: Server = createServer((_req, res) => {
        fetched++;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: [attackerJwk] }));
      });
      await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', resolve));
      const keyUrl = `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}/jwks.json`;
      try {
        const claims = annClaims();
        const { kid } = decodeProtectedHeader(annToken);
        const signer = keySigner(attacker.privateKey);
        const headers: Header[] = [
          { alg: 'EdDSA', jwk: attackerJwk },
          { alg: 'EdDSA', kid: 'attacker', jwk: attackerJwk },
          { alg: 'EdDSA', kid, jwk: attackerJwk },
          { alg: 'EdDSA', kid: 'attacker', jku: keyUrl },
          { alg: 'EdDSA', kid, jku: keyUrl },
          { alg: 'EdDSA', jku: keyUrl },
          { alg: 'EdDSA', kid: 'attacker', x5u: keyUrl },
          { alg: 'EdDSA', kid, x5c: ['MIIB'] },
          { alg: 'EdDSA', kid, crit: ['exp'] },
        ];
        for (const header of headers)
          await assertGuest(rawToken(header, claims, signer), JSON.stringify(Object.keys(header)));
        // Even with a genuine signature, Plinth refuses tokens that carry key-location headers.
        for (const extra of [{ jwk: attackerJwk }, { jku: keyUrl }, { x5u: keyUrl }, { crit: ['b64'] }])
          await assertGuest(await forge(claims, extra), `real key + ${Object.keys(extra)[0]}`);
        assert.equal(fetched, 0, 'Plinth fetched an attacker-supplied key URL');
      } finally {
        await new Promise((resolve) => keyServer.close(resolve));
      }
    });

    it('Plinth’s kid with the header alg switched (ES256 or HS256 claimed for an EdDSA key)', async () => {
      const claims = annClaims();
      const [h, p, s] = annToken.split('.') as [string, string, string];
      const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Header;
      assert.equal(header.alg, 'EdDSA');
      for (const alg of ['ES256', 'ES384', 'RS256', 'PS256', 'HS256', 'Ed25519', 'Ed448'])
        await assertGuest(`${b64({ ...header, alg })}.${p}.${s}`, `real signature, alg ${alg}`);
      const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      await assertGuest(rawToken({ ...header, alg: 'ES256' }, claims, keySigner(ec)), 'ES256 by attacker');
      // A genuine Ed25519 signature under another name for the algorithm is still not what the key is for.
      await assertGuest(await forge(claims, { alg: 'Ed25519' }), 'real key, alg Ed25519');
    });

    it('a tampered payload with the original signature (another user, superuser, longer life)', async () => {
      const [h, , s] = annToken.split('.') as [string, string, string];
      const claims = annClaims();
      const variants: Claims[] = [
        { ...claims, id: bob.id },
        { ...claims, collectionId: SUPERUSERS_ID },
        { ...claims, exp: Number(claims.exp) + 3600 },
        { ...claims, refreshable: false },
        { ...claims, sid: 'x' },
      ];
      for (const variant of variants)
        await assertGuest(`${h}.${b64(variant)}.${s}`, JSON.stringify(variant).slice(0, 60));
      // A flipped bit in the signature.
      const sig = Buffer.from(s, 'base64url');
      sig[0]! ^= 1;
      await assertGuest(`${h}.${b64(claims)}.${sig.toString('base64url')}`, 'flipped signature bit');
      await assertGuest(`${h}.${b64(claims)}.`, 'signature removed');
    });
  });

  describe('tokens signed with the real key but wrong claims make the caller a guest', () => {
    it('an expired token, or one without exp, or not yet valid', async () => {
      const claims = annClaims();
      await assertGuest(await forge({ ...claims, exp: nowSeconds() - 5 }), 'expired');
      await assertGuest(
        await forge({ ...claims, exp: nowSeconds() - 3600, iat: nowSeconds() - 7200 }),
        'old',
      );
      const { exp: _exp, ...noExp } = claims;
      await assertGuest(await forge(noExp), 'no exp');
      await assertGuest(await forge({ ...claims, exp: String(claims.exp) }), 'string exp');
      await assertGuest(await forge({ ...claims, nbf: nowSeconds() + 3600 }), 'nbf in the future');
    });

    it('a wrong, missing or other-purpose audience', async () => {
      const claims = annClaims();
      for (const aud of [
        'plinth:passwordReset',
        'plinth:verification',
        'plinth:emailChange',
        'plinth:file',
        'plinth:installer',
        'pocketbase',
        '',
      ])
        await assertGuest(await forge({ ...claims, aud }), `aud ${aud}`);
      const { aud: _aud, ...noAud } = claims;
      await assertGuest(await forge(noAud), 'no aud');
    });

    it('a token of another type presented as an auth token', async () => {
      const claims = annClaims();
      for (const type of ['verification', 'passwordReset', 'emailChange', 'file', 'installer', 'admin'])
        await assertGuest(await forge({ ...claims, type }), `type ${type} with auth audience`);
      await assertGuest(
        await forge({ ...claims, type: 'verification', aud: 'plinth:verification' }),
        'a complete verification token',
      );
      await assertGuest(
        await forge({ ...claims, type: 'passwordReset', aud: 'plinth:passwordReset' }),
        'a complete reset token',
      );
      const { type: _type, ...noType } = claims;
      await assertGuest(await forge(noType), 'no type');
    });

    it('no session, a made-up session, or another record’s session', async () => {
      const claims = annClaims();
      const { sid: _sid, ...noSid } = claims;
      await assertGuest(await forge(noSid), 'no sid');
      for (const sid of ['', 'abcdefghijklmno', 'x'.repeat(300), 42, null, true, ['a']])
        await assertGuest(await forge({ ...claims, sid }), `sid ${JSON.stringify(sid)}`);
      // bob's claims with ann's session: the session belongs to ann.
      await assertGuest(await forge({ ...claims, id: bob.id }), 'bob via ann’s session');
      const bobClaims = { ...decodeJwt(await signIn(bob)) };
      await assertGuest(await forge({ ...claims, sid: bobClaims.sid }), 'ann via bob’s session');
    });

    it('a non-string sid never matches a session, even one whose id reads as that number', async () => {
      // MySQL compares a string column with a number or boolean numerically: `id = true` is `id = 1`,
      // which matches '1abc…'. Give one of ann's sessions such an id and check nothing reaches it.
      const fresh = String(decodeJwt(await signIn(ann)).sid);
      const q = server.app.db.dialect.quote;
      const table = q(SESSIONS_NAME);
      let current = fresh;
      for (const [prefix, sid] of [
        ['1', true],
        ['42', 42],
        ['0', false],
      ] as const) {
        const id = prefix + fresh.slice(prefix.length);
        const rename = `UPDATE ${table} SET ${q('id')} = ? WHERE ${q('id')} = ?`;
        await server.app.db.run(server.app.db.kysely, rename, [id, current]);
        current = id;
        await assertAuthenticatedAsAnn(await forge({ ...annClaims(), sid: id }));
        await assertGuest(
          await forge({ ...annClaims(), sid }),
          `sid ${sid} against session ${id.slice(0, 4)}…`,
        );
      }
    });

    it('a token for another collection than its session’s (no escalation to superuser)', async () => {
      const claims = annClaims();
      const superToken = server.adminToken;
      const superId = String(decodeJwt(superToken).id);
      // A superuser's identity riding on ann's session.
      await assertGuest(await forge({ ...claims, id: superId, collectionId: SUPERUSERS_ID }), 'superuser id');
      // ann's own id claimed in _superusers.
      await assertGuest(await forge({ ...claims, collectionId: SUPERUSERS_ID }), 'ann in _superusers');
      // The collection named instead of its id.
      await assertGuest(await forge({ ...claims, collectionId: 'users' }), 'collection name');
      await assertGuest(await forge({ ...claims, collectionId: '_superusers' }), '_superusers name');
      // A users token naming the superuser's session.
      await assertGuest(
        await forge({ ...claims, sid: decodeJwt(superToken).sid }),
        'ann with the superuser session',
      );
      for (const collectionId of ['', 'nope', 42, null])
        await assertGuest(await forge({ ...claims, collectionId }), `collectionId ${collectionId}`);
      for (const id of ['', 42, null])
        await assertGuest(await forge({ ...claims, id }), `id ${JSON.stringify(id)}`);
      // The real superuser token is still fine.
      assert.equal((await server.request('GET', '/api/collections', { token: superToken })).status, 200);
    });

    it('a verification or password-reset token from the real mail flow, used as an auth token', async () => {
      const carl = { email: 'carl@example.com', password: 'carl-password-1' };
      await server.admin
        .collection('users')
        .create({ ...carl, passwordConfirm: carl.password, verified: false });
      smtp.clear();
      const verify = await server.request('POST', `${USERS}/request-verification`, {
        body: { email: carl.email },
      });
      assert.equal(verify.status, 204);
      const verifyMail = await smtp.waitFor({ to: carl.email, subject: 'Verify' });
      const verifyToken = /confirm-verification\/([\w.-]+)/.exec(verifyMail.html)?.[1];
      assert.ok(verifyToken, verifyMail.html);
      const reset = await server.request('POST', `${USERS}/request-password-reset`, {
        body: { email: carl.email },
      });
      assert.equal(reset.status, 204);
      const resetMail = await smtp.waitFor({ to: carl.email, subject: 'Reset' });
      const resetToken = /confirm-password-reset\/([\w.-]+)/.exec(resetMail.html)?.[1];
      assert.ok(resetToken, resetMail.html);
      for (const token of [verifyToken, resetToken]) {
        const refresh = await server.request('POST', `${USERS}/auth-refresh`, { token });
        assert.equal(refresh.status, 401);
        const list = await server.request('GET', `${USERS}/records`, { token });
        assert.deepEqual(list.body.items, []);
      }
      // And the other way round: an auth token confirms nothing.
      const carlToken = await signIn(carl);
      const confirm = await server.request('POST', `${USERS}/confirm-verification`, {
        body: { token: carlToken },
      });
      assert.equal(confirm.status, 400);
      assert.equal(confirm.body.data.token.code, 'validation_invalid_token');
      const confirmReset = await server.request('POST', `${USERS}/confirm-password-reset`, {
        body: { token: carlToken, password: 'taken-over-1', passwordConfirm: 'taken-over-1' },
      });
      assert.equal(confirmReset.status, 400);
      // A verification token is not a reset token either.
      const crossed = await server.request('POST', `${USERS}/confirm-password-reset`, {
        body: { token: verifyToken, password: 'taken-over-1', passwordConfirm: 'taken-over-1' },
      });
      assert.equal(crossed.status, 400);
      assert.equal((await signIn(carl)).length > 0, true, 'the password is unchanged');
      // The genuine tokens still do their own jobs.
      const ok = await server.request('POST', `${USERS}/confirm-verification`, {
        body: { token: verifyToken },
      });
      assert.equal(ok.status, 204);
    });
  });

  describe('malformed Authorization headers make the caller a guest, never a 500', () => {
    it('an over-long header', async () => {
      const claims = annClaims();
      // Correctly signed, but padded past any real token's size.
      await assertGuest(await forge({ ...claims, pad: 'p'.repeat(5000) }), 'padded 5000');
      await assertGuest(`Bearer ${'a'.repeat(5000)}`, 'a×5000');
      await assertGuest(`Bearer ${'a.'.repeat(2500)}`, 'a.×2500');
      await assertGuest(`${annToken}${'A'.repeat(5000)}`, 'token + 5000');
      await assertGuest(`Bearer ${'e30.'.repeat(1250)}`, '{}×1250');
    });

    it('garbage, empty and odd values', async () => {
      const utf8AsBytes = (text: string) => Buffer.from(text, 'utf8').toString('latin1');
      const [h, p, s] = annToken.split('.') as [string, string, string];
      const values = [
        'Bearer',
        'Bearer ',
        'Bearer x.y.z',
        'Bearer ..',
        'Bearer ...',
        'Bearer e30.e30.e30',
        `Bearer ${b64('not json')}.${p}.${s}`,
        `Bearer ${b64('[]')}.${p}.${s}`,
        `Bearer ${b64('null')}.${p}.${s}`,
        `Bearer ${h}.${b64('null')}.${s}`,
        `Bearer ${h}.${b64('[1,2]')}.${s}`,
        `Bearer ${h}.${b64('"str"')}.${s}`,
        `Bearer ${h}.${p}`,
        `Bearer ${h}.${p}.${s}.${s}`,
        `Bearer ${h}..${s}`,
        `${annToken} trailing`,
        `Bearer Bearer ${annToken}`,
        'Basic YW5uQGV4YW1wbGUuY29tOmFubi1wYXNzd29yZC0x',
        'null',
        'undefined',
        '[object Object]',
        utf8AsBytes('Bearer ключ🔑.тест.✓'),
        utf8AsBytes(`Bearer ${h}.${p}.${s}🔑`),
        'Bearer \xff\xfe\xfd',
        `Bearer ${h.replace(/./, '%')}.${p}.${s}`,
        'Bearer \t ',
      ];
      for (const value of values) await assertGuest(value, JSON.stringify(value).slice(0, 60));
    });
  });

  describe('key rotation', () => {
    it('refuses rotation to non-superusers and unknown algorithms', async () => {
      const before = await jwks();
      const asUser = await server.request('POST', '/api/settings/jwks/rotate', {
        token: annToken,
        body: { alg: 'ES256' },
      });
      assert.equal(asUser.status, 403);
      const asGuest = await server.request('POST', '/api/settings/jwks/rotate', { body: { alg: 'ES256' } });
      assert.equal(asGuest.status, 401);
      for (const alg of ['HS256', 'none', 'RS256', 'es256', 'eddsa', 'ES384', '', 5, null, ['ES256'], {}]) {
        const res = await server.request('POST', '/api/settings/jwks/rotate', {
          token: server.adminToken,
          body: { alg },
        });
        assert.equal(res.status, 400, JSON.stringify(alg));
        assert.equal(res.body.data.alg.code, 'validation_in_invalid');
      }
      assert.deepEqual(await jwks(), before, 'a refused rotation changes no key');
    });

    it('rotates to ES256 then EdDSA: old tokens keep working and verifying, new ones carry the new key', async () => {
      const first = await signIn(ann);
      const firstHeader = decodeProtectedHeader(first);

      const toEs = await server.request('POST', '/api/settings/jwks/rotate', {
        token: server.adminToken,
        body: { alg: 'ES256' },
      });
      assert.equal(toEs.status, 200, JSON.stringify(toEs.body));
      assert.equal(toEs.body.alg, 'ES256');
      assert.notEqual(toEs.body.kid, firstHeader.kid);
      const afterEs = await jwks();
      assert.ok(afterEs.keys.some((k) => k.kid === toEs.body.kid && k.alg === 'ES256' && k.crv === 'P-256'));
      assert.ok(
        afterEs.keys.some((k) => k.kid === firstHeader.kid),
        'the old key stays published',
      );

      const second = await signIn(ann);
      assert.deepEqual(
        { kid: decodeProtectedHeader(second).kid, alg: decodeProtectedHeader(second).alg },
        { kid: toEs.body.kid, alg: 'ES256' },
      );
      // Superuser tokens too.
      const superLogin = await server.request('POST', '/api/collections/_superusers/auth-with-password', {
        body: { identity: SUPERUSER.email, password: SUPERUSER.password },
      });
      assert.equal(decodeProtectedHeader(superLogin.body.token).kid, toEs.body.kid);

      // Switching the header alg of an ES256-key token, or signing EdDSA under its kid, does not pass.
      const [h2, p2, s2] = second.split('.') as [string, string, string];
      await assertGuest(`${b64({ ...decodeProtectedHeader(second), alg: 'EdDSA' })}.${p2}.${s2}`, 'ES→EdDSA');
      const attacker = generateKeyPairSync('ed25519').privateKey;
      await assertGuest(
        rawToken({ alg: 'EdDSA', kid: toEs.body.kid }, { ...decodeJwt(second) }, keySigner(attacker)),
        'EdDSA under the ES256 kid',
      );
      await assertGuest(`${h2}.${p2}.${s2.slice(0, -2)}`, 'truncated ES256 signature');

      const toEd = await server.request('POST', '/api/settings/jwks/rotate', { token: server.adminToken });
      assert.equal(toEd.status, 200);
      assert.equal(toEd.body.alg, 'EdDSA', 'EdDSA is the default');
      const toEd2 = await server.request('POST', '/api/settings/jwks/rotate', {
        token: server.adminToken,
        body: { alg: 'EdDSA' },
      });
      assert.equal(toEd2.body.alg, 'EdDSA');
      assert.notEqual(toEd2.body.kid, toEd.body.kid);
      const third = await signIn(ann);
      assert.equal(decodeProtectedHeader(third).kid, toEd2.body.kid);
      assert.equal(decodeProtectedHeader(third).alg, 'EdDSA');

      const now = await jwks();
      const kids = now.keys.map((k) => k.kid);
      for (const kid of [firstHeader.kid, toEs.body.kid, toEd.body.kid, toEd2.body.kid])
        assert.ok(kids.includes(kid), `${kid} published`);
      const set = createLocalJWKSet(now);
      for (const token of [annToken, first, second, third, superLogin.body.token]) {
        const { payload, protectedHeader } = await jwtVerify(token, set, { audience: AUD });
        assert.equal(payload.aud, AUD);
        assert.equal(protectedHeader.kid, decodeProtectedHeader(token).kid);
      }
      for (const token of [annToken, first, second, third]) {
        await assertAuthenticatedAsAnn(token);
        const refresh = await server.request('POST', `${USERS}/auth-refresh`, { token });
        assert.equal(refresh.status, 200);
        assert.equal(
          decodeProtectedHeader(refresh.body.token).kid,
          toEd2.body.kid,
          'refresh signs with the new key',
        );
      }
      // A fresh remote key set (as a consumer would have after its cache expired) verifies all of them.
      const remote = createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`));
      for (const token of [first, second, third]) await jwtVerify(token, remote, { audience: AUD });
      // A key set fetched before the rotation does not know the new key: consumers must refetch.
      await assert.rejects(jwtVerify(third, createLocalJWKSet(afterEs), { audience: AUD }));
    });
  });
});
