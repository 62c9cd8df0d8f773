import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, TEST_ENGINE, type TestDatabase } from './helpers/databases.ts';
import { BIN, freePort, ROOT } from './helpers/process.ts';
import { openSocket, readResponse } from './helpers/raw-http.ts';

const hasPrlimit = process.platform === 'linux' && spawnSync('prlimit', ['--version']).status === 0;

/** `plinth serve` under an open-file limit `soft:hard`, logging at info; resolves once it answers. */
async function serveLimited(nofile: string, dir: string, db: string) {
  const port = await freePort();
  const child = spawn(
    'prlimit',
    // One process: the cap is each process's own (with several workers, each caps its own connections).
    [
      `--nofile=${nofile}`,
      process.execPath,
      BIN,
      'serve',
      '--http',
      `127.0.0.1:${port}`,
      '--dir',
      dir,
      '--workers',
      '1',
    ],
    { cwd: ROOT, env: { ...process.env, PLINTH_DB: db, PLINTH_LOG_LEVEL: 'info' } },
  );
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  for (let i = 0; i < 100 && child.exitCode === null; i++) {
    const up = await fetch(`http://127.0.0.1:${port}/api/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) {
      // Log lines reach the pipe a little after the server answers: wait for one before matching it.
      const waitForOutput = async (pattern: RegExp) => {
        for (let j = 0; j < 100 && !pattern.test(out); j++) await new Promise((r) => setTimeout(r, 100));
        assert.match(out, pattern);
      };
      return { port, child, exited, waitForOutput };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`plinth serve did not start:\n${out}`);
}

describe(`the open-file limit on ${TEST_ENGINE}`, {
  skip: !hasPrlimit && 'needs Linux and prlimit',
}, () => {
  let database: TestDatabase;
  let dir = '';
  before(async () => {
    database = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'plinth-nofile-'));
  });
  after(async () => {
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('caps connections below the limit, says so, closes the extra ones at once and stays healthy', {
    timeout: 60_000,
  }, async () => {
    const server = await serveLimited('256:256', dir, database.url);
    try {
      await server.waitForOutput(/open-file limit 256: accepting at most 128 connections/);

      const sockets: Socket[] = [];
      const closedByServer = new Set<Socket>();
      for (let i = 0; i < 200; i++) {
        const socket = await openSocket(server.port);
        socket.on('error', () => {});
        socket.once('close', () => closedByServer.add(socket));
        sockets.push(socket);
      }
      await new Promise((r) => setTimeout(r, 1500));
      // 200 connections, a cap of 128: the extra ones were closed at once, not left hanging.
      assert.ok(closedByServer.size >= 200 - 128, `${closedByServer.size} closed`);

      // At the cap, an accepted connection is still served, database included.
      const open = sockets.find((s) => !closedByServer.has(s));
      assert.ok(open);
      open.write('GET /api/plinth/ready HTTP/1.1\r\nHost: plinth\r\n\r\n');
      const ready = await readResponse(open);
      assert.equal(ready.status, 200, ready.body);
      await server.waitForOutput(/connection cap of 128 reached/);

      for (const s of sockets) s.destroy();
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await fetch(`http://127.0.0.1:${server.port}/api/health`)).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${server.port}/api/plinth/ready`)).status, 200);
    } finally {
      server.child.kill('SIGTERM');
      assert.equal(await server.exited, 0);
    }
  });

  it('runs with the soft limit raised to the hard limit', { timeout: 60_000 }, async () => {
    // Node raises the soft limit to the hard one at start; the log line shows the limit in effect.
    const server = await serveLimited('256:4096', dir, database.url);
    try {
      await server.waitForOutput(/open-file limit 4096: accepting at most 3686 connections/);
    } finally {
      server.child.kill('SIGTERM');
      assert.equal(await server.exited, 0);
    }
  });
});
