import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createProgress } from './progress.ts';

function sink(isTTY: boolean) {
  let text = '';
  const stream = Object.assign(
    new Writable({
      write(chunk, _enc, cb) {
        text += String(chunk);
        cb();
      },
    }),
    { isTTY },
  );
  return { stream, text: () => text };
}

/** The one frame a terminal got, checked to be drawn in place and cleared at the end. */
function frame(text: string): string {
  const clear = '\r\u001b[2K';
  assert.ok(text.startsWith(clear) && text.endsWith(clear), JSON.stringify(text));
  return text.slice(clear.length, -clear.length);
}

describe('the progress report', () => {
  it('draws a bar in place on a terminal and clears it at the end', async () => {
    const out = sink(true);
    const progress = createProgress('import posts:', { unit: 'rows', total: 1000, out: out.stream });
    await sleep(120);
    progress.update(500, 1000, 40);
    progress.update(600, 1000, 50); // within 100 ms of the last draw: skipped
    progress.finish();
    assert.match(frame(out.text()), /^\[#{15}-{15}\] 50% import posts: 40 rows, \d+ rows\/s$/);
  });

  it('writes nothing when quiet, and plain lines (no carriage returns) elsewhere', async () => {
    const quiet = sink(true);
    const q = createProgress('x', { unit: 'rows', total: 10, quiet: true, out: quiet.stream });
    await sleep(120);
    q.update(5);
    assert.equal(quiet.text(), '');
    const log = sink(false);
    const p = createProgress('export posts:', { unit: 'rows', total: 10, out: log.stream });
    p.update(5); // a log gets a line every 5 s at most
    p.finish();
    assert.equal(log.text(), '');
  });

  it('shows bytes as MB of the total a job passes as it goes (backup, restore)', async () => {
    const out = sink(true);
    const progress = createProgress('backup:', { unit: 'bytes', out: out.stream });
    await sleep(120);
    progress.update(3 * 1048576, 12 * 1048576);
    progress.finish();
    assert.match(frame(out.text()), /^\[#{8}-{22}\] 25% backup: 3\.0 of 12\.0 MB, \d+\.\d MB\/s$/);
  });
});
