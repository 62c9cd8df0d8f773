import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { lazySchemaCompilers } from './schema-compilers.ts';

describe('schema compilers loaded on first use', () => {
  it('a route with schemas still validates its body and serializes its answer', async () => {
    const app = Fastify({ schemaController: { compilersFactory: lazySchemaCompilers() } });
    app.post(
      '/echo',
      {
        schema: {
          body: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
          response: { 200: { type: 'object', properties: { n: { type: 'integer' } } } },
        },
      },
      async (request) => ({ ...(request.body as object), hidden: 'not in the response schema' }),
    );
    try {
      const bad = await app.inject({ method: 'POST', url: '/echo', payload: { n: 'seven' } });
      assert.equal(bad.statusCode, 400);
      const good = await app.inject({ method: 'POST', url: '/echo', payload: { n: 7 } });
      assert.equal(good.statusCode, 200);
      assert.deepEqual(good.json(), { n: 7 });
    } finally {
      await app.close();
    }
  });
});
