// GET /metrics: off by default; on, it counts requests under their route pattern (never the URL), and only
// the allowed addresses or the holders of the token may read it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { EventSource } from 'eventsource';
import { startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';

(globalThis as { EventSource?: unknown }).EventSource ??= EventSource;

const TOKEN = randomBytes(24).toString('hex');

async function scrape(server: TestServer, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}/metrics`, { headers });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

/** The value of the sample whose name and labels start as `prefix` says (undefined when absent). */
function sample(text: string, prefix: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function until(check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe(`metrics on ${TEST_ENGINE}`, () => {
  let off: TestServer;
  let on: TestServer;
  before(async () => {
    [off, on] = await Promise.all([startServer(), startServer({ flags: { metrics: true } })]);
  });
  after(() => Promise.all([off?.close(), on?.close()]));

  it('is off by default: /metrics is a 404 like any unknown route', async () => {
    const res = await off.request('GET', '/metrics');
    assert.equal(res.status, 404);
    assert.deepEqual(res.body, { status: 404, message: "The requested resource wasn't found.", data: {} });
  });

  it('counts a request under its route pattern and status, with its latency histogram', async () => {
    assert.equal((await on.request('GET', '/api/collections/users/records')).status, 200);
    assert.equal((await on.request('GET', '/api/collections/no_such/records')).status, 404);
    const { status, type, text } = await scrape(on);
    assert.equal(status, 200);
    assert.match(type ?? '', /^text\/plain; version=0\.0\.4/);
    const route = 'route="/api/collections/:collection/records"';
    assert.equal(sample(text, `plinth_http_requests_total{method="GET",${route},status="200"}`), 1);
    assert.equal(sample(text, `plinth_http_requests_total{method="GET",${route},status="404"}`), 1);
    assert.doesNotMatch(text, /no_such|collections\/users/);
    assert.equal(sample(text, `plinth_http_request_duration_seconds_count{method="GET",${route}}`), 2);
    assert.equal(
      sample(text, `plinth_http_request_duration_seconds_bucket{method="GET",${route},le="+Inf"}`),
      2,
    );
    assert.equal(sample(text, `plinth_build_info{version="0.1.0",engine="${TEST_ENGINE}"}`), 1);
    for (const name of [
      'plinth_http_requests_in_flight',
      'plinth_http_requests_queued',
      'plinth_http_requests_shed_total{reason="queue_full"}',
      'nodejs_eventloop_lag_p99_seconds',
      'process_resident_memory_bytes',
    ])
      assert.notEqual(sample(text, name), undefined, name);
    const pool = sample(text, 'plinth_db_pool_connections{state="total"}');
    if (TEST_ENGINE === 'sqlite') assert.equal(pool, undefined);
    else assert.ok((pool as number) >= 1, 'a pooled connection is open');
  });

  it('counts 100 requests to random unknown URLs as one series, whatever the URLs', async () => {
    const before = await scrape(on);
    const series = (text: string) =>
      text.split('\n').filter((l) => l.startsWith('plinth_http_requests_total')).length;
    await Promise.all(
      Array.from({ length: 100 }, () =>
        on.request('GET', `/x/${randomBytes(8).toString('hex')}?q=${Math.random()}`),
      ),
    );
    const { text } = await scrape(on);
    assert.ok(
      series(text) <= series(before.text) + 2,
      'at most the unknown route and /metrics itself are new',
    );
    assert.ok(
      (sample(text, 'plinth_http_requests_total{method="GET",route="unknown",status="404"}') as number) >=
        100,
    );
    assert.doesNotMatch(text, /\/x\//);
  });

  it('counts the runs of background jobs: the sweeps of old request logs and unfinished uploads run at start', async () => {
    const ran = (text: string, job: string) =>
      sample(text, `plinth_job_runs_total{job="${job}",outcome="ok"}`) ?? 0;
    await until(async () => ran((await scrape(on)).text, 'log_retention') >= 1);
    const { text } = await scrape(on);
    assert.ok(ran(text, 'tus_sweep') >= 1, text);
    assert.equal(sample(text, 'plinth_job_runs_total{job="tus_sweep",outcome="failed"}'), 0);
    assert.ok(sample(text, 'plinth_job_last_success_timestamp_seconds{job="tus_sweep"}'));
  });

  it('shows realtime clients and subscriptions as they come and go', async () => {
    const pb = on.client();
    const unsubscribe = await pb.collection('users').subscribe('*', () => {});
    const read = async () => {
      const { text } = await scrape(on);
      return [sample(text, 'plinth_realtime_clients '), sample(text, 'plinth_realtime_subscriptions ')];
    };
    assert.deepEqual(await read(), [1, 1]);
    await unsubscribe();
    pb.realtime.unsubscribe();
    await until(async () => (await read())[0] === 0);
  });
});

describe(`who may read metrics on ${TEST_ENGINE}`, () => {
  it('asks a token of addresses outside the allow-list (401 without it or with a wrong one)', async () => {
    const server = await startServer({
      flags: { metrics: true, metricsToken: TOKEN, metricsAllow: '10.9.9.9' },
    });
    try {
      const missing = await scrape(server);
      assert.equal(missing.status, 401);
      assert.deepEqual(JSON.parse(missing.text), {
        status: 401,
        message: 'The metrics token is missing or wrong.',
        data: {},
      });
      for (const authorization of [
        `Bearer ${TOKEN}x`,
        TOKEN,
        `Bearer ${TOKEN.slice(1)}`,
        'Bearer ',
        `bearer ${TOKEN}`,
      ])
        assert.equal((await scrape(server, { authorization })).status, 401, authorization);
      const ok = await scrape(server, { authorization: `Bearer ${TOKEN}` });
      assert.equal(ok.status, 200);
      assert.match(ok.text, /plinth_build_info/);
      assert.doesNotMatch(ok.text, new RegExp(TOKEN));
    } finally {
      await server.close();
    }
  });

  it('refuses an address outside the allow-list with 403 when no token is set, and lets one inside in', async () => {
    const [outside, inside] = await Promise.all([
      startServer({ flags: { metrics: true, metricsAllow: '10.9.9.9,192.168.0.0/16' } }),
      startServer({ flags: { metrics: true, metricsAllow: '10.0.0.0/8,127.0.0.0/8' } }),
    ]);
    try {
      const refused = await scrape(outside, { authorization: `Bearer ${TOKEN}` });
      assert.equal(refused.status, 403);
      assert.equal(JSON.parse(refused.text).message, 'Metrics may not be read from this address.');
      assert.equal((await scrape(inside)).status, 200);
    } finally {
      await Promise.all([outside.close(), inside.close()]);
    }
  });
});
