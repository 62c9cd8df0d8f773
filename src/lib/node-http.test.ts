import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { http } from './node-http.ts';

const APP = join(import.meta.dirname, '..', 'app.ts');

describe('node:http without its web globals', () => {
  it('is the same module as node:http', async () => {
    const imported = await import('node:http');
    assert.equal(http.ServerResponse, imported.ServerResponse);
    assert.equal(http.request, imported.request);
  });

  it('loading the whole server does not load undici (Node fetch and WebSocket) in a fresh process', () => {
    // A process of its own: this test runner, and anything that calls fetch, loads undici itself.
    const script = `await import(${JSON.stringify(APP)});
      console.log(JSON.stringify(process.moduleLoadList.filter((m) => m.includes('undici'))));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.deepEqual(JSON.parse(out.trim().split('\n').at(-1) ?? '[]'), []);
  });
});
