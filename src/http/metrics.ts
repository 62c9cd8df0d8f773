import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest, onResponseHookHandler } from 'fastify';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { PoolStats } from '../db/index.ts';
import type { JobStats } from '../lib/index.ts';

/** Latency buckets in seconds: from a cached lookup (1 ms) to a slow export (10 s). */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** The route label of requests no route matched: one value, whatever URL was asked for. */
export const UNKNOWN_ROUTE = 'unknown';

/** One method of one route: answers by status, and the latency histogram (counts per bucket, not cumulated). */
interface Series {
  method: string;
  route: string;
  statuses: Map<number, number>;
  buckets: Float64Array;
  sum: number;
  count: number;
}

/** What the scrape reads from the rest of the server, at the moment of the scrape. */
export interface MetricsSources {
  engine: string;
  admission: () => { inFlight: number; queued: number; shed: Readonly<Record<string, number>> };
  realtime: () => { clients: number; subscriptions: number };
  /** Absent on SQLite, which has no connection pool. */
  pool?: () => PoolStats;
  /** The background jobs of this node (scheduled backups, sweeps). */
  jobs?: JobStats;
}

/** The running server's version, from package.json (read once). */
function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8'));
    return String(pkg.version ?? 'unknown');
  } catch {
    return 'unknown';
  }
}

/**
 * The metrics of every worker of `plinth serve --workers N` (src/cli/worker-metrics.ts): a scrape lands on
 * one worker, and Prometheus must see the server's counters, not a different worker's at each scrape.
 */
export interface SharedMetrics {
  /** Called once with this worker's registry, which the other workers' scrapes then read too. */
  serve(registry: Registry): void;
  /** Every worker's metrics, summed, in Prometheus' text format; undefined when they cannot be asked. */
  gather(): Promise<string | undefined>;
}

/**
 * Prometheus metrics of one server. Requests are counted by an `onResponse` hook on each route (added as the
 * route is registered, so no lookup of the route per request) and on the not-found handler, into plain
 * numbers; prom-client formats them only when scraped. Per request that is a map update and a short loop
 * over the buckets. The route label is the route's pattern (`/api/collections/:collection/records`), never
 * the URL, and every URL no route matches counts as `unknown`: a client cannot make new series. Gauges
 * (admission, realtime, the pool) are read at scrape time. Its own registry: no global state.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #series: Series[] = [];

  constructor(sources: MetricsSources) {
    const registry = this.registry;
    collectDefaultMetrics({ register: registry });
    const gauge = (name: string, help: string, read: (g: Gauge) => void, labelNames: string[] = []) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [registry],
        collect() {
          read(this);
        },
      });
    const build = new Gauge({
      name: 'plinth_build_info',
      help: 'Always 1; the labels say which Plinth runs, on which database engine.',
      labelNames: ['version', 'engine'],
      registers: [registry],
      // Summed over the workers it would say 2: every worker says the same.
      aggregator: 'first',
    });
    build.set({ version: version(), engine: sources.engine }, 1);
    gauge('plinth_http_requests_in_flight', 'Requests holding an admission slot now.', (g) =>
      g.set(sources.admission().inFlight),
    );
    gauge('plinth_http_requests_queued', 'Requests waiting in the admission queue now.', (g) =>
      g.set(sources.admission().queued),
    );
    counter(
      registry,
      'plinth_http_requests_shed_total',
      'Requests refused by admission control, by reason.',
      () =>
        Object.entries(sources.admission().shed).map(([reason, value]) => ({ value, labels: { reason } })),
    );
    gauge('plinth_realtime_clients', 'Realtime (SSE) streams open on this node.', (g) =>
      g.set(sources.realtime().clients),
    );
    gauge('plinth_realtime_subscriptions', 'Subscriptions of the realtime streams of this node.', (g) =>
      g.set(sources.realtime().subscriptions),
    );
    const pool = sources.pool;
    if (pool) {
      gauge(
        'plinth_db_pool_connections',
        'Connections of the database pool by state: total open, idle among them (PostgreSQL, MySQL).',
        (g) => {
          const stats = pool();
          g.set({ state: 'total' }, stats.total);
          g.set({ state: 'idle' }, stats.idle);
        },
        ['state'],
      );
      gauge('plinth_db_pool_waiting', 'Callers waiting for a pooled database connection.', (g) =>
        g.set(pool().waiting),
      );
    }
    const jobs = sources.jobs;
    if (jobs) jobMetrics(registry, jobs, gauge);
    const series = this.#series;
    // Formatted by prom-client from the numbers the hooks keep (prom-client's own histogram hashes its labels
    // on every observation).
    counter(
      registry,
      'plinth_http_requests_total',
      'Requests answered, by method, route pattern and status.',
      () =>
        series.flatMap((s) =>
          [...s.statuses].map(([status, value]) => ({
            value,
            labels: { method: s.method, route: s.route, status },
          })),
        ),
    );
    const name = 'plinth_http_request_duration_seconds';
    const help = 'Time from the request to the end of its response, by method and route pattern.';
    registry.registerMetric({
      name,
      help,
      type: 'histogram',
      get: async () => ({
        name,
        help,
        type: 'histogram',
        aggregator: 'sum',
        values: series.flatMap(histogram),
      }),
    } as never);
  }

  /** A series for `method` on `route`, kept for the life of the server. */
  series(method: string, route: string): Series {
    const s: Series = {
      method,
      route,
      statuses: new Map(),
      buckets: new Float64Array(BUCKETS.length + 1),
      sum: 0,
      count: 0,
    };
    this.#series.push(s);
    return s;
  }

  /** The `onResponse` hook of one route: counts each answer in the series of its method. */
  hook(route: string): onResponseHookHandler {
    const byMethod = new Map<string, Series>();
    return (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      const method = request.method;
      let s = byMethod.get(method);
      if (!s) {
        s = this.series(method, route);
        byMethod.set(method, s);
      }
      record(s, reply.statusCode, reply.elapsedTime / 1000);
      done();
    };
  }

  /** Adds the request hooks to every route registered after this call, and to the not-found handler (`notFound`). */
  install(app: FastifyInstance): { onResponse: onResponseHookHandler } {
    app.addHook('onRoute', (route) => {
      const own = route.onResponse ? [route.onResponse].flat() : [];
      route.onResponse = [...own, this.hook(route.url ?? UNKNOWN_ROUTE)];
    });
    return { onResponse: this.hook(UNKNOWN_ROUTE) };
  }
}

