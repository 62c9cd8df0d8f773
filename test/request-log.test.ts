import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { type App, createApp } from '../src/app.ts';
import { loadConfig } from '../src/config/index.ts';
import { createLogger } from '../src/log/index.ts';

describe('request log lines', () => {
  const lines: string[] = [];
  let app: App;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'plinth-log-'));
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    app = await createApp(loadConfig({ dir, http: '127.0.0.1:0' }, {}), createLogger('info', sink));
    await app.server.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes one JSON line per request with its id, and never the query string or credentials', async () => {
    const address = app.server.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const res = await fetch(`http://127.0.0.1:${port}/api/health?token=query-secret`, {
      headers: { authorization: 'header-secret', 'x-request-id': 'trace-123' },
    });
    assert.equal(res.status, 200);
    await new Promise((r) => setTimeout(r, 20));
    const line = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'request');
    assert.ok(line, lines.join('\n'));
    assert.equal(line.level, 30);
    assert.equal(line.reqId, 'trace-123');
    assert.equal(line.method, 'GET');
    assert.equal(line.path, '/api/health');
    assert.equal(line.status, 200);
    assert.equal(typeof line.ms, 'number');
    assert.equal(typeof line.time, 'number');
    assert.equal(typeof line.pid, 'number');
    const all = lines.join('\n');
    assert.ok(!all.includes('query-secret') && !all.includes('header-secret'));
  });
});
