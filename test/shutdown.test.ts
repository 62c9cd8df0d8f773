import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, TEST_ENGINE, type TestDatabase } from './helpers/databases.ts';
import { freePort, runCli, spawnServe } from './helpers/process.ts';
import { openSocket, readResponse, waitUntilRefused, whenClosed } from './helpers/raw-http.ts';
import { startServer } from './helpers/server.ts';

/** A request whose headers arrive and whose body never does: it stays in flight until the server gives up. */
async function stallRequest(port: number): Promise<Socket> {
  const socket = await openSocket(port);
  socket.write(
    'POST /api/collections/_superusers/auth-with-password HTTP/1.1\r\nHost: plinth\r\n' +
      'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"identity":',
  );
  // The server must have taken the request in before the test signals it: wait until it holds it.
  await new Promise((r) => setTimeout(r, 300));
  return socket;
}

async function keepAliveClient(port: number): Promise<Socket> {
  const socket = await openSocket(port);
  socket.write('GET /api/health HTTP/1.1\r\nHost: plinth\r\n\r\n');
  const res = await readResponse(socket);
  assert.equal(res.status, 200);
  assert.notEqual(res.headers.connection, 'close');
  return socket;
}

describe(`shutdown on ${TEST_ENGINE}`, () => {
  // One database and one data dir (which holds the key the database's secrets are encrypted with).
  let database: TestDatabase;
  let dir = '';
  before(async () => {
    database = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'plinth-shutdown-'));
  });
  after(async () => {
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });
  async function serve(extra: string[]) {
    const port = await freePort();
    const server = await spawnServe(['--http', `127.0.0.1:${port}`, '--dir', dir, ...extra], {
      PLINTH_DB: database.url,
    });
    return { port, ...server };
  }

  it('a client that stalls mid-request does not keep the process past the deadline; a keep-alive request during the drain gets 503', {
    timeout: 60_000,
  }, async () => {
    const server = await serve(['--shutdown-timeout', '2']);
    const idle = await keepAliveClient(server.port);
    const stalled = await stallRequest(server.port);
    const stalledClosed = whenClosed(stalled);
    const started = Date.now();
    server.child.kill('SIGTERM');
    await waitUntilRefused(server.port);

    // The kept-alive connection is still open: a request on it is answered, not reset.
    idle.write('GET /api/plinth/ready HTTP/1.1\r\nHost: plinth\r\n\r\n');
    const res = await readResponse(idle);
    assert.equal(res.status, 503);
    assert.equal(res.headers.connection, 'close');
    assert.equal(res.headers['retry-after'], '5');
    assert.equal(res.headers['access-control-allow-origin'], '*');
    const body = JSON.parse(res.body);
    assert.equal(body.status, 503);
    assert.match(body.message, /shutting down/);
    assert.deepEqual(body.data, {});
    assert.equal((await whenClosed(idle)).reset, false);

    assert.equal(await server.exited, 0);
    await stalledClosed;
    // The deadline is 2 s; generous room for a loaded machine, far below "for ever".
    assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
    assert.match(server.stdout(), /shutdown deadline passed/);
  });

  it('exits at once on a second signal, without waiting for the drain', { timeout: 60_000 }, async () => {
    const server = await serve([]); // the default deadline, 30 s
    const stalled = await stallRequest(server.port);
    const started = Date.now();
    server.child.kill('SIGTERM');
    await waitUntilRefused(server.port);
    server.child.kill('SIGINT');
    assert.equal(await server.exited, 1);
    assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
    assert.match(server.stdout(), /SIGINT again/);
    stalled.destroy();
  });

  it('refuses a shutdown timeout that is not a number of seconds', async () => {
    const res = await runCli(['serve', '--dir', dir, '--shutdown-timeout=-1']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /shutdownTimeout must be a number of seconds from 0 to 3600/);
    const env = await runCli(['serve', '--dir', dir], { PLINTH_SHUTDOWN_TIMEOUT: 'soon' });
    assert.match(env.stderr, /shutdownTimeout must be/);
  });

  it('app.close() ends a stalled request at the deadline, then closes the database', {
    timeout: 60_000,
  }, async () => {
    const server = await startServer({ flags: { shutdownTimeout: 0.5 } });
    const port = Number(new URL(server.url).port);
    const stalled = await stallRequest(port);
    const stalledClosed = whenClosed(stalled);
    await server.app.close();
    await stalledClosed;
    assert.equal(server.app.server.drain.draining, true);
    await assert.rejects(server.app.db.kysely.selectFrom('_collections').select('id').execute());
    await server.close();
  });
});
