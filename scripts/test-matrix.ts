// `npm test`: the whole suite once per database engine (one suite, every dialect). Unit tests under src/
// and scripts/, and the test helpers' own tests, run once, in the first pass; the HTTP and SDK tests in
// test/ run on every engine.
// PLINTH_TEST_ENGINES=sqlite,postgres,mysql picks the engines; extra arguments go to `node --test`.
// The first engine runs alone; the others then run side by side (their time is mostly spent waiting on
// their database servers, so two fit on two cores), each printing its output when it ends.
// PLINTH_TEST_SERIAL=1 runs them one after another instead.
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ENGINES = (process.env.PLINTH_TEST_ENGINES ?? 'sqlite,postgres,mysql')
  .split(',')
  .map((e) => e.trim())
  .filter(Boolean);
const EVERY_ENGINE = ['test/*.test.ts'];
const ONCE = ['src/**/*.test.ts', 'scripts/*.test.ts', 'test/helpers/*.test.ts'];

// Every test file is a process of its own, and many start `plinth` processes: each would strip the types
// of and compile the same few hundred modules again. Node's compile cache keeps that work on disk (about
// 0.4 s of CPU a process here, some minutes over the whole suite).
const COMPILE_CACHE = process.env.NODE_COMPILE_CACHE ?? join(tmpdir(), 'plinth-test-compile-cache');

interface Outcome {
  engine: string;
  pass: number;
  fail: number;
  code: number;
}

/** Runs the files on one engine; `live` streams the output, otherwise it is printed when the run ends. */
function run(engine: string, files: string[], live: boolean): Promise<Outcome> {
  return new Promise((resolve) => {
    const args = ['--test', '--test-concurrency=1', ...process.argv.slice(2), ...files];
    const child = spawn(process.execPath, args, {
      env: { ...process.env, PLINTH_TEST_DB: engine, NODE_COMPILE_CACHE: COMPILE_CACHE },
      stdio: ['ignore', 'pipe', live ? 'inherit' : 'pipe'],
    });
    const held: Buffer[] = [];
    child.stderr?.on('data', (chunk: Buffer) => held.push(chunk));
    // The run's totals (`ℹ pass N`) come before the list of failures, which may be long: keep the last seen.
    let tail = '';
    const totals = { pass: 0, fail: 0 };
    child.stdout?.on('data', (chunk: Buffer) => {
      if (live) process.stdout.write(chunk);
      else held.push(chunk);
      tail = (tail + chunk.toString()).slice(-4000);
      for (const label of ['pass', 'fail'] as const) {
        const found = [...tail.matchAll(new RegExp(`ℹ ${label} (\\d+)`, 'g'))].at(-1);
        if (found) totals[label] = Number(found[1]);
      }
    });
    child.on('close', (code) => {
      if (!live)
        process.stdout.write(
          `\n== tests on ${engine} (ran alongside another engine)\n${Buffer.concat(held)}`,
        );
      resolve({ engine, ...totals, code: code ?? 1 });
    });
  });
}

const [first, ...rest] = ENGINES;
const outcomes: Outcome[] = [];
if (first) {
  console.log(`\n== tests on ${first}`);
  outcomes.push(await run(first, [...ONCE, ...EVERY_ENGINE], true));
}
if (process.env.PLINTH_TEST_SERIAL) {
  for (const engine of rest) {
    console.log(`\n== tests on ${engine}`);
    outcomes.push(await run(engine, EVERY_ENGINE, true));
  }
} else {
  if (rest.length) console.log(`\n== tests on ${rest.join(' and ')}, side by side (output as each ends)`);
  outcomes.push(...(await Promise.all(rest.map((engine) => run(engine, EVERY_ENGINE, false)))));
}

let passed = 0;
let failed = 0;
const summary: string[] = [];
for (const r of outcomes) {
  passed += r.pass;
  failed += r.fail + (r.code !== 0 && r.fail === 0 ? 1 : 0);
  summary.push(`${r.engine}: ${r.pass} passed, ${r.fail} failed${r.code !== 0 ? ` (exit ${r.code})` : ''}`);
}
console.log(`\n${summary.join('\n')}`);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
