import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { startServer, type TestServer } from './helpers/server.ts';

/**
 * Impersonation tokens die with the superuser who minted them: every way a superuser's sessions end
 * (sign-out everywhere or elsewhere, a new password, a superuser ending them, deletion) ends the sessions
 * it started by impersonation too, at once, on every engine. Nothing else ends them: signing out one
 * session leaves them, and another superuser's impersonations and the user's own sessions are untouched.
 */
const USERS = '/api/collections/users';
const SUPERUSERS = '/api/collections/_superusers';

const sidOf = (token: string) => String(decodeJwt(token).sid);

describe('impersonation sessions end with their superuser', () => {
  let server: TestServer;
  let counter = 0;
  let user: { id: string; token: string };

  before(async () => {
    server = await startServer();
    const created = await server.admin
      .collection('users')
      .create({ email: 'ann@example.com', password: 'ann-password-1', passwordConfirm: 'ann-password-1' });
    const signedIn = await server.request('POST', `${USERS}/auth-with-password`, {
      body: { identity: 'ann@example.com', password: 'ann-password-1' },
    });
    user = { id: created.id, token: signedIn.body.token };
  });
  after(() => server.close());

  /** A new superuser, signed in twice (two devices). */
  async function newSuperuser() {
    counter++;
    const email = `boss${counter}@example.com`;
    const password = `boss-password-${counter}`;
    const res = await server.request('POST', `${SUPERUSERS}/records`, {
      token: server.adminToken,
      body: { email, password, passwordConfirm: password },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const signIn = async () =>
      (
        await server.request('POST', `${SUPERUSERS}/auth-with-password`, {
          body: { identity: email, password },
        })
      ).body.token as string;
    return { id: String(res.body.id), password, first: await signIn(), second: await signIn() };
  }

  async function impersonate(superToken: string): Promise<string> {
    const res = await server.request('POST', `${USERS}/impersonate/${user.id}`, {
      token: superToken,
      body: { duration: 3600 },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.token;
  }

  /** auth-refresh: 403 for a live impersonation token (not refreshable), 401 once its session is gone. */
  const refresh = async (token: string) =>
    (await server.request('POST', `${USERS}/auth-refresh`, { token })).status;

  async function sessionExists(id: string): Promise<boolean> {
    const { db } = server.app;
    const q = db.dialect.quote;
    const rows = await db.run(db.kysely, `SELECT ${q('id')} FROM ${q('_sessions')} WHERE ${q('id')} = ?`, [
      id,
    ]);
    return rows.length > 0;
  }

  /**
   * Two impersonations by a superuser (one from each of its sessions) and one by the main superuser; runs
   * `end`, then checks that exactly the first two ended, in the database and for their tokens.
   */
  async function expectImpersonationsEnd(
    end: (boss: Awaited<ReturnType<typeof newSuperuser>>) => Promise<void>,
  ): Promise<void> {
    const boss = await newSuperuser();
    const minted = [await impersonate(boss.first), await impersonate(boss.second)];
    const bystander = await impersonate(server.adminToken);
    for (const token of minted) assert.equal(await refresh(token), 403);
    await end(boss);
    for (const token of minted) {
      assert.equal(await refresh(token), 401);
      assert.equal(await sessionExists(sidOf(token)), false);
    }
    assert.equal(await refresh(bystander), 403, 'another superuser’s impersonation lives on');
    assert.equal(await refresh(user.token), 200, 'the user’s own session lives on');
  }

  it('when the superuser signs out everywhere (auth-logout scope all)', async () => {
    await expectImpersonationsEnd(async (boss) => {
      const res = await server.request('POST', `${SUPERUSERS}/auth-logout`, {
        token: boss.first,
        body: { scope: 'all' },
      });
      assert.equal(res.status, 204);
    });
  });

  it('when the superuser signs out its other sessions (scope others)', async () => {
    await expectImpersonationsEnd(async (boss) => {
      const res = await server.request('POST', `${SUPERUSERS}/auth-logout`, {
        token: boss.first,
        body: { scope: 'others' },
      });
      assert.equal(res.status, 204);
    });
  });

  it('when the superuser changes its own password', async () => {
    await expectImpersonationsEnd(async (boss) => {
      const res = await server.request('PATCH', `${SUPERUSERS}/records/${boss.id}`, {
        token: boss.first,
        body: {
          oldPassword: boss.password,
          password: 'new-boss-password',
          passwordConfirm: 'new-boss-password',
        },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    });
  });

  it('when another superuser ends its sessions', async () => {
    await expectImpersonationsEnd(async (boss) => {
      const res = await server.request('DELETE', `${SUPERUSERS}/records/${boss.id}/sessions`, {
        token: server.adminToken,
      });
      assert.equal(res.status, 204);
    });
  });

  it('when the superuser record is deleted', async () => {
    await expectImpersonationsEnd(async (boss) => {
      const res = await server.request('DELETE', `${SUPERUSERS}/records/${boss.id}`, {
        token: server.adminToken,
      });
      assert.equal(res.status, 204);
    });
  });

  it('but not when the superuser signs out one session', async () => {
    const boss = await newSuperuser();
    const token = await impersonate(boss.first);
    await server.request('POST', `${SUPERUSERS}/auth-logout`, { token: boss.first });
    assert.equal(await refresh(token), 403);
  });

  it('refuses to mint a session for a superuser whose session ended on another node', async () => {
    const boss = await newSuperuser();
    // Gone from the database, still in this node's cache, as when another node ended it a moment ago.
    const { db } = server.app;
    const q = db.dialect.quote;
    await db.run(db.kysely, `DELETE FROM ${q('_sessions')} WHERE ${q('id')} = ?`, [sidOf(boss.first)]);
    const res = await server.request('POST', `${USERS}/impersonate/${user.id}`, {
      token: boss.first,
      body: {},
    });
    assert.equal(res.status, 401);
    assert.equal(res.body.status, 401);
    const rows = await db.run(
      db.kysely,
      `SELECT ${q('id')} FROM ${q('_sessions')} WHERE ${q('impersonatedBy')} = ?`,
      [boss.id],
    );
    assert.deepEqual(rows, []);
  });
});
