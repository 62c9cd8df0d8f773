import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { EventSource } from 'eventsource';
import type PocketBase from 'pocketbase';
import { createRealtime } from '../src/realtime/index.ts';
import { startServer, type TestServer } from './helpers/server.ts';

// The SDK's realtime service needs a global EventSource (browsers have one; Node's is behind a flag).
(globalThis as { EventSource?: unknown }).EventSource ??= EventSource;

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary record JSON.
type Message = { action: string; record: Record<string, any> };

/** Collects what a subscription receives; `next` waits for the next one, `none` checks nothing more came. */
function collector() {
  const seen: Message[] = [];
  const waiters: ((m: Message) => void)[] = [];
  return {
    seen,
    cb: (m: Message) => {
      const waiter = waiters.shift();
      if (waiter) waiter(m);
      else seen.push(m);
    },
    next(label = 'message', ms = 5000): Promise<Message> {
      const queued = seen.shift();
      if (queued) return Promise.resolve(queued);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${label}`)), ms);
        waiters.push((m) => {
          clearTimeout(timer);
          resolve(m);
        });
      });
    },
  };
}

/**
 * Proves that nothing (more) arrived: a marker record is created in a public collection every subscriber
 * here also watches, and events are delivered in order, so once the marker is in, whatever came before it
 * has been delivered too.
 */
async function settle(server: TestServer, ...clients: PocketBase[]): Promise<void> {
  const marks = clients.map(() => collector());
  const offs = await Promise.all(
    clients.map((pb, i) => pb.collection('rt_marks').subscribe('*', marks[i]!.cb)),
  );
  await server.admin.collection('rt_marks').create({});
  await Promise.all(marks.map((m) => m.next('the marker')));
  await Promise.all(offs.map((off) => off()));
}

/** Reads a raw SSE stream as text, for protocol-level checks. */
function openStream(server: TestServer, headers: Record<string, string> = {}) {
  let text = '';
  let status = 0;
  let responseHeaders: Record<string, unknown> = {};
  let ended = false;
  const req = httpRequest(`${server.url}/api/realtime`, { headers });
  const opened = new Promise<void>((resolve, reject) => {
    req.on('response', (res) => {
      status = res.statusCode ?? 0;
      responseHeaders = res.headers;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => {
        ended = true;
      });
      res.on('error', () => {
        ended = true;
      });
      resolve();
    });
    req.on('error', reject);
  });
  req.end();
  return {
    opened,
    get text() {
      return text;
    },
    get status() {
      return status;
    },
    get headers() {
      return responseHeaders;
    },
    get ended() {
      return ended;
    },
    async until(check: () => boolean, label: string, ms = 5000) {
      const end = Date.now() + ms;
      while (!check()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${label}; got ${text.slice(0, 300)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async clientId(): Promise<string> {
      await this.until(() => /data:\{"clientId":"[^"]+"\}/.test(text), 'PB_CONNECT');
      return (/data:\{"clientId":"([^"]+)"\}/.exec(text) as RegExpExecArray)[1] as string;
    },
    close: () => req.destroy(),
  };
}

describe('realtime', () => {
  let server: TestServer;
  let ann: { id: string; token: string };
  let bob: { id: string; token: string };

  async function user(email: string) {
    const record = await server.admin
      .collection('users')
      .create({ email, password: 'password-123', passwordConfirm: 'password-123' });
    const pb = server.client();
    const auth = await pb.collection('users').authWithPassword(email, 'password-123');
    return { id: record.id, token: auth.token };
  }

  function as(u: { token: string } | undefined): PocketBase {
    const pb = server.client();
    if (u) pb.authStore.save(u.token, null);
    return pb;
  }

  before(async () => {
    server = await startServer();
    const pb = server.admin;
    await pb.collections.update('users', { listRule: '', viewRule: '' });
    await pb.collections.create({ name: 'rt_marks', type: 'base', listRule: '', viewRule: '' });
    await pb.collections.create({
      name: 'rt_public',
      type: 'base',
      listRule: '',
      viewRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'status', type: 'text' },
        { name: 'secret', type: 'text', hidden: true },
      ],
    });
    const users = await pb.collections.getOne('users');
    await pb.collections.create({
      name: 'rt_owned',
      type: 'base',
      listRule: 'owner = @request.auth.id',
      viewRule: 'owner = @request.auth.id',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'owner', type: 'relation', collectionId: users.id, maxSelect: 1 },
      ],
    });
    ann = await user('ann@example.com');
    bob = await user('bob@example.com');
  });
  after(() => server.close());

  describe('the protocol', () => {
    it('GET opens an event stream whose first message is PB_CONNECT with the client id', async () => {
      const stream = openStream(server);
      await stream.opened;
      const id = await stream.clientId();
      assert.equal(stream.status, 200);
      assert.match(String(stream.headers['content-type']), /^text\/event-stream/);
      assert.equal(stream.headers['cache-control'], 'no-store');
      assert.equal(stream.headers['x-accel-buffering'], 'no');
      assert.equal(id.length, 40);
      assert.ok(stream.text.startsWith(`id:${id}\nevent:PB_CONNECT\ndata:{"clientId":"${id}"}\n\n`));
      stream.close();
    });

    it('POST answers as PocketBase: 400 field errors, 404 for an unknown client, 204 when set', async () => {
      const empty = await server.request('POST', '/api/realtime', { body: {} });
      assert.equal(empty.status, 400);
      assert.equal(empty.body.data.clientId.code, 'validation_required');
      assert.equal(empty.body.data.subscriptions, undefined);
      const missing = await server.request('POST', '/api/realtime', {
        body: { clientId: 'missing', subscriptions: ['a'] },
      });
      assert.equal(missing.status, 404);
      assert.deepEqual(missing.body.data, {});
      const stream = openStream(server);
      const clientId = await stream.clientId();
      const ok = await server.request('POST', '/api/realtime', {
        body: { clientId, subscriptions: ['a', 'b'] },
      });
      assert.equal(ok.status, 204);
      const none = await server.request('POST', '/api/realtime', { body: { clientId } });
      assert.equal(none.status, 204);
      stream.close();
    });

    it('refuses hostile subscription lists, with nothing changed', async () => {
      const stream = openStream(server);
      const clientId = await stream.clientId();
      const cases: [unknown, string][] = [
        [{ clientId, subscriptions: Array.from({ length: 1001 }, (_, i) => `t${i}`) }, 'subscriptions'],
        [{ clientId, subscriptions: ['ok', 'a'.repeat(2501)] }, 'subscriptions.1'],
        [{ clientId, subscriptions: ['posts/*\nevent:PB_CONNECT\ndata:{}'] }, 'subscriptions.0'],
        [{ clientId, subscriptions: ['x\r'] }, 'subscriptions.0'],
        [{ clientId, subscriptions: ['a\u0000'] }, 'subscriptions.0'],
        [{ clientId, subscriptions: [42] }, 'subscriptions.0'],
        [{ clientId, subscriptions: 'rt_public/*' }, 'subscriptions'],
        [{ clientId: 42, subscriptions: [] }, 'clientId'],
        [{ clientId: 'x'.repeat(256), subscriptions: [] }, 'clientId'],
        [[clientId], 'clientId'],
      ];
      for (const [body, path] of cases) {
        const res = await server.request('POST', '/api/realtime', { body });
        assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
        let data = res.body.data;
        for (const key of path.split('.')) data = data?.[key];
        assert.ok(data?.code, `${path} in ${JSON.stringify(res.body.data).slice(0, 200)}`);
      }
      const notJson = await server.request('POST', '/api/realtime', {
        rawBody: '{"clientId":',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(notJson.status, 400);
      assert.equal(server.app.realtime.broker.find(clientId)?.subscriptions.size, 0);
      stream.close();
    });

    it('binds the auth of the POST: a guest may sign in, any other change of auth is a 403', async () => {
      const stream = openStream(server);
      const clientId = await stream.clientId();
      const body = { clientId, subscriptions: ['rt_public/*'] };
      assert.equal((await server.request('POST', '/api/realtime', { body })).status, 204);
      assert.equal((await server.request('POST', '/api/realtime', { body, token: ann.token })).status, 204);
      assert.equal((await server.request('POST', '/api/realtime', { body, token: ann.token })).status, 204);
      const other = await server.request('POST', '/api/realtime', { body, token: bob.token });
      assert.equal(other.status, 403);
      assert.deepEqual(other.body.data, {});
      assert.equal((await server.request('POST', '/api/realtime', { body })).status, 403);
      stream.close();
    });

    it('a subscription request that reaches another node is applied by the node holding the stream', async () => {
      // A second node in this process, on the same bus: it holds no stream, so it asks the others.
      const other = createRealtime({
        records: server.app.records,
        collections: server.app.collections,
        bus: server.app.bus,
        limits: server.app.realtime.broker.limits,
        onError: (err) => {
          throw err;
        },
      });
      try {
        const stream = openStream(server);
        const clientId = await stream.clientId();
        const ask = (id: string, ip: string) =>
          other.subscribe({ clientId: id, ip, auth: undefined, subscriptions: ['rt_public/*'] });
        assert.equal(await ask('nosuchclient', '127.0.0.1'), 'missing');
        assert.equal(await ask(clientId, '10.0.0.1'), 'ip');
        assert.equal(await ask(clientId, '127.0.0.1'), 'ok');
        assert.deepEqual(
          [...(server.app.realtime.broker.find(clientId)?.subscriptions.keys() ?? [])],
          ['rt_public/*'],
        );
        // The OAuth2 redirect travels the same way.
        const redirect = { state: clientId, code: 'c0de', error: '' };
        assert.equal(await other.oauth2(redirect, '127.0.0.1'), 'not-subscribed');
        await other.subscribe({ clientId, ip: '127.0.0.1', auth: undefined, subscriptions: ['@oauth2'] });
        assert.equal(await other.oauth2(redirect, '10.0.0.9'), 'other-ip');
        assert.equal(await other.oauth2(redirect, '127.0.0.1'), 'delivered');
        await stream.until(() => stream.text.includes('event:@oauth2'), 'the OAuth2 message');
        assert.match(stream.text, /event:@oauth2\ndata:\{"state":"[^"]+","code":"c0de"\}/);
        assert.equal(
          await other.oauth2({ ...redirect, state: 'nosuchclient' }, '127.0.0.1'),
          'unknown-client',
        );
        stream.close();
      } finally {
        other.close();
      }
    });

    it('forgets a client whose stream closed', async () => {
      const stream = openStream(server);
      const clientId = await stream.clientId();
      stream.close();
      const end = Date.now() + 5000;
      while (server.app.realtime.broker.find(clientId) && Date.now() < end)
        await new Promise((r) => setTimeout(r, 10));
      const res = await server.request('POST', '/api/realtime', { body: { clientId, subscriptions: ['a'] } });
      assert.equal(res.status, 404);
    });

    it('a lone node sends a record event over its bus only while a stream is open', async (t) => {
      const { bus, realtime } = server.app;
      if (!bus.local) return t.skip('the test server is on a bus other processes hear');
      const end = Date.now() + 5000;
      while (realtime.broker.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      assert.equal(realtime.broker.size, 0, 'earlier tests closed their streams');
      const sent: string[] = [];
      const publish = bus.publish;
      // A spy on the real bus: every call goes through.
      Object.assign(bus, {
        publish: (topic: string, message: unknown) => {
          sent.push(String((message as { record?: { id?: unknown } })?.record?.id));
          return publish.call(bus, topic, message);
        },
      });
      try {
        const unheard = await server.admin.collection('rt_public').create({ title: 'unheard' });
        await server.admin.collection('rt_public').update(unheard.id, { title: 'still unheard' });
        assert.ok(!sent.includes(unheard.id), sent.join());
        const got = collector();
        const off = await server.client().collection('rt_public').subscribe('*', got.cb);
        const heard = await server.admin.collection('rt_public').create({ title: 'heard' });
        assert.equal((await got.next('create')).record.id, heard.id);
        assert.equal(sent.filter((id) => id === heard.id).length, 1);
        await off();
      } finally {
        Object.assign(bus, { publish });
      }
    });

    it('the features route says realtime is served', async () => {
      const res = await server.request('GET', '/api/plinth/features');
      assert.equal(res.body.features.realtime, true);
    });
  });

  describe('record events through the SDK', () => {
    it('subscribe("*") receives create, update and delete in order, with the record as the API shows it', async () => {
      const pb = server.client();
      const got = collector();
      const off = await pb.collection('rt_public').subscribe('*', got.cb);
      const created = await server.admin.collection('rt_public').create({ title: 'a', secret: 's' });
      await server.admin.collection('rt_public').update(created.id, { title: 'b' });
      await server.admin.collection('rt_public').delete(created.id);
      const [c, u, d] = [await got.next('create'), await got.next('update'), await got.next('delete')];
      assert.deepEqual([c.action, u.action, d.action], ['create', 'update', 'delete']);
      assert.equal(c.record.id, created.id);
      assert.equal(c.record.title, 'a');
      assert.equal(u.record.title, 'b');
      assert.equal(c.record.collectionName, 'rt_public');
      assert.equal(c.record.secret, undefined, 'a hidden field is not sent to a guest');
      await off();
    });

    it('a superuser subscriber sees hidden fields', async () => {
      const got = collector();
      const off = await server.admin.collection('rt_public').subscribe('*', got.cb);
      await server.admin.collection('rt_public').create({ title: 'h', secret: 'shh' });
      assert.equal((await got.next()).record.secret, 'shh');
      await off();
    });

    it('subscribe(id) receives only that record’s events', async () => {
      const a = await server.admin.collection('rt_public').create({ title: 'a' });
      const b = await server.admin.collection('rt_public').create({ title: 'b' });
      const pb = server.client();
      const got = collector();
      const off = await pb.collection('rt_public').subscribe(a.id, got.cb);
      await server.admin.collection('rt_public').update(b.id, { title: 'b2' });
      await server.admin.collection('rt_public').update(a.id, { title: 'a2' });
      const m = await got.next();
      assert.equal(m.record.id, a.id);
      assert.equal(m.record.title, 'a2');
      await settle(server, pb);
      assert.equal(got.seen.length, 0);
      await off();
    });

    it('rules decide per subscriber: each owner gets only their records, a guest none', async () => {
      const annPb = as(ann);
      const bobPb = as(bob);
      const guestPb = server.client();
      const [annGot, bobGot, guestGot] = [collector(), collector(), collector()];
      const offs = [
        await annPb.collection('rt_owned').subscribe('*', annGot.cb),
        await bobPb.collection('rt_owned').subscribe('*', bobGot.cb),
        await guestPb.collection('rt_owned').subscribe('*', guestGot.cb),
      ];
      const mine = await server.admin.collection('rt_owned').create({ title: 'ann1', owner: ann.id });
      await server.admin.collection('rt_owned').create({ title: 'bob1', owner: bob.id });
      assert.equal((await annGot.next()).record.title, 'ann1');
      assert.equal((await bobGot.next()).record.title, 'bob1');
      // Moved to bob: ann's rule no longer matches the record as it now is.
      await server.admin.collection('rt_owned').update(mine.id, { owner: bob.id });
      assert.equal((await bobGot.next()).record.id, mine.id);
      // Deleted: checked before the delete, so bob (the owner then) hears of it.
      await server.admin.collection('rt_owned').delete(mine.id);
      const gone = await bobGot.next('delete');
      assert.equal(gone.action, 'delete');
      assert.equal(gone.record.id, mine.id);
      await settle(server, annPb, bobPb, guestPb);
      assert.deepEqual([annGot.seen.length, bobGot.seen.length, guestGot.seen.length], [0, 0, 0]);
      for (const off of offs) await off();
    });

    it('checks read the event’s version of the record, not the one stored now', async () => {
      // An update that hid a record, checked after a later update showed it again, must stay hidden.
      const stored = await server.admin.collection('rt_owned').create({ title: 'now bob’s', owner: bob.id });
      const collection = server.app.collections.get('rt_owned');
      const annAuth = {
        collection: server.app.collections.get('users'),
        record: { id: ann.id },
        isSuperuser: false,
      };
      const check = [{ rule: 'listRule' as const, auth: annAuth }];
      const asStored = await server.app.records.checkVisibility(collection, { ...stored }, check);
      const asAnns = await server.app.records.checkVisibility(
        collection,
        { ...stored, owner: ann.id },
        check,
      );
      const gone = await server.app.records.checkVisibility(
        collection,
        { id: 'nosuchrecord01', owner: ann.id },
        check,
      );
      assert.deepEqual([asStored, asAnns, gone], [[false], [true], [true]]);
    });

    it('a null rule sends nothing to anyone but superusers', async () => {
      await server.admin.collections.create({
        name: 'rt_locked',
        type: 'base',
        fields: [{ name: 't', type: 'text' }],
      });
      const annPb = as(ann);
      const got = collector();
      const adminGot = collector();
      const offs = [
        await annPb.collection('rt_locked').subscribe('*', got.cb),
        await server.admin.collection('rt_locked').subscribe('*', adminGot.cb),
      ];
      await server.admin.collection('rt_locked').create({ t: 'x' });
      assert.equal((await adminGot.next()).record.t, 'x');
      await settle(server, annPb);
      assert.equal(got.seen.length, 0);
      for (const off of offs) await off();
    });

    it('filter, expand and fields options follow the records API', async () => {
      const pb = as(ann);
      const filtered = collector();
      const shaped = collector();
      const offs = [
        await pb.collection('rt_public').subscribe('*', filtered.cb, { filter: 'status = "published"' }),
        await pb
          .collection('rt_owned')
          .subscribe('*', shaped.cb, { expand: 'owner', fields: 'id,title,expand.owner.email' }),
      ];
      await server.admin.collection('rt_public').create({ title: 'draft', status: 'draft' });
      await server.admin.collection('rt_public').create({ title: 'out', status: 'published' });
      assert.equal((await filtered.next()).record.title, 'out');
      await server.admin.collection('rt_owned').create({ title: 'with owner', owner: ann.id });
      const m = await shaped.next();
      assert.deepEqual(Object.keys(m.record).sort(), ['expand', 'id', 'title']);
      assert.equal(m.record.expand.owner.email, 'ann@example.com', 'her own email, expanded as her');
      await settle(server, pb);
      assert.equal(filtered.seen.length, 0);
      for (const off of offs) await off();
    });

    it('a filter naming @request or @collection, or a broken one, receives nothing (it is superuser-only)', async () => {
      const pb = as(ann);
      const got = [collector(), collector(), collector()];
      const offs = [
        await pb.collection('rt_public').subscribe('*', got[0]!.cb, { filter: '@request.auth.id != ""' }),
        await pb.collection('rt_public').subscribe('*', got[1]!.cb, { filter: '@collection.users.id != ""' }),
        await pb.collection('rt_public').subscribe('*', got[2]!.cb, { filter: 'nope ~ ' }),
      ];
      await server.admin.collection('rt_public').create({ title: 'x' });
      await settle(server, pb);
      assert.deepEqual(
        got.map((g) => g.seen.length),
        [0, 0, 0],
      );
      for (const off of offs) await off();
    });

    it('rules read the subscription’s query and headers as @request.query and @request.headers', async () => {
      await server.admin.collections.create({
        name: 'rt_keyed',
        type: 'base',
        listRule: '@request.query.key = "k1" && @request.headers.x_token = "t1"',
        fields: [{ name: 't', type: 'text' }],
      });
      const pb = server.client();
      const [right, wrongQuery, wrongHeader] = [collector(), collector(), collector()];
      const offs = [
        await pb
          .collection('rt_keyed')
          .subscribe('*', right.cb, { query: { key: 'k1' }, headers: { 'X-Token': 't1' } }),
        await pb
          .collection('rt_keyed')
          .subscribe('*', wrongQuery.cb, { query: { key: 'k2' }, headers: { 'X-Token': 't1' } }),
        await pb
          .collection('rt_keyed')
          .subscribe('*', wrongHeader.cb, { query: { key: 'k1' }, headers: { 'X-Token': 'no' } }),
      ];
      await server.admin.collection('rt_keyed').create({ t: 'keyed' });
      assert.equal((await right.next()).record.t, 'keyed');
      await settle(server, pb);
      assert.deepEqual([wrongQuery.seen.length, wrongHeader.seen.length], [0, 0]);
      for (const off of offs) await off();
    });

    it('a private email reaches its owner and managers only', async () => {
      const annPb = as(ann);
      const bobPb = as(bob);
      const [annGot, bobGot, adminGot] = [collector(), collector(), collector()];
      const offs = [
        await annPb.collection('users').subscribe(ann.id, annGot.cb),
        await bobPb.collection('users').subscribe(ann.id, bobGot.cb),
        await server.admin.collection('users').subscribe(ann.id, adminGot.cb),
      ];
      await server.admin.collection('users').update(ann.id, { name: 'Ann' });
      const [a, b, s] = [await annGot.next(), await bobGot.next(), await adminGot.next()];
      assert.equal(a.record.email, 'ann@example.com');
      assert.equal(b.record.email, undefined);
      assert.equal(s.record.email, 'ann@example.com');
      for (const m of [a, b, s]) {
        assert.equal(m.record.password, undefined);
        assert.equal(m.record.tokenKey, undefined);
      }
      for (const off of offs) await off();
    });

    it('a rule reading the caller’s record follows a change of that record mid-stream', async () => {
      // `verified` is read from the stream's own copy of the caller's record (not joined): that copy,
      // and what the checks were built from, must follow the change.
      await server.admin.collections.create({
        name: 'rt_verified',
        type: 'base',
        listRule: '@request.auth.verified = true',
        viewRule: '@request.auth.verified = true',
        fields: [{ name: 't', type: 'text' }],
      });
      const annPb = as(ann);
      const got = collector();
      const off = await annPb.collection('rt_verified').subscribe('*', got.cb);
      try {
        await server.admin.collection('rt_verified').create({ t: 'not yet' });
        await settle(server, annPb);
        await server.admin.collection('users').update(ann.id, { verified: true });
        await server.admin.collection('rt_verified').create({ t: 'now' });
        assert.equal((await got.next()).record.t, 'now');
        await server.admin.collection('users').update(ann.id, { verified: false });
        await server.admin.collection('rt_verified').create({ t: 'no more' });
        await settle(server, annPb);
        assert.deepEqual(got.seen, []);
      } finally {
        await off();
      }
    });

    it('no event for a write that rolled back', async () => {
      await server.admin.collections.create({
        name: 'rt_parent',
        type: 'base',
        listRule: '',
        viewRule: '',
        fields: [{ name: 't', type: 'text' }],
      });
      const parents = await server.admin.collections.getOne('rt_parent');
      await server.admin.collections.create({
        name: 'rt_child',
        type: 'base',
        fields: [
          { name: 'parent', type: 'relation', collectionId: parents.id, maxSelect: 1, required: true },
        ],
      });
      const parent = await server.admin.collection('rt_parent').create({ t: 'p' });
      await server.admin.collection('rt_child').create({ parent: parent.id });
      const pb = server.client();
      const got = collector();
      const off = await pb.collection('rt_parent').subscribe('*', got.cb);
      // The child requires its parent: the delete fails and rolls back.
      await assert.rejects(server.admin.collection('rt_parent').delete(parent.id));
      await settle(server, pb);
      assert.equal(got.seen.length, 0);
      await off();
    });

    it('a batch sends its events after it commits, and a failed batch sends none', async () => {
      await server.request('PATCH', '/api/settings', {
        token: server.adminToken,
        body: { batch: { enabled: true } },
      });
      const pb = server.client();
      const got = collector();
      const off = await pb.collection('rt_public').subscribe('*', got.cb);
      const create = (title: string) => ({
        method: 'POST',
        url: '/api/collections/rt_public/records',
        body: { title },
      });
      const ok = await server.request('POST', '/api/batch', {
        token: server.adminToken,
        body: { requests: [create('b1'), create('b2')] },
      });
      assert.equal(ok.status, 200);
      assert.deepEqual([(await got.next()).record.title, (await got.next()).record.title], ['b1', 'b2']);
      const failed = await server.request('POST', '/api/batch', {
        token: server.adminToken,
        body: {
          requests: [
            create('b3'),
            { method: 'POST', url: '/api/collections/rt_public/records', body: { title: 5 } },
            { method: 'DELETE', url: '/api/collections/rt_public/records/nosuchrecord12' },
          ],
        },
      });
      assert.equal(failed.status, 400);
      await settle(server, pb);
      assert.equal(got.seen.length, 0);
      await off();
    });

    it('custom topics carry what server code publishes', async () => {
      const pb = server.client();
      const got = collector();
      const off = await pb.realtime.subscribe('news', got.cb as (m: unknown) => void);
      await server.app.realtime.publish('news', { headline: 'hi' });
      assert.deepEqual(await got.next(), { headline: 'hi' });
      await off();
    });

    it('after unsubscribe nothing more arrives', async () => {
      const pb = server.client();
      const got = collector();
      const off = await pb.collection('rt_public').subscribe('*', got.cb);
      await off();
      await server.admin.collection('rt_public').create({ title: 'later' });
      await settle(server, pb);
      assert.equal(got.seen.length, 0);
    });
  });

  describe('auth changes mid-stream', () => {
    async function ownedSubscription(u: { id: string; token: string }) {
      const pb = as(u);
      const got = collector();
      const off = await pb.collection('rt_owned').subscribe('*', got.cb);
      await server.admin.collection('rt_owned').create({ title: 'before', owner: u.id });
      assert.equal((await got.next('before')).record.title, 'before');
      return { pb, got, off };
    }

    it('signing out makes the stream a guest’s', async () => {
      const u = await user('leaver@example.com');
      const { pb, got, off } = await ownedSubscription(u);
      const out = await server.request('POST', '/api/collections/users/auth-logout', {
        token: u.token,
        body: {},
      });
      assert.equal(out.status, 204);
      // The revocation travels over the bus; the next event is checked as a guest.
      await new Promise((r) => setTimeout(r, 50));
      await server.admin.collection('rt_owned').create({ title: 'after', owner: u.id });
      await settle(server, pb);
      assert.equal(got.seen.length, 0);
      await off();
    });

    it('a session revoked by a superuser, or a deleted account, ends the auth too', async () => {
      const u = await user('revoked@example.com');
      const { pb, got, off } = await ownedSubscription(u);
      const res = await server.request('DELETE', `/api/collections/users/records/${u.id}/sessions`, {
        token: server.adminToken,
      });
      assert.equal(res.status, 204);
      await new Promise((r) => setTimeout(r, 50));
      await server.admin.collection('rt_owned').create({ title: 'after', owner: u.id });
      await settle(server, pb);
      assert.equal(got.seen.length, 0);
      await off();
    });

    it('an expired token makes the stream a guest’s', async () => {
      const u = await user('expiring@example.com');
      const { pb, got, off } = await ownedSubscription(u);
      // Its token expires in 100 ms (as if it had been issued with that little left).
      const { broker } = server.app.realtime;
      for (const client of [...broker.clients()])
        if (client.auth?.context.record?.id === u.id)
          broker.bind(client, { ...client.auth, expiresAt: Date.now() + 100 });
      await new Promise((r) => setTimeout(r, 150));
      await server.admin.collection('rt_owned').create({ title: 'after', owner: u.id });
      await settle(server, pb);
      assert.equal(got.seen.length, 0);
      await off();
    });
  });

  it('two superusers with a filter on @request.auth each get their own answer', async () => {
    await server.admin.collections.create({
      name: 'rt_who',
      type: 'base',
      listRule: null,
      viewRule: null,
      fields: [{ name: 'who', type: 'text' }],
    });
    const second = await server.admin.collection('_superusers').create({
      email: 'root2@example.com',
      password: 'root-password-2',
      passwordConfirm: 'root-password-2',
    });
    const other = server.client();
    await other.collection('_superusers').authWithPassword('root2@example.com', 'root-password-2');
    const first = server.client();
    first.authStore.save(server.adminToken, null);
    const firstId = String(server.admin.authStore.record?.id);
    const [gotFirst, gotOther] = [collector(), collector()];
    const filter = { filter: 'who = @request.auth.id' };
    const offs = [
      await first.collection('rt_who').subscribe('*', gotFirst.cb, filter),
      await other.collection('rt_who').subscribe('*', gotOther.cb, filter),
    ];
    await server.admin.collection('rt_who').create({ who: firstId });
    await server.admin.collection('rt_who').create({ who: second.id });
    assert.equal((await gotFirst.next()).record.who, firstId);
    assert.equal((await gotOther.next()).record.who, second.id);
    await settle(server, first, other);
    assert.deepEqual(
      [gotFirst.seen.length, gotOther.seen.length],
      [0, 0],
      "nobody got the other one's record",
    );
    for (const off of offs) await off();
  });

  it('the SDK reconnects and resubscribes after the server ends its stream', async () => {
    const pb = server.client();
    const got = collector();
    const off = await pb.collection('rt_public').subscribe('*', got.cb);
    const first = pb.realtime.clientId;
    server.app.realtime.broker.find(first)?.close();
    const end = Date.now() + 10_000;
    while ((!pb.realtime.isConnected || pb.realtime.clientId === first) && Date.now() < end)
      await new Promise((r) => setTimeout(r, 20));
    assert.notEqual(pb.realtime.clientId, first);
    await server.admin.collection('rt_public').create({ title: 'after reconnect' });
    assert.equal((await got.next()).record.title, 'after reconnect');
    await off();
  });
});

describe('realtime limits', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({
      flags: {
        realtimeMaxClientsPerIp: 3,
        realtimeBufferBytes: 1024,
        realtimeIdleTimeout: 2,
        realtimeHeartbeat: 1,
        realtimeMaxSubscriptions: 5,
      },
    });
    await server.admin.collections.create({
      name: 'rt_big',
      type: 'base',
      listRule: '',
      fields: [{ name: 'body', type: 'text', max: 100000 }],
    });
  });
  after(() => server.close());

  it('one IP may hold only so many streams (429 past it)', async () => {
    const streams = [openStream(server), openStream(server), openStream(server)];
    await Promise.all(streams.map((s) => s.clientId()));
    const extra = await fetch(`${server.url}/api/realtime`);
    assert.equal(extra.status, 429);
    assert.equal(((await extra.json()) as { status: number }).status, 429);
    for (const s of streams) s.close();
  });

  it('subscriptions per client are bounded by the setting', async () => {
    const stream = openStream(server);
    const clientId = await stream.clientId();
    const res = await server.request('POST', '/api/realtime', {
      body: { clientId, subscriptions: ['a', 'b', 'c', 'd', 'e', 'f'] },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.data.subscriptions.code, 'validation_length_too_long');
    stream.close();
  });

  it('a quiet stream gets keep-alive comments, then is closed as idle with a reason', async () => {
    const stream = openStream(server);
    const clientId = await stream.clientId();
    await server.request('POST', '/api/realtime', { body: { clientId, subscriptions: ['PB_DISCONNECT'] } });
    await stream.until(() => stream.text.includes('\n:\n\n'), 'a heartbeat');
    await stream.until(() => stream.ended, 'the idle close', 8000);
    assert.match(stream.text, /event:PB_DISCONNECT\ndata:\{"reason":"[^"]*idle/);
  });

  it('a client that stops reading is disconnected; the others keep receiving', async () => {
    // A raw socket that never reads: its kernel buffers fill, then the server's.
    const slowReq = httpRequest(`${server.url}/api/realtime`);
    const slowId = await new Promise<string>((resolve, reject) => {
      slowReq.on('response', (res) => {
        res.once('data', (chunk: Buffer) => {
          res.pause();
          resolve((/"clientId":"([^"]+)"/.exec(String(chunk)) as RegExpExecArray)[1] as string);
        });
      });
      slowReq.on('error', reject);
      slowReq.end();
    });
    await server.request('POST', '/api/realtime', {
      body: { clientId: slowId, subscriptions: ['rt_big/*'] },
    });
    const pb = server.client();
    const got = collector();
    const off = await pb.collection('rt_big').subscribe('*', got.cb);
    const body = 'x'.repeat(90_000);
    for (let i = 0; i < 60 && server.app.realtime.broker.find(slowId); i++) {
      await server.admin.collection('rt_big').create({ body });
      assert.equal((await got.next()).record.body.length, body.length);
    }
    assert.equal(server.app.realtime.broker.find(slowId), undefined, 'the slow client was dropped');
    slowReq.destroy();
    await off();
  });

  it('shutdown ends the streams at once', async () => {
    const other = await startServer();
    const stream = openStream(other);
    await stream.clientId();
    const started = Date.now();
    await other.close();
    await stream.until(() => stream.ended, 'the stream to end');
    assert.match(stream.text, /event:PB_DISCONNECT/);
    assert.ok(Date.now() - started < 10_000);
  });
});
