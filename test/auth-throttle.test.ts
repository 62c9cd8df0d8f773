import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createPasswords } from '../src/auth/index.ts';
import { startServer, type TestServer } from './helpers/server.ts';

const USERS = '/api/collections/users';
const DEFAULTS = { enabled: true, identityMax: 10, ipMax: 100, window: 900 };
/** Small limits so a test reaches them in a few requests and a window passes in two seconds. */
const SMALL = { enabled: true, identityMax: 3, ipMax: 1000, window: 2 };

interface Reply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies.
  body: any;
  headers: Record<string, string | string[] | undefined>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

describe('brute-force throttling of sign-ins and auth mails', () => {
  let server: TestServer;
  let port = 0;
  let ipCounter = 0;
  let userCounter = 0;

  before(async () => {
    server = await startServer();
    port = Number(new URL(server.url).port);
    await setThrottle(SMALL);
  });
  after(async () => {
    await server.close();
  });

  /**
   * Each test speaks from its own loopback address (127.0.0.0/8 all reaches the server on Linux), so per-IP
   * counters of one test never leak into another.
   */
  const freshIp = () => {
    ipCounter++;
    return `127.0.${Math.floor(ipCounter / 200) + 1}.${(ipCounter % 200) + 2}`;
  };

  /** POSTs JSON from a chosen source address over a new connection. */
  function post(
    path: string,
    body: unknown,
    from: string,
    headers: Record<string, string> = {},
  ): Promise<Reply> {
    const data = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          path,
          method: 'POST',
          localAddress: from,
          agent: false,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(data),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({
              status: res.statusCode ?? 0,
              body: text ? JSON.parse(text) : undefined,
              headers: res.headers,
            });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  }

  const login = (identity: string, password: string, from: string, headers?: Record<string, string>) =>
    post(`${USERS}/auth-with-password`, { identity, password }, from, headers);

  async function setThrottle(authThrottle: Record<string, unknown>): Promise<void> {
    const res = await server.request('PATCH', '/api/settings', {
      token: server.adminToken,
      body: { authThrottle },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }

  async function newUser(): Promise<{ email: string; password: string }> {
    userCounter++;
    const user = { email: `throttled${userCounter}@example.com`, password: `right-password-${userCounter}` };
    await server.admin.collection('users').create({ ...user, passwordConfirm: user.password });
    return user;
  }

  function assertThrottled(res: Reply, label = ''): void {
    assert.equal(res.status, 429, `${label} ${JSON.stringify(res.body)}`);
    const retryAfter = String(res.headers['retry-after']);
    assert.match(retryAfter, /^\d+$/, `Retry-After ${retryAfter}`);
    assert.ok(Number(retryAfter) >= 1, `Retry-After ${retryAfter}`);
    assert.equal(res.body.status, 429);
    assert.equal(typeof res.body.message, 'string');
    assert.ok(res.body.message.length > 0);
    assert.deepEqual(res.body.data, {});
  }

  describe('per identity', () => {
    it('refuses the attempt after identityMax wrong passwords with 429 and Retry-After, even with the right password', async () => {
      const user = await newUser();
      const ip = freshIp();
      for (let i = 0; i < 3; i++) {
        const res = await login(user.email, `wrong-${i}`, ip);
        assert.equal(res.status, 400, `attempt ${i + 1}`);
        assert.equal(res.headers['retry-after'], undefined);
      }
      const blocked = await login(user.email, user.password, ip);
      assertThrottled(blocked, 'right password at the limit');
      assert.ok(
        Number(blocked.headers['retry-after']) <= SMALL.window,
        String(blocked.headers['retry-after']),
      );
      assert.equal(blocked.body.token, undefined);
      // Still blocked, and the identity is matched case-insensitively.
      assertThrottled(await login(user.email.toUpperCase(), user.password, ip), 'upper-cased identity');
    });

    it('counts an identity across IPs, and leaves other identities from the same IP alone', async () => {
      const victim = await newUser();
      const other = await newUser();
      const ip = freshIp();
      for (let i = 0; i < 3; i++) assert.equal((await login(victim.email, `wrong-${i}`, ip)).status, 400);
      assertThrottled(await login(victim.email, victim.password, ip));
      // The same identity from a fresh address: the identity budget is spent, whatever the address.
      assertThrottled(await login(victim.email, victim.password, freshIp()), 'victim from another IP');
      // Another identity from the throttled address is unaffected.
      const res = await login(other.email, other.password, ip);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(typeof res.body.token, 'string');
    });

    it('lets the right password in again once the window has passed', async () => {
      const user = await newUser();
      const ip = freshIp();
      for (let i = 0; i < 3; i++) assert.equal((await login(user.email, `wrong-${i}`, ip)).status, 400);
      assertThrottled(await login(user.email, user.password, ip));
      await sleep(SMALL.window * 1000 + 100);
      const res = await login(user.email, user.password, ip);
      assert.equal(res.status, 200, JSON.stringify(res.body));
    });

    it('resets the identity counter on a successful sign-in', async () => {
      const user = await newUser();
      const ip = freshIp();
      const statuses: number[] = [];
      for (const password of ['wrong-1', 'wrong-2', user.password, 'wrong-3', 'wrong-4', user.password])
        statuses.push((await login(user.email, password, ip)).status);
      // Without the reset the fifth attempt would already be the fourth failure in the window.
      assert.deepEqual(statuses, [400, 400, 200, 400, 400, 200]);
    });

    it('throttles unknown identities exactly like known ones (no enumeration through 429s)', async () => {
      const known = await newUser();
      const unknown = 'nobody-at-all@example.com';
      const run = async (identity: string) => {
        const ip = freshIp();
        const replies: Reply[] = [];
        for (let i = 0; i < 5; i++) replies.push(await login(identity, `wrong-${i}`, ip));
        return replies.map((r) => ({
          status: r.status,
          body: r.body,
          retry: r.headers['retry-after'] === undefined ? 'none' : 'set',
        }));
      };
      const a = await run(known.email);
      const b = await run(unknown);
      assert.deepEqual(
        a.map((r) => r.status),
        [400, 400, 400, 429, 429],
      );
      assert.deepEqual(a, b);
    });

    it('gives parallel attempts no more password checks than the limit allows', async () => {
      const user = await newUser();
      const ip = freshIp();
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) => login(user.email, `parallel-wrong-${i}`, ip)),
      );
      const checked = replies.filter((r) => r.status === 400).length;
      const throttled = replies.filter((r) => r.status === 429).length;
      assert.equal(checked + throttled, 20);
      assert.ok(
        checked <= SMALL.identityMax,
        `${checked} of 20 parallel wrong passwords were checked; the limit is ${SMALL.identityMax}`,
      );
    });
  });

  describe('per IP', () => {
    it('refuses an address after ipMax failures across rotating identities; spoofed forwarding headers do not help', async () => {
      await setThrottle({ ipMax: 4 });
      try {
        const user = await newUser();
        const ip = freshIp();
        for (let i = 0; i < 4; i++) {
          const res = await login(`rotating-${i}@example.com`, 'wrong-password', ip);
          assert.equal(res.status, 400, `identity ${i}`);
        }
        // A fresh identity, even with its right password, from the spent address.
        assertThrottled(await login(user.email, user.password, ip), 'fresh identity from the spent IP');
        for (const headers of [
          { 'x-forwarded-for': '203.0.113.7' },
          { 'x-forwarded-for': '203.0.113.8, 198.51.100.1' },
          { 'x-real-ip': '203.0.113.9' },
          { forwarded: 'for=203.0.113.10' },
          {
            'x-forwarded-for': '127.0.0.1',
            'x-client-ip': '203.0.113.11',
            'cf-connecting-ip': '203.0.113.12',
          },
        ] as Record<string, string>[])
          assertThrottled(await login(user.email, user.password, ip, headers), JSON.stringify(headers));

        // Another address is unaffected, and its session records the socket address, not a header.
        const other = freshIp();
        const ok = await login(user.email, user.password, other, { 'x-forwarded-for': '203.0.113.7' });
        assert.equal(ok.status, 200, JSON.stringify(ok.body));
        const sessions = await server.admin
          .collection('_sessions')
          .getFullList({ filter: `recordRef = "${ok.body.record.id}"` });
        assert.deepEqual(
          sessions.map((s) => s.ip),
          [other],
        );
      } finally {
        await setThrottle({ ipMax: SMALL.ipMax });
      }
    });
  });

  describe('auth mails', () => {
    it('limits password-reset requests per email, known or not, with the same answers', async () => {
      const user = await newUser();
      for (const email of [user.email, 'unknown-reset@example.com']) {
        const ip = freshIp();
        const statuses: number[] = [];
        let last: Reply | undefined;
        for (let i = 0; i < 5; i++) {
          last = await post(`${USERS}/request-password-reset`, { email }, ip);
          statuses.push(last.status);
        }
        assert.deepEqual(statuses, [204, 204, 204, 429, 429], email);
        assertThrottled(last!, email);
        // The same email from another address is still throttled; another email from this one is not.
        assert.equal((await post(`${USERS}/request-password-reset`, { email }, freshIp())).status, 429);
        const otherEmail = await post(`${USERS}/request-password-reset`, { email: `x-${email}` }, ip);
        assert.equal(otherEmail.status, 204);
      }
    });

    it('limits verification and OTP requests per email too', async () => {
      const user = await newUser();
      const enable = await server.request('PATCH', '/api/collections/users', {
        token: server.adminToken,
        body: { otp: { enabled: true } },
      });
      assert.equal(enable.status, 200);
      try {
        for (const [path, ok] of [
          ['request-verification', 204],
          ['request-otp', 200],
        ] as const) {
          const ip = freshIp();
          const statuses: number[] = [];
          for (let i = 0; i < 4; i++)
            statuses.push((await post(`${USERS}/${path}`, { email: user.email }, ip)).status);
          assert.deepEqual(statuses, [ok, ok, ok, 429], path);
        }
      } finally {
        await server.request('PATCH', '/api/collections/users', {
          token: server.adminToken,
          body: { otp: { enabled: false } },
        });
      }
    });
  });

  describe('switched off', () => {
    it('never answers 429 when authThrottle.enabled is false', async () => {
      await setThrottle({ enabled: false });
      try {
        const user = await newUser();
        const ip = freshIp();
        for (let i = 0; i < 12; i++) assert.equal((await login(user.email, `wrong-${i}`, ip)).status, 400);
        assert.equal((await login(user.email, user.password, ip)).status, 200);
        for (let i = 0; i < 6; i++)
          assert.equal(
            (await post(`${USERS}/request-password-reset`, { email: user.email }, ip)).status,
            204,
          );
      } finally {
        await setThrottle({ enabled: true });
      }
    });

    it('answers a wrong password for a real account and an unknown account identically and in the same time (no account enumeration by timing)', async (t) => {
      await setThrottle({ enabled: false });
      try {
        const user = await newUser();
        const ip = freshIp();
        const attempt = async (identity: string) => {
          const start = performance.now();
          const res = await login(identity, 'definitely-wrong-password', ip);
          return { ms: performance.now() - start, res };
        };
        // Warm-up: connections, JIT, and the lazily built dummy hash.
        for (let i = 0; i < 3; i++) {
          await attempt(user.email);
          await attempt('warm-up-nobody@example.com');
        }
        const known: number[] = [];
        const unknown: number[] = [];
        let firstKnown: Reply | undefined;
        for (let i = 0; i < 40; i++) {
          const a = await attempt(user.email);
          const b = await attempt(`nobody-${i}@example.com`);
          firstKnown ??= a.res;
          assert.equal(a.res.status, 400);
          assert.equal(b.res.status, a.res.status);
          assert.deepEqual(b.res.body, a.res.body);
          assert.deepEqual(b.res.body, firstKnown.body);
          known.push(a.ms);
          unknown.push(b.ms);
        }
        // What one argon2 check costs on this machine (~5-10 ms here): an unknown account answered without
        // one would differ by about that much, which a fixed 25 ms bound alone would not notice. So paired
        // attempts must also differ by less than half a check.
        const passwords = createPasswords(1);
        const stored = await passwords.hash('some-password');
        const costs: number[] = [];
        for (let i = 0; i < 7; i++) {
          const start = performance.now();
          await passwords.verify(stored, 'definitely-wrong-password');
          costs.push(performance.now() - start);
        }
        const hashCost = median(costs);
        const diff = Math.abs(median(known) - median(unknown));
        // Pairs taken back to back share the machine's momentary load; their differences are steadier.
        const pairedDiff = Math.abs(median(known.map((ms, i) => ms - unknown[i]!)));
        t.diagnostic(
          `median known ${median(known).toFixed(1)} ms, unknown ${median(unknown).toFixed(1)} ms, diff ${diff.toFixed(1)} ms (paired ${pairedDiff.toFixed(1)} ms); one argon2 check ${hashCost.toFixed(1)} ms`,
        );
        assert.ok(diff < 25, `medians differ by ${diff.toFixed(1)} ms`);
        assert.ok(
          pairedDiff < hashCost / 2,
          `paired attempts differ by ${pairedDiff.toFixed(1)} ms; one argon2 check is ${hashCost.toFixed(1)} ms`,
        );
      } finally {
        await setThrottle({ enabled: true });
      }
    });
  });

  describe('settings', () => {
    it('refuses negative, zero, huge, fractional and non-number limits with field errors under authThrottle', async () => {
      const before = (await server.request('GET', '/api/settings', { token: server.adminToken })).body
        .authThrottle;
      const cases: [string, unknown][] = [
        ['identityMax', -1],
        ['identityMax', 0],
        ['identityMax', 1_000_001],
        ['identityMax', 1e12],
        ['identityMax', '5'],
        ['identityMax', 2.5],
        ['identityMax', null],
        ['ipMax', -5],
        ['ipMax', 0],
        ['ipMax', Number.MAX_SAFE_INTEGER],
        ['ipMax', 'many'],
        ['window', 0],
        ['window', -900],
        ['window', 86_401],
        ['window', '900'],
        ['window', 1.5],
        ['enabled', 'yes'],
        ['enabled', 1],
        ['enabled', null],
      ];
      for (const [key, value] of cases) {
        const res = await server.request('PATCH', '/api/settings', {
          token: server.adminToken,
          body: { authThrottle: { [key]: value } },
        });
        assert.equal(res.status, 400, `${key}=${JSON.stringify(value)}`);
        assert.equal(
          res.body.data.authThrottle?.[key]?.code,
          'validation_invalid_value',
          `${key}=${JSON.stringify(value)}`,
        );
        assert.equal(typeof res.body.data.authThrottle[key].message, 'string');
      }
      // Several bad fields at once are all named; a good one beside them is not applied.
      const many = await server.request('PATCH', '/api/settings', {
        token: server.adminToken,
        body: { authThrottle: { identityMax: 0, ipMax: -1, window: 'x', enabled: false } },
      });
      assert.equal(many.status, 400);
      assert.deepEqual(Object.keys(many.body.data.authThrottle).sort(), ['identityMax', 'ipMax', 'window']);
      for (const authThrottle of ['off', 5, [], null]) {
        const res = await server.request('PATCH', '/api/settings', {
          token: server.adminToken,
          body: { authThrottle },
        });
        assert.equal(res.status, 400, JSON.stringify(authThrottle));
        assert.equal(typeof res.body.data.authThrottle, 'object');
      }
      const afterwards = (await server.request('GET', '/api/settings', { token: server.adminToken })).body
        .authThrottle;
      assert.deepEqual(afterwards, before, 'refused patches change nothing');
    });

    it('accepts the bounds, and only superusers may change the settings', async () => {
      for (const authThrottle of [
        { identityMax: 1, ipMax: 1, window: 1 },
        { identityMax: 1_000_000, ipMax: 1_000_000, window: 86_400 },
      ]) {
        const res = await server.request('PATCH', '/api/settings', {
          token: server.adminToken,
          body: { authThrottle },
        });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.deepEqual(res.body.authThrottle, { enabled: true, ...authThrottle });
      }
      const user = await newUser();
      const token = (await login(user.email, user.password, freshIp())).body.token;
      const asUser = await server.request('PATCH', '/api/settings', {
        token,
        body: { authThrottle: { enabled: false } },
      });
      assert.equal(asUser.status, 403);
      const asGuest = await server.request('PATCH', '/api/settings', {
        body: { authThrottle: { enabled: false } },
      });
      assert.equal(asGuest.status, 401);
      await setThrottle(SMALL);
    });

    it('restores the defaults', async () => {
      await setThrottle(DEFAULTS);
      const res = await server.request('GET', '/api/settings', { token: server.adminToken });
      assert.deepEqual(res.body.authThrottle, DEFAULTS);
    });
  });
});
