import assert from 'node:assert/strict';
import fs from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TEST_ENGINE } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  // biome-ignore lint/suspicious/noExplicitAny: error bodies are arbitrary JSON.
  body: any;
}

/** One request on its own connection, from `from` (any 127.x address reaches the loopback server). */
function send(
  server: TestServer,
  method: string,
  path: string,
  options: { body?: unknown; from?: string; signal?: AbortSignal } = {},
): Promise<Answer> {
  const url = new URL(server.url);
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        agent: false,
        localAddress: options.from ?? '127.0.0.1',
        signal: options.signal,
        headers: body ? { 'content-type': 'application/json' } : {},
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text ? JSON.parse(text) : undefined,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (condition()) return;
    await sleep(10);
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** A server whose `jobs` creates with n < 100 stay in flight until `release()`; `ran` lists the n that ran. */
async function serverWithSlowCreates(flags: Record<string, number>) {
  const server = await startServer({ flags: { maxInFlightPerIp: 0, maxConnectionsPerIp: 0, ...flags } });
  await server.admin.collections.create({
    name: 'jobs',
    type: 'base',
    createRule: '',
    fields: [{ name: 'n', type: 'number' }],
  });
  const ran: number[] = [];
  let release = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  server.app.records.hooks.afterCreate.bind(async (event, next) => {
    const n = Number(event.record.n);
    ran.push(n);
    if (n < 100) await held;
    return next();
  });
  const create = (n: number, options: { from?: string; signal?: AbortSignal } = {}) =>
    send(server, 'POST', '/api/collections/jobs/records', { body: { n }, ...options });
  const gate = server.app.server.admission;
  return { server, ran, release: () => release(), create, gate };
}

const assertShed = (res: Answer, status: number) => {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.headers['retry-after'], '1');
  // Answered before any other hook: with CORS all the same, so that a page on another origin can read it.
  assert.equal(res.headers['access-control-allow-origin'], '*');
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.equal(res.body.status, status);
  assert.equal(typeof res.body.message, 'string');
  assert.deepEqual(res.body.data, {});
};

