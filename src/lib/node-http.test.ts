import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { http } from './node-http.ts';

// That a server process never loads undici through it: test/start-modules.test.ts.
describe('node:http without its web globals', () => {
  it('is the same module as node:http', async () => {
    const imported = await import('node:http');
    assert.equal(http.ServerResponse, imported.ServerResponse);
    assert.equal(http.request, imported.request);
  });
});
