import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { formatDate } from '../src/lib/index.ts';
import { SUPERUSER, startServer, type TestServer, useSmtp } from './helpers/server.ts';
import { type SmtpCapture, startSmtp } from './helpers/smtp.ts';

const USERS = '/api/collections/users';
const SUPERUSERS = '/api/collections/_superusers';
const SESSIONS = '/api/collections/_sessions/records';
const DAY = 86_400;
const DEFAULT_SESSIONS = {
  idleTimeout: 14 * DAY,
  absoluteTimeout: 90 * DAY,
  superuserIdleTimeout: 30 * 60,
  superuserAbsoluteTimeout: 12 * 3600,
};

const sidOf = (token: string) => String(decodeJwt(token).sid);
const parseDate = (text: string) => Date.parse(text.replace(' ', 'T'));

describe('server-side sessions', () => {
  let server: TestServer;
  let smtp: SmtpCapture;
  let counter = 0;

  before(async () => {
    server = await startServer();
    smtp = await startSmtp();
    await useSmtp(server, smtp);
  });
  after(async () => {
    await server.close();
    await smtp.close();
  });

  /** A fresh user (unique email) with a known password. */
  async function newUser(): Promise<{ id: string; email: string; password: string }> {
    counter++;
    const email = `user${counter}@example.com`;
    const password = `password-${counter}-secret`;
    const created = await server.admin
      .collection('users')
      .create({ email, password, passwordConfirm: password, verified: true });
    return { id: created.id, email, password };
  }

  async function signIn(
    user: { email: string; password: string },
    userAgent = 'agent-A',
    base = USERS,
  ): Promise<string> {
    const res = await server.request('POST', `${base}/auth-with-password`, {
      body: { identity: user.email, password: user.password },
      headers: { 'user-agent': userAgent },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.token;
  }

  /** The status of auth-refresh with this token: 200 while its session lives, 401 once it is gone. */
  async function refreshStatus(token: string, base = USERS): Promise<number> {
    return (await server.request('POST', `${base}/auth-refresh`, { token })).status;
  }

  async function patchSettings(body: unknown): Promise<void> {
    const res = await server.request('PATCH', '/api/settings', { token: server.adminToken, body });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }

  /** Moves a session's date column in the database, as time passing would, and drops it from the cache. */
  async function moveSessionDate(sid: string, column: 'lastSeen' | 'expires', when: Date): Promise<void> {
    const { db } = server.app;
    const q = db.dialect.quote;
    await db.run(db.kysely, `UPDATE ${q('_sessions')} SET ${q(column)} = ? WHERE ${q('id')} = ?`, [
      formatDate(when),
      sid,
    ]);
    server.app.auth.sessions.forget([sid]);
  }

  async function sessionRows(recordId: string) {
    return server.admin.collection('_sessions').getFullList({ filter: `recordRef = "${recordId}"` });
  }

  async function ownSessions(token: string) {
    const res = await server.request('GET', `${SESSIONS}?perPage=500`, { token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.items as Record<string, string>[];
  }

  describe('creation and listing', () => {
    it('records every sign-in as a _sessions row with method, IP, user agent, last-seen and end', async () => {
      const user = await newUser();
      const start = Date.now();
      const a = await signIn(user, 'Agent/1.0 (first device)');
      const b = await signIn(user, 'Agent/2.0 (second device)');
      assert.notEqual(sidOf(a), sidOf(b));
      const rows = await sessionRows(user.id);
      assert.equal(rows.length, 2);
      const byId = new Map(rows.map((r) => [r.id, r]));
      const first = byId.get(sidOf(a));
      const second = byId.get(sidOf(b));
      assert.ok(first && second, 'each token names its own session row');
      assert.equal(first.userAgent, 'Agent/1.0 (first device)');
      assert.equal(second.userAgent, 'Agent/2.0 (second device)');
      for (const row of [first, second]) {
        assert.equal(row.method, 'password');
        assert.equal(row.ip, '127.0.0.1');
        assert.equal(row.collectionRef, '_pb_users_auth_');
        assert.equal(row.recordRef, user.id);
        assert.equal(row.impersonatedBy, '');
        const seen = parseDate(row.lastSeen);
        assert.ok(seen >= start - 2000 && seen <= Date.now() + 2000, `lastSeen ${row.lastSeen}`);
        const expires = parseDate(row.expires);
        assert.ok(Math.abs(expires - (seen + DEFAULT_SESSIONS.absoluteTimeout * 1000)) < 5000, row.expires);
      }
    });

    it('records an OTP sign-in with method otp', async () => {
      const user = await newUser();
      const patch = await server.request('PATCH', '/api/collections/users', {
        token: server.adminToken,
        body: { otp: { enabled: true } },
      });
      assert.equal(patch.status, 200, JSON.stringify(patch.body));
      try {
        const req = await server.request('POST', `${USERS}/request-otp`, { body: { email: user.email } });
        assert.equal(req.status, 200);
        const mail = await smtp.waitFor({ to: user.email, subject: 'OTP' });
        const code = /<strong>(\d+)<\/strong>/.exec(mail.html)?.[1];
        assert.ok(code, mail.html);
        const res = await server.request('POST', `${USERS}/auth-with-otp`, {
          body: { otpId: req.body.otpId, password: code },
          headers: { 'user-agent': 'otp-agent' },
        });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const row = (await sessionRows(user.id)).find((r) => r.id === sidOf(res.body.token));
        assert.equal(row?.method, 'otp');
        assert.equal(row?.userAgent, 'otp-agent');
      } finally {
        await server.request('PATCH', '/api/collections/users', {
          token: server.adminToken,
          body: { otp: { enabled: false } },
        });
      }
    });

    it('lists to its owner only that owner’s sessions, through the records API and the SDK', async () => {
      const ann = await newUser();
      const bob = await newUser();
      const annTokens = [await signIn(ann), await signIn(ann, 'agent-B')];
      const bobToken = await signIn(bob);

      const pb = server.client();
      pb.authStore.save(annTokens[0]!, null);
      const annList = await pb.collection('_sessions').getFullList();
      assert.deepEqual(annList.map((r) => r.id).sort(), annTokens.map(sidOf).sort());
      for (const row of annList) assert.equal(row.recordRef, ann.id);

      const bobList = await ownSessions(bobToken);
      assert.deepEqual(
        bobList.map((r) => r.id),
        [sidOf(bobToken)],
      );
      // A filter cannot widen the rule.
      const widened = await server.request(
        'GET',
        `${SESSIONS}?filter=${encodeURIComponent(`recordRef = "${ann.id}" || id != ""`)}`,
        { token: bobToken },
      );
      assert.equal(widened.status, 200);
      assert.deepEqual(
        widened.body.items.map((r: { id: string }) => r.id),
        [sidOf(bobToken)],
      );
    });

    it('hides one user’s sessions from another: view and delete answer 404 and change nothing', async () => {
      const ann = await newUser();
      const bob = await newUser();
      const annToken = await signIn(ann);
      const bobToken = await signIn(bob);
      const annSid = sidOf(annToken);
      const view = await server.request('GET', `${SESSIONS}/${annSid}`, { token: bobToken });
      assert.equal(view.status, 404);
      const del = await server.request('DELETE', `${SESSIONS}/${annSid}`, { token: bobToken });
      assert.equal(del.status, 404);
      assert.equal(await refreshStatus(annToken), 200);
      assert.equal((await sessionRows(ann.id)).length, 1);
    });

    it('gives a guest an empty list and 404s, never a session', async () => {
      const ann = await newUser();
      const annSid = sidOf(await signIn(ann));
      const list = await server.request('GET', SESSIONS);
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.items, []);
      assert.equal((await server.request('GET', `${SESSIONS}/${annSid}`)).status, 404);
      assert.equal((await server.request('DELETE', `${SESSIONS}/${annSid}`)).status, 404);
      assert.equal((await sessionRows(ann.id)).length, 1);
    });

    it('lets nobody create or edit a session through the records API', async () => {
      const ann = await newUser();
      const token = await signIn(ann);
      const create = await server.request('POST', SESSIONS, {
        token,
        body: { collectionRef: '_pb_users_auth_', recordRef: ann.id, method: 'password' },
      });
      assert.ok(create.status === 400 || create.status === 403, `create ${create.status}`);
      const update = await server.request('PATCH', `${SESSIONS}/${sidOf(token)}`, {
        token,
        body: { expires: '2999-01-01 00:00:00.000Z' },
      });
      assert.ok(update.status === 403 || update.status === 404, `update ${update.status}`);
      const [row] = await sessionRows(ann.id);
      assert.ok(row && parseDate(String(row.expires)) < Date.parse('2100-01-01'));
    });

    it('shows superusers every session', async () => {
      const ann = await newUser();
      const bob = await newUser();
      const sids = [sidOf(await signIn(ann)), sidOf(await signIn(bob))];
      const all = await server.admin.collection('_sessions').getFullList();
      for (const sid of sids)
        assert.ok(
          all.some((r) => r.id === sid),
          sid,
        );
    });
  });

  describe('revocation', () => {
    it('revokes exactly one device when its owner deletes that _sessions record', async () => {
      const ann = await newUser();
      const [a, b, c] = [await signIn(ann, 'A'), await signIn(ann, 'B'), await signIn(ann, 'C')];
      const pb = server.client();
      pb.authStore.save(a, null);
      await pb.collection('_sessions').delete(sidOf(b));
      // Immediately: no cache lets the revoked token through.
      assert.equal(await refreshStatus(b), 401);
      assert.equal(await refreshStatus(a), 200);
      assert.equal(await refreshStatus(c), 200);
      const left = (await ownSessions(a)).map((r) => r.id).sort();
      assert.deepEqual(left, [sidOf(a), sidOf(c)].sort());
      // Deleting the session one is using signs that device out too.
      const del = await server.request('DELETE', `${SESSIONS}/${sidOf(c)}`, { token: c });
      assert.equal(del.status, 204);
      assert.equal(await refreshStatus(c), 401);
      assert.equal(await refreshStatus(a), 200);
    });

    it('refuses a token whose session is gone on every route, as if it were a guest', async () => {
      const ann = await newUser();
      const token = await signIn(ann);
      const before = await server.request('GET', `${USERS}/records`, { token });
      assert.equal(before.body.items.length, 1);
      const del = await server.request('DELETE', `${SESSIONS}/${sidOf(token)}`, { token });
      assert.equal(del.status, 204);

      const list = await server.request('GET', `${USERS}/records`, { token });
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.items, []);
      assert.equal((await server.request('GET', `${USERS}/records/${ann.id}`, { token })).status, 404);
      assert.equal(
        (
          await server.request('PATCH', `${USERS}/records/${ann.id}`, {
            token,
            body: { name: 'x' },
          })
        ).status,
        404,
      );
      assert.deepEqual((await server.request('GET', SESSIONS, { token })).body.items, []);
      assert.equal((await server.request('POST', `${USERS}/auth-refresh`, { token })).status, 401);
      assert.equal((await server.request('POST', `${USERS}/auth-logout`, { token })).status, 401);
      const change = await server.request('POST', `${USERS}/request-email-change`, {
        token,
        body: { newEmail: 'elsewhere@example.com' },
      });
      assert.equal(change.status, 401);
    });

    it('auth-logout ends the current session by default and with scope current', async () => {
      const ann = await newUser();
      const [a, b, c] = [await signIn(ann, 'A'), await signIn(ann, 'B'), await signIn(ann, 'C')];
      assert.equal((await server.request('POST', `${USERS}/auth-logout`, { token: a })).status, 204);
      assert.equal(await refreshStatus(a), 401);
      const current = await server.request('POST', `${USERS}/auth-logout`, {
        token: b,
        body: { scope: 'current' },
      });
      assert.equal(current.status, 204);
      assert.equal(await refreshStatus(b), 401);
      assert.equal(await refreshStatus(c), 200);
      assert.deepEqual(
        (await sessionRows(ann.id)).map((r) => r.id),
        [sidOf(c)],
      );
    });

    it('auth-logout with scope others keeps only the caller’s session', async () => {
      const ann = await newUser();
      const bob = await newUser();
      const bobToken = await signIn(bob);
      const [a, b, c] = [await signIn(ann, 'A'), await signIn(ann, 'B'), await signIn(ann, 'C')];
      const res = await server.request('POST', `${USERS}/auth-logout`, {
        token: b,
        body: { scope: 'others' },
      });
      assert.equal(res.status, 204);
      assert.equal(await refreshStatus(a), 401);
      assert.equal(await refreshStatus(b), 200);
      assert.equal(await refreshStatus(c), 401);
      assert.equal(await refreshStatus(bobToken), 200, 'another user keeps their sessions');
      assert.deepEqual(
        (await sessionRows(ann.id)).map((r) => r.id),
        [sidOf(b)],
      );
    });

    it('auth-logout with scope all ends every session of the caller and no one else’s', async () => {
      const ann = await newUser();
      const bob = await newUser();
      const bobToken = await signIn(bob);
      const [a, b] = [await signIn(ann, 'A'), await signIn(ann, 'B')];
      const res = await server.request('POST', `${USERS}/auth-logout`, { token: a, body: { scope: 'all' } });
      assert.equal(res.status, 204);
      assert.equal(await refreshStatus(a), 401);
      assert.equal(await refreshStatus(b), 401);
      assert.equal(await refreshStatus(bobToken), 200);
      assert.equal((await sessionRows(ann.id)).length, 0);
    });

    it('auth-logout refuses an unknown scope with a field error and a guest with 401', async () => {
      const ann = await newUser();
      const token = await signIn(ann);
      for (const scope of ['everything', 'ALL', '', 1, null, ['all']]) {
        const res = await server.request('POST', `${USERS}/auth-logout`, { token, body: { scope } });
        assert.equal(res.status, 400, JSON.stringify(scope));
        assert.equal(res.body.data.scope.code, 'validation_in_invalid');
      }
      assert.equal(await refreshStatus(token), 200, 'a refused logout ends nothing');
      assert.equal((await server.request('POST', `${USERS}/auth-logout`)).status, 401);
    });

    it('lets a superuser end all sessions of a record; others get 403 and guests 401', async () => {
      const ann = await newUser();
      const bob = await newUser();
      const [a, b] = [await signIn(ann, 'A'), await signIn(ann, 'B')];
      const bobToken = await signIn(bob);
      const path = `${USERS}/records/${ann.id}/sessions`;
      assert.equal((await server.request('DELETE', path, { token: bobToken })).status, 403);
      assert.equal((await server.request('DELETE', path, { token: a })).status, 403);
      assert.equal((await server.request('DELETE', path)).status, 401);
      assert.equal(await refreshStatus(a), 200);
      assert.equal((await server.request('DELETE', path, { token: server.adminToken })).status, 204);
      assert.equal(await refreshStatus(a), 401);
      assert.equal(await refreshStatus(b), 401);
      assert.equal(await refreshStatus(bobToken), 200);
      assert.equal((await sessionRows(ann.id)).length, 0);
      // The user can sign in again afterwards.
      assert.equal(await refreshStatus(await signIn(ann)), 200);
    });

    it('keeps the current session and ends the others when a user changes their own password', async () => {
      const ann = await newUser();
      const [a, b, c] = [await signIn(ann, 'A'), await signIn(ann, 'B'), await signIn(ann, 'C')];
      const res = await server.request('PATCH', `${USERS}/records/${ann.id}`, {
        token: a,
        body: {
          oldPassword: ann.password,
          password: 'brand-new-password',
          passwordConfirm: 'brand-new-password',
        },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(await refreshStatus(a), 200);
      assert.equal(await refreshStatus(b), 401);
      assert.equal(await refreshStatus(c), 401);
      assert.deepEqual(
        (await sessionRows(ann.id)).map((r) => r.id),
        [sidOf(a)],
      );
    });

    it('ends every session when a superuser sets the password', async () => {
      const ann = await newUser();
      const [a, b] = [await signIn(ann, 'A'), await signIn(ann, 'B')];
      await server.admin
        .collection('users')
        .update(ann.id, { password: 'set-by-admin-1', passwordConfirm: 'set-by-admin-1' });
      assert.equal(await refreshStatus(a), 401);
      assert.equal(await refreshStatus(b), 401);
      assert.equal((await sessionRows(ann.id)).length, 0);
    });

    it('keeps sessions when a record changes something other than its password', async () => {
      const ann = await newUser();
      const a = await signIn(ann);
      const b = await signIn(ann, 'B');
      const res = await server.request('PATCH', `${USERS}/records/${ann.id}`, {
        token: a,
        body: { name: 'Ann' },
      });
      assert.equal(res.status, 200);
      await server.admin.collection('users').update(ann.id, { name: 'Ann by admin' });
      assert.equal(await refreshStatus(a), 200);
      assert.equal(await refreshStatus(b), 200);
    });

    it('ends the sessions and removes the _sessions rows of a deleted user', async () => {
      const ann = await newUser();
      const bob = await newUser();
      const [a, b] = [await signIn(ann, 'A'), await signIn(ann, 'B')];
      const bobToken = await signIn(bob);
      assert.equal((await server.request('DELETE', `${USERS}/records/${ann.id}`, { token: a })).status, 204);
      assert.equal(await refreshStatus(a), 401);
      assert.equal(await refreshStatus(b), 401);
      assert.equal((await sessionRows(ann.id)).length, 0);
      assert.equal(await refreshStatus(bobToken), 200);

      // Deleted by a superuser: the same.
      const [c, d] = [await signIn(bob, 'C'), await signIn(bob, 'D')];
      await server.admin.collection('users').delete(bob.id);
      assert.equal(await refreshStatus(c), 401);
      assert.equal(await refreshStatus(d), 401);
      assert.equal((await sessionRows(bob.id)).length, 0);
    });
  });

  describe('refresh', () => {
    it('keeps the same session (sid) and row on refresh, and the old token keeps working', async () => {
      const ann = await newUser();
      const first = await signIn(ann);
      const res = await server.request('POST', `${USERS}/auth-refresh`, { token: first });
      assert.equal(res.status, 200);
      const second: string = res.body.token;
      assert.equal(sidOf(second), sidOf(first));
      assert.equal(decodeJwt(second).id, ann.id);
      assert.equal(res.body.record.id, ann.id);
      const third = (await server.request('POST', `${USERS}/auth-refresh`, { token: second })).body.token;
      assert.equal(sidOf(third), sidOf(first));
      assert.deepEqual(
        (await sessionRows(ann.id)).map((r) => r.id),
        [sidOf(first)],
      );
      assert.equal(await refreshStatus(first), 200);
      // Ending the session ends every token of it.
      await server.request('POST', `${USERS}/auth-logout`, { token: third });
      for (const token of [first, second, third]) assert.equal(await refreshStatus(token), 401);
    });

    it('records impersonation as its own session that cannot be refreshed', async () => {
      const ann = await newUser();
      const res = await server.request('POST', `${USERS}/impersonate/${ann.id}`, {
        token: server.adminToken,
        body: { duration: 600 },
      });
      assert.equal(res.status, 200);
      const token: string = res.body.token;
      const row = (await sessionRows(ann.id)).find((r) => r.id === sidOf(token));
      assert.equal(row?.method, 'impersonate');
      const superId = String(decodeJwt(server.adminToken).id);
      assert.equal(row?.impersonatedBy, superId);
      assert.ok(Math.abs(parseDate(String(row?.expires)) - (Date.now() + 600_000)) < 5000);
      assert.equal(await refreshStatus(token), 403);
      assert.equal((await server.request('GET', `${USERS}/records/${ann.id}`, { token })).status, 200);
    });
  });

  describe('timeouts', () => {
    it('refuses a session idle for longer than sessions.idleTimeout', async () => {
      const ann = await newUser();
      const token = await signIn(ann);
      const sid = sidOf(token);
      await patchSettings({ sessions: { idleTimeout: 60 } });
      try {
        // Used a minute ago: still within the idle limit.
        await moveSessionDate(sid, 'lastSeen', new Date(Date.now() - 30_000));
        assert.equal(await refreshStatus(token), 200);
        await moveSessionDate(sid, 'lastSeen', new Date(Date.now() - 120_000));
        assert.equal(await refreshStatus(token), 401);
        assert.equal((await server.request('GET', `${USERS}/records`, { token })).body.items.length, 0);
        assert.equal((await sessionRows(ann.id)).length, 0, 'the dead session is removed');
      } finally {
        await patchSettings({ sessions: DEFAULT_SESSIONS });
      }
    });

    it('refuses a session past its absolute end, however recently it was used', async () => {
      const ann = await newUser();
      const token = await signIn(ann);
      await moveSessionDate(sidOf(token), 'expires', new Date(Date.now() - 1000));
      assert.equal(await refreshStatus(token), 401);
      assert.equal((await sessionRows(ann.id)).length, 0);
    });

    it('writes last-seen back when a session is used after a while', async () => {
      const ann = await newUser();
      const token = await signIn(ann);
      const sid = sidOf(token);
      await moveSessionDate(sid, 'lastSeen', new Date(Date.now() - 10 * 60_000));
      assert.equal(await refreshStatus(token), 200);
      // The touch is not awaited by the request; give it a moment.
      let seen = 0;
      for (let i = 0; i < 50 && Date.now() - seen > 60_000; i++) {
        await new Promise((r) => setTimeout(r, 20));
        seen = parseDate(String((await sessionRows(ann.id))[0]?.lastSeen));
      }
      assert.ok(Date.now() - seen < 60_000, 'lastSeen moved forward');
    });

    it('gives superuser sessions the superuser timeouts and users the user ones', async () => {
      const ann = await newUser();
      const userToken = await signIn(ann);
      const superToken = await signIn(SUPERUSER, 'superuser-agent', SUPERUSERS);
      const superId = String(decodeJwt(superToken).id);
      const superRow = (await sessionRows(superId)).find((r) => r.id === sidOf(superToken));
      const userRow = (await sessionRows(ann.id))[0];
      assert.ok(superRow && userRow);
      const superSpan = parseDate(String(superRow.expires)) - parseDate(String(superRow.created));
      const userSpan = parseDate(String(userRow.expires)) - parseDate(String(userRow.created));
      assert.ok(
        Math.abs(superSpan - DEFAULT_SESSIONS.superuserAbsoluteTimeout * 1000) < 5000,
        `${superSpan}`,
      );
      assert.ok(Math.abs(userSpan - DEFAULT_SESSIONS.absoluteTimeout * 1000) < 5000, `${userSpan}`);

      // Idle for 2 minutes: too long for a 60 s user limit, fine for the 30 min superuser one.
      await patchSettings({ sessions: { idleTimeout: 60 } });
      try {
        const idle = new Date(Date.now() - 120_000);
        await moveSessionDate(sidOf(userToken), 'lastSeen', idle);
        await moveSessionDate(sidOf(superToken), 'lastSeen', idle);
        assert.equal(await refreshStatus(userToken), 401);
        assert.equal(await refreshStatus(superToken, SUPERUSERS), 200);
      } finally {
        await patchSettings({ sessions: DEFAULT_SESSIONS });
      }

      // And the other way round: a 60 s superuser limit does not touch users.
      const userToken2 = await signIn(ann);
      await patchSettings({ sessions: { superuserIdleTimeout: 60 } });
      try {
        const idle = new Date(Date.now() - 120_000);
        await moveSessionDate(sidOf(userToken2), 'lastSeen', idle);
        await moveSessionDate(sidOf(superToken), 'lastSeen', idle);
        assert.equal(await refreshStatus(userToken2), 200);
        assert.equal(await refreshStatus(superToken, SUPERUSERS), 401);
        assert.equal((await server.request('GET', '/api/collections', { token: superToken })).status, 401);
      } finally {
        await patchSettings({ sessions: DEFAULT_SESSIONS });
      }
      assert.equal((await server.request('GET', '/api/settings', { token: server.adminToken })).status, 200);
    });

    it('never lets a token outlive its session', async () => {
      const ann = await newUser();
      // Users: the 5-day token ends well before the 90-day session.
      const userToken = await signIn(ann);
      const userRow = (await sessionRows(ann.id))[0]!;
      const userExp = Number(decodeJwt(userToken).exp);
      assert.ok(userExp * 1000 <= parseDate(String(userRow.expires)));
      // Superusers: a 1-day token is cut to the 12-hour session.
      const superToken = await signIn(SUPERUSER, 'superuser-agent', SUPERUSERS);
      const superRow = (await sessionRows(String(decodeJwt(superToken).id))).find(
        (r) => r.id === sidOf(superToken),
      )!;
      const superExp = Number(decodeJwt(superToken).exp);
      assert.ok(superExp * 1000 <= parseDate(String(superRow.expires)));
      assert.ok(superExp * 1000 > parseDate(String(superRow.expires)) - 2000);

      // A short absolute timeout caps the token, and refreshing never extends it.
      await patchSettings({ sessions: { idleTimeout: 60, absoluteTimeout: 120 } });
      try {
        const short = await signIn(ann, 'short');
        const row = (await sessionRows(ann.id)).find((r) => r.id === sidOf(short))!;
        const end = parseDate(String(row.expires));
        const exp = Number(decodeJwt(short).exp);
        assert.ok(exp * 1000 <= end, `${exp * 1000} <= ${end}`);
        assert.ok(exp * 1000 <= Date.now() + 121_000);
        const refreshed = await server.request('POST', `${USERS}/auth-refresh`, { token: short });
        assert.equal(refreshed.status, 200);
        assert.ok(Number(decodeJwt(refreshed.body.token).exp) * 1000 <= end);
      } finally {
        await patchSettings({ sessions: DEFAULT_SESSIONS });
      }
    });

    it('refuses session timeouts below one minute or an idle timeout above the absolute one', async () => {
      for (const sessions of [
        { idleTimeout: 59 },
        { absoluteTimeout: 0 },
        { superuserIdleTimeout: -1 },
        { superuserAbsoluteTimeout: '3600' },
        { idleTimeout: 7200, absoluteTimeout: 3600 },
      ]) {
        const res = await server.request('PATCH', '/api/settings', {
          token: server.adminToken,
          body: { sessions },
        });
        assert.equal(res.status, 400, JSON.stringify(sessions));
        assert.equal(typeof res.body.data.sessions, 'object');
      }
      const current = await server.request('GET', '/api/settings', { token: server.adminToken });
      assert.deepEqual(current.body.sessions, DEFAULT_SESSIONS);
    });
  });
});
