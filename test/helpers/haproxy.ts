import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './process.ts';

export const HAPROXY = '/usr/sbin/haproxy';
/** Why a test that needs HAProxy cannot run here, or false. `.ci/run` installs it on a fresh machine. */
export const noHaproxy = !existsSync(HAPROXY) && 'haproxy is not installed (/usr/sbin/haproxy)';

export interface Haproxy {
  /** The one address clients use. */
  url: string;
  stop(): Promise<void>;
}

/**
 * HAProxy in front of Plinth nodes, as docs/scale-out.md sets it up: round robin, each node's readiness
 * probe checked every 200 ms (a node that stops answering leaves the pool after one failed check), long
 * timeouts for realtime streams, and a retry on another node for a request whose connection was refused.
 */
export async function startHaproxy(
  backends: { host: string; port: number }[],
  options: { maxconn?: number } = {},
): Promise<Haproxy> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'plinth-haproxy-'));
  const config = [
    'global',
    `  maxconn ${options.maxconn ?? 4000}`,
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 1h',
    '  timeout server 1h',
    '  timeout tunnel 1h',
    '  retries 2',
    '  option redispatch',
    // Realtime messages are small: without this HAProxy may hold one back to merge it (delayed ACKs: ~200 ms).
    '  option http-no-delay',
    'frontend plinth',
    `  bind 127.0.0.1:${port}`,
    '  default_backend nodes',
    'backend nodes',
    '  balance roundrobin',
    '  option httpchk GET /api/plinth/ready',
    '  default-server inter 200ms fall 1 rise 1',
    ...backends.map((b, i) => `  server node${i + 1} ${b.host}:${b.port} check`),
    '',
  ].join('\n');
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  const child: ChildProcess = spawn(HAPROXY, ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  child.stderr?.on('data', (d) => (errors += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited: ${errors}`);
    try {
      await fetch(`${url}/api/health`);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`haproxy did not answer: ${errors}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
