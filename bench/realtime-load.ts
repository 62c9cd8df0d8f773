// The client side of `node bench/realtime.ts`, run as its own process: opens the SSE subscribers, then
// writes at a fixed rate and times each delivery (write sent → event received, on this process's clock).
// Prints one JSON line of results on stdout.
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { parseArgs } from 'node:util';

const { values: flags } = parseArgs({
  options: {
    url: { type: 'string' },
    users: { type: 'string' },
    admin: { type: 'string' },
    subscribers: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '100' },
    duration: { type: 'string', default: '30' },
  },
});
const base = String(flags.url);
const users = JSON.parse(readFileSync(String(flags.users), 'utf8')) as { id: string; token: string }[];
const SUBSCRIBERS = Number(flags.subscribers);
const RATE = Number(flags.rate);
const DURATION = Number(flags.duration);
const CONNECT_AT_ONCE = 100;

const latencies: number[] = [];
let delivered = 0;
let unexpected = 0;
let dropped = 0;
const perUser = new Map<string, number>();

async function post(path: string, body: unknown, token: string): Promise<number> {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: token },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

/** One subscriber: a raw SSE stream, subscribed to `feed/*` as its user once PB_CONNECT arrives. */
function subscribe(user: { id: string; token: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/api/realtime`, { agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`GET /api/realtime: ${res.statusCode}`));
      res.setEncoding('utf8');
      let buffer = '';
      let subscribed = false;
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
          const event = /^event:(.*)$/m.exec(frame)?.[1];
          const data = /^data:(.*)$/m.exec(frame)?.[1];
          if (!event || data === undefined) continue;
          if (event === 'PB_CONNECT' && !subscribed) {
            subscribed = true;
            const clientId = JSON.parse(data).clientId;
            post('/api/realtime', { clientId, subscriptions: ['feed/*'] }, user.token).then((status) => {
              if (status === 204) resolve();
              else reject(new Error(`POST /api/realtime: ${status}`));
            }, reject);
          } else if (event === 'feed/*') {
            const record = JSON.parse(data).record;
            if (record.owner !== user.id) unexpected++;
            delivered++;
            latencies.push(Date.now() - record.sentAt);
          } else if (event === 'PB_DISCONNECT') {
            dropped++;
          }
        }
      });
      res.on('end', () => dropped++);
    });
    req.on('error', reject);
    req.end();
  });
}

const pending: Promise<void>[] = [];
for (let i = 0; i < SUBSCRIBERS; i++) {
  const user = users[i % users.length] as { id: string; token: string };
  perUser.set(user.id, (perUser.get(user.id) ?? 0) + 1);
  pending.push(subscribe(user));
  if (pending.length >= CONNECT_AT_ONCE) await Promise.all(pending.splice(0));
}
await Promise.all(pending);
console.error(`bench: ${SUBSCRIBERS} subscribers connected`);

let writes = 0;
let failed = 0;
const failures = new Map<number, number>();
let expected = 0;
const started = Date.now();
const writing: Promise<void>[] = [];
while (Date.now() - started < DURATION * 1000) {
  const due = started + (writes * 1000) / RATE;
  const wait = due - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const owner = users[writes % users.length] as { id: string };
  writes++;
  expected += perUser.get(owner.id) ?? 0;
  writing.push(
    post('/api/collections/feed/records', { owner: owner.id, sentAt: Date.now() }, String(flags.admin)).then(
      (status) => {
        if (status !== 200) {
          failed++;
          failures.set(status, (failures.get(status) ?? 0) + 1);
        }
      },
    ),
  );
}
await Promise.all(writing);
// Let the last events arrive.
const until = Date.now() + 5000;
while (delivered < expected && Date.now() < until) await new Promise((r) => setTimeout(r, 50));

latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? -1;
console.log(
  JSON.stringify({
    subscribers: SUBSCRIBERS,
    users: users.length,
    writes,
    failedWrites: failed,
    failures: Object.fromEntries(failures),
    seconds: (Date.now() - started) / 1000,
    expected,
    delivered,
    unexpected,
    dropped,
    p50: pct(0.5),
    p99: pct(0.99),
    max: latencies.at(-1) ?? -1,
  }),
);
process.exit(0);
