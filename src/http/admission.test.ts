import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import { createAdmission } from './admission.ts';

const LIMITS = {
  maxInFlight: 1,
  maxQueue: 4,
  queueTimeoutMs: 5000,
  maxEventLoopDelayMs: 0,
  maxInFlightPerIp: 0,
  maxConnectionsPerIp: 0,
};

describe('admission on a streamed response', () => {
  it('frees the slot once the head is written, while a slow reader still receives the body', async () => {
    const admission = createAdmission(LIMITS);
    const app = Fastify({ http: { ServerResponse: admission.Response } }) as unknown as FastifyInstance;
    admission.install(app);
    const body = new PassThrough();
    app.get('/stream', (_req, reply) => reply.type('text/plain').send(body));
    app.get('/quick', async () => ({ ok: true }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    try {
      const received: string[] = [];
      const streamed = new Promise<number>((resolve, reject) => {
        request({ port, path: '/stream' }, (res) => {
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => received.push(chunk));
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
          .on('error', reject)
          .end();
      });
      body.write('first ');
      while (received.length === 0) await sleep(5);
      // The one slot is free although the body is still open: another request runs at once.
      assert.equal(app.admission.inFlight, 0);
      const quick = await fetch(`http://127.0.0.1:${port}/quick`);
      assert.equal(quick.status, 200);
      body.end('last');
      assert.equal(await streamed, 200);
      assert.equal(received.join(''), 'first last');
      assert.equal(app.admission.inFlight, 0);
    } finally {
      await app.close();
    }
  });

  it("frees the slot of requests made with Fastify's inject, whose responses are not the server's class", async () => {
    const admission = createAdmission(LIMITS);
    const app = Fastify({ http: { ServerResponse: admission.Response } }) as unknown as FastifyInstance;
    admission.install(app);
    app.get('/quick', async () => ({ ok: true }));
    try {
      for (let i = 0; i < 3; i++) assert.equal((await app.inject({ url: '/quick' })).statusCode, 200);
      assert.equal(app.admission.inFlight, 0);
    } finally {
      await app.close();
    }
  });
});