type Sample = { value: number; labels: Record<string, string | number> };
type GaugeOf = (name: string, help: string, read: (g: Gauge) => void, labelNames: string[]) => Gauge;

/** The jobs' runs by outcome, and when each last succeeded and how long its last run took. */
function jobMetrics(registry: Registry, jobs: JobStats, gauge: GaugeOf): void {
  counter(
    registry,
    'plinth_job_runs_total',
    'Runs of background jobs on this node, by job and outcome.',
    () =>
      [...jobs.entries()].flatMap(([job, r]) => [
        { value: r.ok, labels: { job, outcome: 'ok' } },
        { value: r.failed, labels: { job, outcome: 'failed' } },
      ]),
  );
  gauge(
    'plinth_job_last_success_timestamp_seconds',
    'When each background job last succeeded on this node (Unix time).',
    (g) => {
      for (const [job, r] of jobs.entries()) if (r.lastSuccess) g.set({ job }, r.lastSuccess / 1000);
    },
    ['job'],
  );
  gauge(
    'plinth_job_last_duration_seconds',
    'How long the last run of each background job took on this node, whatever its outcome.',
    (g) => {
      for (const [job, r] of jobs.entries()) if (r.lastSeconds !== undefined) g.set({ job }, r.lastSeconds);
    },
    ['job'],
  );
}

/** A counter whose values are kept elsewhere and read at scrape time, formatted by prom-client. */
function counter(registry: Registry, name: string, help: string, values: () => Sample[]): void {
  registry.registerMetric({
    name,
    help,
    type: 'counter',
    get: async () => ({ name, help, type: 'counter', aggregator: 'sum', values: values() }),
  } as never);
}

function record(s: Series, status: number, seconds: number): void {
  s.statuses.set(status, (s.statuses.get(status) ?? 0) + 1);
  let i = 0;
  while (i < BUCKETS.length && seconds > (BUCKETS[i] as number)) i++;
  (s.buckets as Float64Array)[i] = ((s.buckets as Float64Array)[i] as number) + 1;
  s.sum += seconds;
  s.count++;
}

function histogram(s: Series) {
  const labels = { method: s.method, route: s.route };
  const name = 'plinth_http_request_duration_seconds';
  const values: { value: number; labels: Record<string, string | number>; metricName: string }[] = [];
  let cumulated = 0;
  for (let i = 0; i <= BUCKETS.length; i++) {
    cumulated += s.buckets[i] as number;
    values.push({
      value: cumulated,
      labels: { ...labels, le: i < BUCKETS.length ? (BUCKETS[i] as number) : '+Inf' },
      metricName: `${name}_bucket`,
    });
  }
  values.push({ value: s.sum, labels, metricName: `${name}_sum` });
  values.push({ value: s.count, labels, metricName: `${name}_count` });
  return values;
}
