// The load generator, run as its own process (spawned by bench/run.ts) so that its CPU work is not
// counted against the server and its event loop does not share a thread with the server's.
// It runs autocannon once and prints one JSON line: the figures run.ts needs, nothing else on stdout.
//
// node bench/load.ts --url URL [--method POST --body '{"a":1}' --content-type application/json]
//                    [--header 'name: value' ...] [--connections 10] [--duration 10]
import { createHistogram } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import autocannon, { type Result } from 'autocannon';

/** What one load run reports back to run.ts (latencies in ms). */
export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
}

/** Options for one load run; mirrors the CLI flags. */
export interface LoadOptions {
  url: string;
  method: string;
  body?: string;
  contentType?: string;
  /** Extra request headers (e.g. `authorization` for the owner scenarios). */
  headers?: Record<string, string>;
  connections: number;
  duration: number;
}

/** Runs autocannon against one endpoint and reduces its result to {@link LoadResult}. */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  // autocannon's own latency histogram has whole-millisecond resolution, which reads 0 or 1 ms for
  // most requests on loopback and makes p50/p99 ratios meaningless. Record each 2xx response time in
  // microseconds ourselves instead (same policy as autocannon: errors are not in the latency figures).
  const latency = createHistogram();
  const result = await new Promise<Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: opts.url,
        method: opts.method,
        body: opts.body,
        headers: { ...opts.headers, ...(opts.contentType ? { 'content-type': opts.contentType } : {}) },
        connections: opts.connections,
        duration: opts.duration,
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) latency.record(Math.max(1, Math.round(ms * 1000)));
    });
  });
  const statusCodes: Record<string, number> = {};
  for (const [code, s] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = Number(s.count);
  return {
    requests: result.requests.total,
    // Completed requests over the measured time: steadier than the mean of per-second samples.
    rps: result.requests.total / result.duration,
    p50: latency.count ? latency.percentile(50) / 1000 : 0,
    p99: latency.count ? latency.percentile(99) / 1000 : 0,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      method: { type: 'string', default: 'GET' },
      body: { type: 'string' },
      'content-type': { type: 'string' },
      header: { type: 'string', multiple: true, default: [] },
      connections: { type: 'string', default: '10' },
      duration: { type: 'string', default: '10' },
    },
  });
  if (!values.url) {
    console.error('load.ts: --url is required');
    process.exit(2);
  }
  const result = await runLoad({
    url: values.url,
    method: values.method,
    body: values.body,
    contentType: values['content-type'],
    headers: Object.fromEntries(
      values.header.map((h) => {
        const i = h.indexOf(':');
        return [h.slice(0, i).trim().toLowerCase(), h.slice(i + 1).trim()];
      }),
    ),
    connections: Number(values.connections),
    duration: Number(values.duration),
  });
  console.log(JSON.stringify(result));
}
