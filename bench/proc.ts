// What a bench reads about a server process from /proc (Linux), and the load process it starts.
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadResult } from './load.ts';

const TICKS = 100; // clock ticks per second of /proc/PID/stat (getconf CLK_TCK on Linux)

/**
 * Pins a process and all its threads to `cores` (taskset's list, e.g. '0'): a bench's `--pin` runs the
 * server on core 0 and itself (with the load processes it starts, which inherit its core) on core 1.
 */
export function pinTo(pid: number, cores: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cores, String(pid)], { stdio: 'ignore' });
}

/** CPU seconds (user + system) the process has used so far. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/**
 * CPU seconds used so far by each of the process's threads, summed by thread name (`MainThread`,
 * `V8Worker` for V8's helpers, `plinth-logs` for the log writer...). Threads that have ended are not in it.
 */
export function threadCpuSeconds(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return byName;
  }
  for (const tid of tasks) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      const seconds = (Number(fields[11]) + Number(fields[12])) / TICKS;
      byName.set(name, (byName.get(name) ?? 0) + seconds);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return byName;
}

/** Resident memory now and at its peak, in MB. */
export function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
}

/**
 * The process and its descendants (the worker processes of `plinth serve --workers N`), parents first.
 * Read from /proc/PID/task/TID/children (Linux); a process that ends meanwhile is left out.
 */
export function processTree(pid: number): number[] {
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    const parent = tree[i] as number;
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${parent}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        const kids = readFileSync(`/proc/${parent}/task/${tid}/children`, 'utf8').trim();
        if (kids) tree.push(...kids.split(' ').map(Number));
      } catch {
        // The thread ended between the listing and the read.
      }
    }
  }
  return tree;
}

/** Runs bench/load.ts in its own process with these flags; resolves with its result line. */
export const loadInChild = (flags: string[]): Promise<LoadResult> => runInChild<LoadResult>('load.ts', flags);

/** Runs a bench/ script in its own process (load from outside the server's); resolves with its last line, as JSON. */
export function runInChild<T>(script: string, flags: string[]): Promise<T> {
  const child = spawn(process.execPath, [join(import.meta.dirname, script), ...flags], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => {
      try {
        if (code !== 0) throw new Error(`exit ${code}`);
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as T);
      } catch (err) {
        reject(new Error(`${script} failed: ${(err as Error).message}`));
      }
    }),
  );
}
