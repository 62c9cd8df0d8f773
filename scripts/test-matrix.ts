// `npm test`: the whole suite once per database engine (one suite, every dialect). Unit tests under src/
// and scripts/, and the test helpers' own tests, run once, on the first engine; the HTTP and SDK tests in
// test/ run on every engine.
//
// Every (engine, file) pair is a job, `node --test FILE` with PLINTH_TEST_DB set, and up to
// PLINTH_TEST_JOBS of them (4 by default) run at once, longest first. A test file spends much of its time
// waiting (on servers it starts, on its database, on timers), so one at a time left this 2-core machine
// half idle. Files that time something or watch memory (QUIET below) run with at most one other job, as
// they did when only two engines ran side by side; they go first, so the rest fill every slot afterwards.
// Files that load the machine on purpose (ALONE) run with no other job at all, before everything else.
// Each job's output is printed when it ends; the failures are listed again at the end.
//
// PLINTH_TEST_ENGINES=sqlite,postgres,mysql picks the engines; PLINTH_TEST_JOBS=1 runs one job at a time.
// Arguments that are files keep only those (`npm test -- test/records.test.ts`); options go to every
// `node --test` (`--test-name-pattern=...`, say).
import { spawn } from 'node:child_process';
import { globSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

const ENGINES = (process.env.PLINTH_TEST_ENGINES ?? 'sqlite,postgres,mysql')
  .split(',')
  .map((e) => e.trim())
  .filter(Boolean);
const SLOTS = Math.max(1, Number(process.env.PLINTH_TEST_JOBS) || 4);
const EVERY_ENGINE = ['test/*.test.ts'];
const ONCE = ['src/**/*.test.ts', 'scripts/*.test.ts', 'test/helpers/*.test.ts'];
const OPTIONS = process.argv.slice(2).filter((a) => a.startsWith('-'));
const ONLY = new Set(globSync(process.argv.slice(2).filter((a) => !a.startsWith('-'))));

/** Files with checks on elapsed time, event-loop stalls or memory: never more than two jobs beside them. */
const QUIET = new Set([
  'admission',
  'auth-throttle',
  'cluster',
  // A browser waits 5 s for answers; it timed out twice under four jobs (the installer page).
  'confirm-pages',
  'files',
  'fuzz-cost',
  // Measures how busy the event loop is: under four jobs it is never quiet enough (one CI failure).
  'idle-heap',
  'leak',
  'memory-rule',
  'oauth2-hostile',
  'query-cost',
  'realtime-leak',
  'shutdown',
]);

/**
 * Files that saturate the CPU on purpose: beside them a test that waits on a timer may time out (the
 * installer page of confirm-pages did, in CI, with overload as its one neighbour).
 */
const ALONE = new Set(['overload']);

// Every test file is a process of its own, and many start `plinth` processes: each would strip the types
// of and compile the same few hundred modules again. Node's compile cache keeps that work on disk.
const COMPILE_CACHE = process.env.NODE_COMPILE_CACHE ?? join(tmpdir(), 'plinth-test-compile-cache');
// How long each job took last time, to start the longest first (a long job started last is a long tail).
const TIMINGS = join(tmpdir(), 'plinth-test-timings.json');

interface Job {
  engine: string;
  file: string;
  quiet: boolean;
  alone: boolean;
  /** Expected seconds: last run's, or a guess from the file's size. */
  weight: number;
}

interface Done extends Job {
  seconds: number;
  pass: number;
  fail: number;
  code: number;
  output: string;
}

function readTimings(): Record<string, number> {
  try {
    return JSON.parse(readFileSync(TIMINGS, 'utf8'));
  } catch {
    return {};
  }
}

function plan(): Job[] {
  const last = readTimings();
  const jobs: Job[] = [];
  ENGINES.forEach((engine, i) => {
    const files = globSync(i === 0 ? [...ONCE, ...EVERY_ENGINE] : EVERY_ENGINE).sort();
    for (const file of files) {
      if (ONLY.size > 0 && !ONLY.has(file)) continue;
      const weight = last[`${engine} ${file}`] ?? statSync(file).size / 2000;
      const name = basename(file, '.test.ts');
      jobs.push({ engine, file, quiet: QUIET.has(name), alone: ALONE.has(name), weight });
    }
  });
  // Jobs that run alone first, then quiet jobs (two at a time), then the rest; the longest first in each.
  const rank = (j: Job) => (j.alone ? 2 : j.quiet ? 1 : 0);
  return jobs.sort((a, b) => rank(b) - rank(a) || b.weight - a.weight);
}

function run(job: Job): Promise<Done> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--test', ...OPTIONS, job.file], {
      env: { ...process.env, PLINTH_TEST_DB: job.engine, NODE_COMPILE_CACHE: COMPILE_CACHE },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const held: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => held.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => held.push(chunk));
    child.on('close', (code) => {
      const output = Buffer.concat(held).toString();
      // The totals (`ℹ pass N`) come before the list of failures, which may be long: keep the last seen.
      const count = (label: string) =>
        Number([...output.matchAll(new RegExp(`ℹ ${label} (\\d+)`, 'g'))].at(-1)?.[1] ?? 0);
      const seconds = (performance.now() - started) / 1000;
      resolve({ ...job, seconds, pass: count('pass'), fail: count('fail'), code: code ?? 1, output });
    });
  });
}

