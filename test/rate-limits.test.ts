import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertApiError, sdkError } from './helpers/assertions.ts';
import { startServer, type TestServer } from './helpers/server.ts';

type Rule = { label: string; maxRequests: number; duration: number; audience?: string };

describe('rate limits (PocketBase rateLimits settings)', () => {
  let server: TestServer;
  let userToken = '';
  before(async () => {
    server = await startServer({ rateLimits: true });
    for (const name of ['posts', 'notes'])
      await server.admin.collections.create({
        name,
        type: 'base',
        listRule: '',
        createRule: '',
        fields: [{ name: 'title', type: 'text' }],
      });
    await server.admin.collection('users').create({
      email: 'user@example.com',
      password: 'user-password-1',
      passwordConfirm: 'user-password-1',
    });
    const auth = await server
      .client()
      .collection('users')
      .authWithPassword('user@example.com', 'user-password-1');
    userToken = auth.token;
  });
  after(() => server.close());

  /** Replaces the rules (which also starts every counter afresh). */
  const limit = async (rules: Rule[], more: Record<string, unknown> = {}) => {
    const res = await server.request('PATCH', '/api/settings', {
      token: server.adminToken,
      body: { rateLimits: { enabled: true, rules, excludedIPs: [], ...more } },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };
  const create = (collection: string, token?: string) =>
    server.request('POST', `/api/collections/${collection}/records`, { body: { title: 'x' }, token });
  const statuses = async (n: number, call: () => Promise<{ status: number }>) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push((await call()).status);
    return out;
  };

  it("are on in a fresh install, with PocketBase's default rules", async () => {
    const settings = await server.admin.settings.getAll();
    assert.deepEqual(settings.rateLimits, {
      enabled: true,
      excludedIPs: [],
      rules: [
        { label: '*:auth', audience: '', duration: 3, maxRequests: 2 },
        { label: '*:create', audience: '', duration: 5, maxRequests: 20 },
        { label: '/api/batch', audience: '', duration: 1, maxRequests: 3 },
        { label: '/api/', audience: '', duration: 10, maxRequests: 300 },
      ],
    });
  });

  it('round-trip through the settings API with the SDK and survive a reload', async () => {
    const rateLimits = {
      enabled: true,
      excludedIPs: ['10.0.0.0/8'],
      rules: [{ label: 'posts:list', audience: '@guest', duration: 60, maxRequests: 100 }],
    };
    const updated = await server.admin.settings.update({ rateLimits });
    assert.deepEqual(updated.rateLimits, rateLimits);
    await server.app.settings.reload();
    assert.deepEqual((await server.admin.settings.getAll()).rateLimits, rateLimits);
  });

  it('refuse invalid rules with field errors and keep the stored ones', async () => {
    const before = (await server.admin.settings.getAll()).rateLimits;
    const err = await sdkError(
      server.admin.settings.update({
        rateLimits: { rules: [{ label: 'bad label!', maxRequests: 0, duration: -5, audience: '@nobody' }] },
      }),
      400,
    );
    assert.deepEqual(err.response.data, {
      rateLimits: {
        rules: {
          0: {
            label: { code: 'validation_match_invalid', message: 'Must be in a valid format.' },
            maxRequests: { code: 'validation_required', message: 'Cannot be blank.' },
            duration: {
              code: 'validation_min_greater_equal_than_required',
              message: 'Must be no less than 1.',
              params: { threshold: 1 },
            },
            audience: { code: 'validation_in_invalid', message: 'Must be a valid value.' },
          },
        },
      },
    });
    for (const [label, rateLimits, path] of [
      ['no rules while enabled', { enabled: true, rules: [] }, ['rules']],
      [
        'a repeated label',
        {
          rules: [
            { label: '/api/', maxRequests: 1, duration: 1 },
            { label: '/api/', maxRequests: 2, duration: 1 },
          ],
        },
        ['rules', '1', 'label'],
      ],
      ['a bad subnet', { excludedIPs: ['10.0.0.0/99'] }, ['excludedIPs', '0']],
      ['rules that are not a list', { rules: 'all' }, ['rules']],
    ] as const) {
      const res = await server.request('PATCH', '/api/settings', {
        token: server.adminToken,
        body: { rateLimits },
      });
      assertApiError(res, label, 400);
      let data = res.body.data.rateLimits;
      for (const key of path) data = data?.[key];
      assert.equal(typeof data?.code, 'string', `${label}: ${JSON.stringify(res.body.data)}`);
    }
    assert.deepEqual((await server.admin.settings.getAll()).rateLimits, before);
  });

  it("answer 429 with Retry-After past a collection's limit, and count each collection apart", async () => {
    await limit([{ label: 'posts:create', maxRequests: 2, duration: 60 }]);
    assert.deepEqual(await statuses(3, () => create('posts')), [200, 200, 429]);
    const limited = await create('posts');
    assertApiError(limited, 'past the limit', 429);
    assert.equal(limited.body.message, 'Too Many Requests.');
    const wait = Number(limited.headers.get('retry-after'));
    assert.ok(wait >= 1 && wait <= 60, `Retry-After ${wait}`);
    assert.deepEqual(await statuses(3, () => create('notes')), [200, 200, 200]);
    assert.equal((await create('posts', server.adminToken)).status, 200, 'superusers are never limited');
  });

  it('match wildcard tags and audiences', async () => {
    await limit([{ label: '*:create', audience: '@guest', maxRequests: 1, duration: 60 }]);
    assert.deepEqual(await statuses(2, () => create('notes')), [200, 429]);
    assert.deepEqual(await statuses(3, () => create('notes', userToken)), [200, 200, 200]);
  });

  it('match METHOD /path prefixes and leave other methods alone', async () => {
    await limit([{ label: 'GET /api/collections/', maxRequests: 1, duration: 60 }]);
    const list = () => server.request('GET', '/api/collections/posts/records');
    assert.deepEqual(await statuses(2, list), [200, 429]);
    assert.equal((await create('posts')).status, 200);
  });

  it('never limit health probes, excluded IPs, or anything once disabled', async () => {
    await limit([{ label: '/api/', maxRequests: 1, duration: 60 }]);
    assert.deepEqual(await statuses(3, () => server.request('GET', '/api/health')), [200, 200, 200]);
    assert.deepEqual(await statuses(2, () => create('posts')), [200, 429]);
    await limit([{ label: '/api/', maxRequests: 1, duration: 60 }], { excludedIPs: ['127.0.0.0/8'] });
    assert.deepEqual(await statuses(3, () => create('posts')), [200, 200, 200]);
    await limit([{ label: '/api/', maxRequests: 1, duration: 60 }], { enabled: false });
    assert.deepEqual(await statuses(3, () => create('posts')), [200, 200, 200]);
  });

  it('start counting afresh when the rules change', async () => {
    await limit([{ label: '/api/', maxRequests: 1, duration: 60 }]);
    assert.deepEqual(await statuses(2, () => create('posts')), [200, 429]);
    await limit([{ label: '/api/', maxRequests: 2, duration: 60 }]);
    assert.deepEqual(await statuses(3, () => create('posts')), [200, 200, 429]);
  });
});
