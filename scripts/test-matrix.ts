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
    let tail = '';
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString()).slice(-4000);
    });
    child.on('close', (code) => {
      const count = (label: string) => Number(new RegExp(`ℹ ${label} (\\d+)`).exec(tail)?.[1] ?? 0);
      resolve({ pass: count('pass'), fail: count('fail'), code: code ?? 1 });
    });
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
