import assert from 'node:assert/strict';
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
});