/**
 * Runs the jobs in order, as many at once as the slots allow, a quiet one only beside one other, and one
 * that runs alone with nothing beside it.
 */
async function runAll(queue: Job[]): Promise<Done[]> {
  const done: Done[] = [];
  const running = new Set<Job>();
  return new Promise((resolve) => {
    const fill = () => {
      while (queue.length > 0) {
        const next = queue[0]!;
        const quietRunning = [...running].some((j) => j.quiet);
        const aloneRunning = [...running].some((j) => j.alone);
        const limit =
          aloneRunning || next.alone ? 1 : quietRunning || next.quiet ? Math.min(2, SLOTS) : SLOTS;
        if (running.size >= limit) break;
        const job = queue.shift()!;
        running.add(job);
        void run(job).then((result) => {
          running.delete(job);
          done.push(result);
          const mark = result.code === 0 ? '' : ' FAILED';
          process.stdout.write(
            `\n== ${job.engine}: ${job.file} (${result.seconds.toFixed(1)} s)${mark}\n${result.output}`,
          );
          fill();
        });
      }
      if (running.size === 0 && queue.length === 0) resolve(done);
    };
    fill();
  });
}

const started = performance.now();
console.log(`== tests on ${ENGINES.join(', ')}: ${SLOTS} jobs at a time`);
const results = await runAll(plan());

const timings = readTimings();
for (const r of results) timings[`${r.engine} ${r.file}`] = Math.round(r.seconds * 10) / 10;
writeFileSync(TIMINGS, JSON.stringify(timings));

let passed = 0;
let failed = 0;
const summary: string[] = [];
for (const engine of ENGINES) {
  const mine = results.filter((r) => r.engine === engine);
  const pass = mine.reduce((n, r) => n + r.pass, 0);
  // A file that fails without a failing test (it crashed, or did not load) counts as one failure.
  const fail = mine.reduce((n, r) => n + r.fail + (r.code !== 0 && r.fail === 0 ? 1 : 0), 0);
  passed += pass;
  failed += fail;
  summary.push(`${engine}: ${pass} passed, ${fail} failed`);
}
const broken = results.filter((r) => r.code !== 0).map((r) => `  ${r.engine}: ${r.file}`);
if (broken.length) console.log(`\nFailed:\n${broken.join('\n')}`);
console.log(`\n${summary.join('\n')}`);
const minutes = ((performance.now() - started) / 60_000).toFixed(1);
console.log(`${passed} passed, ${failed} failed, in ${minutes} min`);
process.exitCode = failed > 0 ? 1 : 0;
