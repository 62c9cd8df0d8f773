import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer, type TestServer } from './helpers/server.ts';

/** The hourly sweep deletes what has expired and nothing else. */
describe('expired auth rows are swept', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  const count = async (table: string, where = '') => {
    const { db } = server.app;
    const rows = await db.run<{ n: number | string }>(
      db.kysely,
      `SELECT COUNT(*) AS n FROM ${db.dialect.quote(table)}${where}`,
      [],
    );
    return Number(rows[0]!.n);
  };
  const setDate = async (table: string, column: string, value: string, id: string) => {
    const { db } = server.app;
    const q = db.dialect.quote;
    await db.run(db.kysely, `UPDATE ${q(table)} SET ${q(column)} = ? WHERE ${q('id')} = ?`, [value, id]);
  };

  test('sessions past their end or idle too long go; live ones, and what they authorize, stay', async () => {
    const pb = server.client();
    const email = `sweep-${Date.now()}@example.com`;
    await pb.collection('users').create({ email, password: 'password-1', passwordConfirm: 'password-1' });
    const tokens: string[] = [];
    for (let i = 0; i < 3; i++) {
      const c = server.client();
      await c.collection('users').authWithPassword(email, 'password-1');
      tokens.push(c.authStore.token);
    }
    const sid = (t: string) =>
      JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()).sid as string;
    const [expired, idle, live] = tokens.map(sid) as [string, string, string];
    await setDate('_sessions', 'expires', '2000-01-01 00:00:00.000Z', expired);
    await setDate('_sessions', 'lastSeen', '2000-01-01 00:00:00.000Z', idle);
    const before = await count('_sessions');
    await server.app.auth.sweepExpired();
    assert.equal(await count('_sessions'), before - 2);
    assert.equal(await count('_sessions', ` WHERE ${server.app.db.dialect.quote('id')} = '${live}'`), 1);
    server.app.auth.sessions.forget([expired, idle]);
    const refresh = (token: string) =>
      server.request('POST', '/api/collections/users/auth-refresh', { token }).then((r) => r.status);
    assert.deepEqual(
      [await refresh(tokens[0]!), await refresh(tokens[1]!), await refresh(tokens[2]!)],
      [401, 401, 200],
    );
  });

  test('old one-time codes and MFA steps go', async () => {
    await server.admin.collections.update('users', { otp: { enabled: true, duration: 60 } });
    const email = `sweep-otp-${Date.now()}@example.com`;
    await server
      .client()
      .collection('users')
      .create({ email, password: 'password-1', passwordConfirm: 'password-1' });
    const { otpId } = await server.client().collection('users').requestOTP(email);
    // Stored after the answer: wait for the row.
    for (let i = 0; i < 50 && (await count('_otps')) === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const fresh = await count('_otps');
    assert.ok(fresh >= 1);
    await server.app.auth.sweepExpired();
    assert.equal(await count('_otps'), fresh, 'a fresh code stays');
    await setDate('_otps', 'created', '2000-01-01 00:00:00.000Z', otpId);
    await server.app.auth.sweepExpired();
    assert.equal(await count('_otps'), fresh - 1);
  });
});
