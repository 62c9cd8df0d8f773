import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/plinth.js', import.meta.url));

/** A free loopback port (closed again at once; good enough for a test's child server). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Runs `plinth ARGS` with the same Node binary as the tests; resolves with its exit code and output. */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts `plinth serve` as a child process and waits until it answers /api/health. */
export async function spawnServe(
  args: string[],
  env: Record<string, string> = {},
): Promise<{
  child: ChildProcess;
  stdout: () => string;
  /** The first match of `pattern` in the output, waiting up to `ms` for it to be printed. */
  waitFor: (pattern: RegExp, ms?: number) => Promise<RegExpExecArray | null>;
  /**
   * The primary's exit code, once every process of the server has ended: with several workers (the
   * default on a machine of more than one core) the workers end just after the primary.
   */
  exited: Promise<number | null>;
  /** Signals every process of the server at once (SIGKILL: the whole server crashes at one moment). */
  kill: (signal: NodeJS.Signals) => void;
}> {
  // A process group of its own, so that `kill` reaches the workers with the primary.
  const child = spawn(process.execPath, [BIN, 'serve', '--log-level', 'warn', ...args], {
    cwd: ROOT,
    // No event-loop watch unless a test asks for it: on a machine busy with other test files a server is
    // not run for a while now and then, which reads as a long turn, and it sheds the test's requests
    // (503s in cli.test and workers.test in CI). Tests of shedding set it (overload.test).
    env: { ...process.env, PLINTH_MAX_EVENT_LOOP_DELAY_MS: '0', ...env },
    detached: true,
  });
  const kill = (signal: NodeJS.Signals) => killGroup(child, signal);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', async (code) => {
      await groupGone(child.pid!);
      resolve(code);
    }),
  );
  // What the server prints after it starts answering (the installer link) may come a moment later.
  const waitFor = async (pattern: RegExp, ms = 5000) => {
    const until = performance.now() + ms;
    let found = pattern.exec(out);
    while (!found && performance.now() < until && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 50));
      found = pattern.exec(out);
    }
    return found;
  };
  const http = args[args.indexOf('--http') + 1];
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://${http}/api/health`)).ok)
        return { child, stdout: () => out, waitFor, exited, kill };
    } catch {
      /* not up yet */
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  kill('SIGKILL');
  throw new Error(`plinth serve did not start:\n${out}`);
}

/** Signs in to `_superusers` on a running server; answers the status (200 when the credentials work). */
export async function superuserSignInStatus(
  base: string,
  identity: string,
  password: string,
): Promise<number> {
  const res = await fetch(`${base}/api/collections/_superusers/auth-with-password`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ identity, password }),
  });
  await res.body?.cancel();
  return res.status;
}

/** Waits (up to 10 s) until no process of group `pid` is left. */
async function groupGone(pid: number): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    try {
      process.kill(-pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Signals every process of a server `spawnServe` started (its primary and its workers). */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    /* gone already */
  }
}
