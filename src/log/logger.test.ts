import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from './logger.ts';

describe('logger', () => {
  it('redacts credentials wherever they appear', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = createLogger('info', sink);
    log.info(
      {
        req: { headers: { authorization: 'Bearer secret-token', cookie: 'a=b' } },
        body: { password: 'hunter2', token: 'tkn' },
      },
      'x',
    );
    const text = lines.join('');
    for (const secret of ['secret-token', 'a=b', 'hunter2', 'tkn']) assert.ok(!text.includes(secret), secret);
    assert.match(text, /\[redacted\]/);
  });

  // Standard output, as a real process writes it: lines are held in chunks, so each test runs a child.
  const logger = new URL('./logger.ts', import.meta.url).href;
  const child = (body: string) => [
    '--input-type=module',
    '-e',
    `const { createLogger } = await import(${JSON.stringify(logger)}); const log = createLogger('info'); ${body}`,
  ];

  it('writes every line to standard output in order, the last ones as the process exits', () => {
    // 3,000 lines are several chunks; the process exits without a flush.
    const run = spawnSync(
      process.execPath,
      child('for (let i = 0; i < 3000; i++) log.info({ i }, "line");'),
      {
        encoding: 'utf8',
      },
    );
    assert.equal(run.status, 0, run.stderr);
    const numbers = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).i);
    assert.deepEqual(
      numbers,
      Array.from({ length: 3000 }, (_, i) => i),
    );
  });

  it("writes a quiet server's line within a fraction of a second", async () => {
    const proc = spawn(process.execPath, child('log.info("one line"); setTimeout(() => {}, 5000);'), {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const started = performance.now();
      const [chunk] = (await once(proc.stdout, 'data')) as [Buffer];
      assert.equal(JSON.parse(String(chunk)).msg, 'one line');
      // Written by the 200 ms timer, long before the process ends.
      assert.ok(performance.now() - started < 4000);
    } finally {
      proc.kill();
    }
  });
});
