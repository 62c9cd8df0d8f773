// `npm test`: the whole suite once per database engine (one suite, every dialect). Unit tests under src/
// and scripts/, and the test helpers' own tests, run once, in the first pass; the HTTP and SDK tests in
// test/ run on every engine.
// PLINTH_TEST_ENGINES=sqlite,postgres,mysql picks the engines; extra arguments go to `node --test`.
import { spawn } from 'node:child_process';

const ENGINES = (process.env.PLINTH_TEST_ENGINES ?? 'sqlite,postgres,mysql')
  .split(',')
  .map((e) => e.trim())
  .filter(Boolean);
const EVERY_ENGINE = ['test/*.test.ts'];
const ONCE = ['src/**/*.test.ts', 'scripts/*.test.ts', 'test/helpers/*.test.ts'];

function run(engine: string, files: string[]): Promise<{ pass: number; fail: number; code: number }> {
  return new Promise((resolve) => {
    const args = ['--test', '--test-concurrency=1', ...process.argv.slice(2), ...files];
    const child = spawn(process.execPath, args, {
      env: { ...process.env, PLINTH_TEST_DB: engine },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    // The run's totals (`ℹ pass N`) come before the list of failures, which may be long: keep the last seen.
    let tail = '';
    const totals = { pass: 0, fail: 0 };
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString()).slice(-4000);
      for (const label of ['pass', 'fail'] as const) {
        const found = [...tail.matchAll(new RegExp(`ℹ ${label} (\\d+)`, 'g'))].at(-1);
        if (found) totals[label] = Number(found[1]);
      }
    });
    child.on('close', (code) => resolve({ ...totals, code: code ?? 1 }));
  });
}

let passed = 0;
let failed = 0;
const summary: string[] = [];
for (const engine of ENGINES) {
  console.log(`\n== tests on ${engine}`);
  const r = await run(engine, engine === ENGINES[0] ? [...ONCE, ...EVERY_ENGINE] : EVERY_ENGINE);
  passed += r.pass;
  failed += r.fail + (r.code !== 0 && r.fail === 0 ? 1 : 0);
  summary.push(`${engine}: ${r.pass} passed, ${r.fail} failed${r.code !== 0 ? ` (exit ${r.code})` : ''}`);
}
console.log(`\n${summary.join('\n')}`);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
