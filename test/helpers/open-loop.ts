// An open-loop load generator, run as its own process so that its work does not slow the test that
// measures the server: `node test/helpers/open-loop.ts URL RATE SECONDS`. It opens its connections
// first (each with a GET /api/health) and prints `ready`; then it sends RATE requests a second whatever
// the answers do (unlike a closed loop, which slows down with the server), waits for the last answers
// and prints one JSON summary line (see `Summary`).
import { Agent, request } from 'node:http';

/** What the run saw. `skipped`: not sent because MAX_OPEN requests were already waiting for an answer. */
export interface Summary {
  sent: number;
  statuses: Record<string, number>;
  /** 429 and 503 answers without a `Retry-After` header. */
  missingRetryAfter: number;
  timeouts: number;
  errors: number;
  skipped: number;
  /** Latency of answered requests, in milliseconds. */
  p50: number;
  p99: number;
  max: number;
}

const TIMEOUT_MS = 15_000;
const MAX_OPEN = 2000;
const TICK_MS = 5;
/** Connections to the server; more than its queue holds, and few enough to never fill its accept backlog. */
const SOCKETS = 256;

async function main(): Promise<void> {
  const [target = '', rateText = '', secondsText = ''] = process.argv.slice(2);
  const url = new URL(target);
  const rate = Number(rateText);
  const seconds = Number(secondsText);
  // Many keep-alive clients, as browsers are; past SOCKETS requests wait here, still timed from when due.
  const agent = new Agent({ keepAlive: true, maxSockets: SOCKETS, maxFreeSockets: SOCKETS });
  const summary: Summary = {
    sent: 0,
    statuses: {},
    missingRetryAfter: 0,
    timeouts: 0,
    errors: 0,
    skipped: 0,
    p50: 0,
    p99: 0,
    max: 0,
  };
  const latencies: number[] = [];
  let open = 0;

  // Connections first: a storm of new connections is the kernel's problem, not the one measured here.
  const warm = () =>
    new Promise<void>((resolve, reject) => {
      request(new URL('/api/health', url), { agent }, (res) => res.resume().on('end', resolve))
        .on('error', reject)
        .end();
    });
  await Promise.all(Array.from({ length: SOCKETS }, warm));
  process.stdout.write('ready\n');

  const fire = () => {
    if (open >= MAX_OPEN) {
      summary.skipped++;
      return;
    }
    open++;
    summary.sent++;
    const started = performance.now();
    let settled = false;
    const settle = () => {
      if (settled) return false;
      settled = true;
      open--;
      return true;
    };
    const req = request(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => {
        if (!settle()) return;
        latencies.push(performance.now() - started);
        const status = res.statusCode ?? 0;
        summary.statuses[status] = (summary.statuses[status] ?? 0) + 1;
        if ((status === 429 || status === 503) && !res.headers['retry-after']) summary.missingRetryAfter++;
      });
    });
    req.setTimeout(TIMEOUT_MS, () => {
      summary.timeouts++;
      req.destroy(new Error('timeout'));
    });
    req.on('error', (err) => {
      if (settle() && err.message !== 'timeout') summary.errors++;
    });
    req.end();
  };

  // Requests are due at a steady rate; each tick sends those that have come due since the start.
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - start;
      const due = Math.floor((Math.min(elapsed, seconds * 1000) / 1000) * rate);
      while (summary.sent + summary.skipped < due) fire();
      if (elapsed >= seconds * 1000) {
        clearInterval(timer);
        resolve();
      }
    }, TICK_MS);
  });
  const deadline = performance.now() + TIMEOUT_MS + 1000;
  while (open > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0);
  Object.assign(summary, { p50: at(0.5), p99: at(0.99), max: at(1) });
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

await main();