describe('admission control', () => {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('queues past maxInFlight, answers 503 with Retry-After past the queue, and keeps health prompt', async () => {
    const s = await serverWithSlowCreates({ maxInFlight: 2, maxQueue: 2, queueTimeoutMs: 60_000 });
    server = s.server;
    const running = [s.create(1), s.create(2)];
    await until(() => s.ran.length === 2, 'two creates running');
    const queued = [s.create(3), s.create(4)];
    await until(() => s.gate.queued === 2, 'two creates queued');
    assertShed(await s.create(5), 503);
    const started = performance.now();
    const health = await send(s.server, 'GET', '/api/health');
    assert.equal(health.status, 200);
    assert.ok(performance.now() - started < 1000, 'health answers while every slot is taken');
    s.release();
    const answers = await Promise.all([...running, ...queued]);
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200, 200],
    );
    // Both queued requests get a slot at once, so they may run in either order (the gate's unit test checks FIFO).
    assert.deepEqual(
      [...s.ran].sort(),
      [1, 2, 3, 4],
      'the queued requests ran once slots were free; the shed one never',
    );
    await until(() => s.gate.inFlight === 0, 'every slot freed');
  });

  it('lets writes that wait only for their sync to disk leave their slot (SQLite group commit), up to 4 × maxInFlight', {
    skip:
      TEST_ENGINE !== 'sqlite' &&
      'group commit and its WAL sync are SQLite-only: a server engine commits each write itself',
  }, async () => {
    // The WAL's sync runs through fs.fsync (sqlite-group.ts). Held here, the first group's writes are
    // committed but not durable, and nothing is answered until it is released.
    const realFsync = fs.fsync;
    const held: (() => void)[] = [];
    let holding = false;
    fs.fsync = ((fd: number, done: (err: NodeJS.ErrnoException | null) => void) => {
      if (holding) held.push(() => realFsync(fd, done));
      else realFsync(fd, done);
    }) as typeof fs.fsync;
    try {
      server = await startServer({
        flags: { maxInFlight: 2, maxQueue: 20, maxInFlightPerIp: 0, maxConnectionsPerIp: 0 },
      });
    } finally {
      // The server took its sync function as it started.
      fs.fsync = realFsync;
    }
    const s = server;
    await s.admin.collections.create({
      name: 'notes',
      type: 'base',
      createRule: '',
      fields: [{ name: 'n', type: 'number' }],
    });
    const gate = s.app.server.admission;
    holding = true;
    const creates = Array.from({ length: 12 }, (_, n) =>
      send(s, 'POST', '/api/collections/notes/records', { body: { n } }),
    );
    // Two run and commit; while their sync is held, they leave their slots to two more, and so on, up to
    // 8 parked writes (4 × maxInFlight): 10 running, the last 2 queued. Without parking, 2 and 10.
    await until(() => gate.inFlight === 10 && gate.queued === 2, '10 creates running, 2 queued');
    assert.equal(held.length, 1, 'one sync under way; the groups after it wait for the next');
    holding = false;
    held.shift()!();
    const answers = await Promise.all(creates);
    assert.deepEqual(
      answers.map((a) => a.status),
      Array(12).fill(200),
    );
    const list = await s.request('GET', '/api/collections/notes/records?perPage=50', {
      token: s.adminToken,
    });
    assert.equal(list.body.totalItems, 12);
    await until(() => gate.inFlight === 0 && gate.queued === 0, 'every slot freed');
  });

  it('answers 503 to a request that waited queueTimeoutMs, without running it', async () => {
    const s = await serverWithSlowCreates({ maxInFlight: 1, maxQueue: 4, queueTimeoutMs: 200 });
    server = s.server;
    const running = s.create(1);
    await until(() => s.ran.length === 1, 'one create running');
    assertShed(await s.create(2), 503);
    assert.equal(s.gate.queued, 0);
    s.release();
    assert.equal((await running).status, 200);
    await sleep(50);
    assert.deepEqual(s.ran, [1]);
  });

  it('drops a queued request whose client has gone, without running it', async () => {
    const s = await serverWithSlowCreates({ maxInFlight: 1, maxQueue: 4, queueTimeoutMs: 60_000 });
    server = s.server;
    const running = s.create(1);
    await until(() => s.ran.length === 1, 'one create running');
    const abort = new AbortController();
    const gone = s.create(2, { signal: abort.signal }).catch((err: Error) => err.name);
    await until(() => s.gate.queued === 1, 'the create queued');
    abort.abort();
    assert.equal(await gone, 'AbortError');
    await until(() => s.gate.queued === 0, 'the gone request left the queue');
    const next = s.create(3);
    await until(() => s.gate.queued === 1, 'the next create queued');
    s.release();
    assert.equal((await running).status, 200);
    assert.equal((await next).status, 200);
    assert.deepEqual(s.ran, [1, 3]);
    const list = await s.server.admin.collection('jobs').getFullList();
    assert.deepEqual(list.map((r) => r.n).sort(), [1, 3]);
  });

  it('keeps the slot of a running request whose client left until its work ends', async () => {
    const s = await serverWithSlowCreates({ maxInFlight: 1, maxQueue: 4, queueTimeoutMs: 60_000 });
    server = s.server;
    const abort = new AbortController();
    const gone = s.create(1, { signal: abort.signal }).catch((err: Error) => err.name);
    await until(() => s.ran.length === 1, 'one create running');
    abort.abort();
    assert.equal(await gone, 'AbortError');
    await sleep(50);
    assert.equal(s.gate.inFlight, 1, 'its work is still going on');
    const next = s.create(2);
    await until(() => s.gate.queued === 1, 'the next create queued');
    s.release();
    assert.equal((await next).status, 200);
    await until(() => s.gate.inFlight === 0, 'every slot freed');
    assert.deepEqual(s.ran, [1, 2]);
  });

  it('frees the slot of requests that end in an error', async () => {
    const s = await serverWithSlowCreates({ maxInFlight: 1, maxQueue: 0, queueTimeoutMs: 1000 });
    server = s.server;
    for (const [method, path, body] of [
      ['GET', '/api/nope', undefined],
      ['POST', '/api/collections/jobs/records', { n: 'not a number' }],
      ['GET', '/api/collections/missing/records', undefined],
    ] as const)
      assert.ok((await send(s.server, method, path, { body })).status >= 400);
    assert.equal(s.gate.inFlight, 0);
    assert.equal((await s.create(100)).status, 200);
  });

  it('answers 429 past maxInFlightPerIp while other addresses still get in', async () => {
    const t = await serverWithSlowCreates({
      maxInFlight: 8,
      maxQueue: 8,
      queueTimeoutMs: 60_000,
      maxInFlightPerIp: 2,
    });
    server = t.server;
    const running = [t.create(1, { from: '127.0.0.2' }), t.create(2, { from: '127.0.0.2' })];
    await until(() => t.ran.length === 2, 'two creates from one address');
    assertShed(await t.create(3, { from: '127.0.0.2' }), 429);
    assert.equal((await t.create(100, { from: '127.0.0.3' })).status, 200);
    t.release();
    for (const answer of await Promise.all(running)) assert.equal(answer.status, 200);
    assert.equal((await t.create(101, { from: '127.0.0.2' })).status, 200);
  });

  it('answers 503 and closes connections past maxConnectionsPerIp', async () => {
    server = await startServer({ flags: { maxConnectionsPerIp: 2 } });
    const url = new URL(server.url);
    const open = (from: string) =>
      new Promise<Socket>((resolve, reject) => {
        const socket = connect({ host: url.hostname, port: Number(url.port), localAddress: from }, () =>
          resolve(socket),
        );
        socket.on('error', reject);
      });
    const idle = [await open('127.0.0.5'), await open('127.0.0.5')];
    try {
      const refused = await send(server, 'GET', '/api/health', { from: '127.0.0.5' });
      assertShed(refused, 503);
      assert.equal(refused.headers.connection, 'close');
      assert.equal((await send(server, 'GET', '/api/health', { from: '127.0.0.6' })).status, 200);
      idle[0]?.destroy();
      await sleep(100);
      assert.equal((await send(server, 'GET', '/api/health', { from: '127.0.0.5' })).status, 200);
    } finally {
      for (const socket of idle) socket.destroy();
    }
  });
});
