// The load generator of bench/files.ts, run as its own process so that its work is not counted against
// the server. The same code loads Plinth and the bare baseline (bench/baseline-files.ts). Prints one JSON
// line on stdout ({@link FilesLoadResult}).
//
//   --mode upload --url URL --source FILE: POSTs a multipart form with one file (the field --field, default
//     `file`) whose bytes are streamed from FILE on disk as the request goes (never held in memory).
//   --mode get --targets FILE.json: GETs the URLs listed in FILE.json ([{url, expect?}]); the bytes of each
//     answer are counted and dropped. `expect`: a string the answer's Content-Disposition must contain
//     (a thumbnail's name: a server that fell back to the original is counted as unexpected).
//
// Both modes: --concurrency C requests at once over keep-alive connections; either --count N requests in all
// (get: the targets in turn), or --duration S: new requests start for S seconds (at least --min of them),
// and the run ends when the last one does. --keep-bodies returns the upload answers (parsed JSON).
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';

export interface FilesLoadResult {
  requests: number;
  /** Wall time from the first request's start to the last one's end. */
  seconds: number;
  bytesSent: number;
  bytesReceived: number;
  /** Answers that were not 200, connection errors, byte counts that did not match Content-Length. */
  failures: number;
  /** Answers whose Content-Disposition did not contain the target's `expect`. */
  unexpected: number;
  statuses: Record<string, number>;
  p50: number;
  p99: number;
  max: number;
  /** With --keep-bodies: the upload answers, in the order they ended. */
  bodies?: unknown[];
  firstError?: string;
}

const { values: flags } = parseArgs({
  options: {
    mode: { type: 'string', default: 'get' },
    url: { type: 'string' },
    source: { type: 'string' },
    field: { type: 'string', default: 'file' },
    filename: { type: 'string', default: 'blob.bin' },
    targets: { type: 'string' },
    concurrency: { type: 'string', default: '4' },
    count: { type: 'string' },
    duration: { type: 'string' },
    min: { type: 'string', default: '1' },
    'keep-bodies': { type: 'boolean', default: false },
  },
});

interface Target {
  url: string;
  expect?: string;
}
interface Outcome {
  status: number;
  sent: number;
  received: number;
  ok: boolean;
  unexpected: boolean;
  body?: unknown;
}

const concurrency = Number(flags.concurrency);
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const BOUNDARY = '----plinthbench7d1e4f0b9a';

/** One multipart upload: the form's head, the file streamed from disk, the closing boundary. */
function upload(url: string, source: string, size: number): Promise<Outcome> {
  const head = Buffer.from(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${flags.field}"; filename="${flags.filename}"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
  const length = head.length + size + tail.length;
  async function* body() {
    yield head;
    for await (const chunk of createReadStream(source, { highWaterMark: 256 * 1024 })) yield chunk as Buffer;
    yield tail;
  }
  return new Promise((resolve) => {
    let settled = false;
    const done = (o: Outcome) => {
      if (!settled) {
        settled = true;
        resolve(o);
      }
    };
    const req = request(url, {
      method: 'POST',
      agent,
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': length },
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {}
        const ok = res.statusCode === 200;
        done({
          status: res.statusCode ?? 0,
          sent: length,
          received: 0,
          ok,
          unexpected: false,
          body: ok ? parsed : text.slice(0, 300),
        });
      });
      res.on('error', (err) => done(failed(err)));
    });
    req.on('error', (err) => done(failed(err)));
    pipeline(Readable.from(body()), req).catch((err) => done(failed(err)));
  });
}

/** One GET whose answer is counted and dropped. */
function get(target: Target): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request(target.url, { agent }, (res) => {
      let received = 0;
      res.on('data', (c: Buffer) => {
        received += c.length;
      });
      res.on('end', () => {
        const length = Number(res.headers['content-length'] ?? received);
        const ok = res.statusCode === 200 && received === length;
        const disposition = String(res.headers['content-disposition'] ?? '');
        resolve({
          status: res.statusCode ?? 0,
          sent: 0,
          received,
          ok,
          unexpected: ok && target.expect !== undefined && !disposition.includes(target.expect),
        });
      });
      res.on('error', (err) => resolve(failed(err)));
    });
    req.on('error', (err) => resolve(failed(err)));
    req.end();
  });
}

let firstError: string | undefined;
function failed(err: Error): Outcome {
  firstError ??= err.message;
  return { status: 0, sent: 0, received: 0, ok: false, unexpected: false };
}

async function main(): Promise<FilesLoadResult> {
  let next: () => Promise<Outcome>;
  if (flags.mode === 'upload') {
    if (!flags.url || !flags.source) throw new Error('--mode upload needs --url and --source');
    const url = flags.url;
    const source = flags.source;
    const size = statSync(source).size;
    next = () => upload(url, source, size);
  } else {
    if (!flags.targets) throw new Error('--mode get needs --targets');
    const targets = JSON.parse(readFileSync(flags.targets, 'utf8')) as Target[];
    if (!targets.length) throw new Error('no targets');
    let i = 0;
    next = () => get(targets[i++ % targets.length] as Target);
  }
  const count = flags.count !== undefined ? Number(flags.count) : undefined;
  const duration = flags.duration !== undefined ? Number(flags.duration) * 1000 : undefined;
  if (count === undefined && duration === undefined) throw new Error('--count or --duration is needed');
  const min = Math.max(Number(flags.min), 1);

  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const bodies: unknown[] = [];
  let started = 0;
  let sent = 0;
  let received = 0;
  let failures = 0;
  let unexpected = 0;
  const t0 = performance.now();
  const more = () =>
    count !== undefined ? started < count : started < min || performance.now() - t0 < (duration as number);
  async function worker() {
    while (more()) {
      started++;
      const begin = performance.now();
      const o = await next();
      latencies.push(performance.now() - begin);
      statuses[o.status] = (statuses[o.status] ?? 0) + 1;
      sent += o.sent;
      received += o.received;
      if (!o.ok) failures++;
      if (o.unexpected) unexpected++;
      if (flags['keep-bodies'] && o.ok) bodies.push(o.body);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const sorted = latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    Number((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(1));
  agent.destroy();
  return {
    requests: latencies.length,
    seconds: Number(seconds.toFixed(3)),
    bytesSent: sent,
    bytesReceived: received,
    failures,
    unexpected,
    statuses,
    p50: at(0.5),
    p99: at(0.99),
    max: Number((sorted.at(-1) ?? 0).toFixed(1)),
    ...(flags['keep-bodies'] ? { bodies } : {}),
    ...(firstError ? { firstError } : {}),
  };
}

console.log(JSON.stringify(await main()));
