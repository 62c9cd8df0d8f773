// What a server process loads: what it needs only on demand (another engine's driver, Redis, S3, image
// resizing, mail, the metrics registry, Fastify's schema compilers) and Node's fetch must wait for that demand, since every
// module loaded at start costs each process memory and start time (docs/benchmarks.md, "Start and idle
// memory"). Each process of `plinth serve` reports what it loaded when it exits, after a start, a few
// requests and a graceful stop: one process alone (`--workers 1`), and a primary with two workers.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, TEST_ENGINE, type TestDatabase } from './helpers/databases.ts';
import { freePort, spawnServe } from './helpers/process.ts';

const PRELOAD = join(import.meta.dirname, 'helpers', 'loaded-modules.mjs');
// Both servers of a run share the database, so its stored secrets' key too.
const KEY = randomBytes(32).toString('hex');

/** Packages loaded on first use; the engine's own driver is the one a server on it needs at start. */
const ON_DEMAND = [
  'pg',
  'mysql2',
  'ioredis',
  '@aws-sdk/client-s3',
  'sharp',
  'nodemailer',
  'file-type',
  'prom-client',
  // Fastify's schema compilers: Plinth's routes declare no schema (src/http/schema-compilers.ts). Fastify
  // itself loads two files of fast-json-stringify, the runtime of its error serializer.
  'ajv',
  '@fastify/ajv-compiler',
  '@fastify/fast-json-stringify-compiler',
];
const DRIVER: Record<string, string | undefined> = { postgres: 'pg', mysql: 'mysql2' };
/** Node's fetch and WebSocket, which a server never uses (an ES import of `node:http` used to load it). */
const UNDICI = 'internal/deps/undici/undici';

interface Report {
  worker: boolean;
  builtins: string[];
  files: string[];
}

/** Each process's report, and what the server printed (for a failure's message). */
interface Served {
  reports: Report[];
  output: string;
}

/** Starts `plinth serve --workers N`, sends it a few requests, stops it, and answers each process's report. */
async function servedOnce(database: TestDatabase, workers: number): Promise<Served> {
  const dir = mkdtempSync(join(tmpdir(), 'plinth-modules-'));
  const reports = mkdtempSync(join(tmpdir(), 'plinth-modules-report-'));
  try {
    const port = await freePort();
    const args = ['--http', `127.0.0.1:${port}`, '--dir', dir, '--workers', String(workers)];
    const server = await spawnServe(args, {
      PLINTH_DB: database.url,
      PLINTH_ENCRYPTION_KEY: KEY,
      PLINTH_TEST_LOADED_REPORT: reports,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${PRELOAD}`,
    });
    if (workers > 1) assert.ok(await server.waitFor(/Workers: +\d+ processes/, 20_000), server.stdout());
    // What any request may need: routing, the installer's check, a refused sign-in, a 404. A connection
    // each, so that with workers both get some.
    const headers = { 'content-type': 'application/json', connection: 'close' };
    for (let i = 0; i < 6; i++) {
      await fetch(`http://127.0.0.1:${port}/api/health`, { headers });
      await fetch(`http://127.0.0.1:${port}/api/collections/_superusers/auth-with-password`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ identity: 'nobody@example.com', password: 'not-a-password' }),
      });
      await fetch(`http://127.0.0.1:${port}/api/collections/none/records`, { headers });
    }
    server.kill('SIGTERM');
    assert.equal(await server.exited, 0, server.stdout());
    const each = readdirSync(reports).map((name) => JSON.parse(readFileSync(join(reports, name), 'utf8')));
    return { reports: each, output: server.stdout() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(reports, { recursive: true, force: true });
  }
}

/** The packages of `report` that a server on this engine should load only on demand. */
function onDemandLoaded(report: Report): string[] {
  const unwanted = ON_DEMAND.filter((p) => p !== DRIVER[TEST_ENGINE]);
  return unwanted.filter((p) => report.files.some((f) => f.includes(`/node_modules/${p}/`)));
}

describe(`what a server process loads, on ${TEST_ENGINE}`, () => {
  let database: TestDatabase;
  let alone: Served = { reports: [], output: '' };
  let workers: Served = { reports: [], output: '' };

  before(async () => {
    database = await createTestDatabase();
    alone = await servedOnce(database, 1);
    workers = await servedOnce(database, 2);
  });

  after(async () => {
    await database?.drop();
  });

  it('every process reported: one alone; a primary and two workers', () => {
    assert.deepEqual(
      alone.reports.map((r) => r.worker),
      [false],
      alone.output,
    );
    assert.deepEqual(workers.reports.map((r) => r.worker).sort(), [false, true, true], workers.output);
  });

  it('loads no package it needs only on demand', () => {
    for (const report of [...alone.reports, ...workers.reports]) assert.deepEqual(onDemandLoaded(report), []);
  });

  it("does not load Node's fetch and WebSocket", () => {
    for (const report of [...alone.reports, ...workers.reports]) assert.ok(!report.builtins.includes(UNDICI));
  });

  it('a server on a server engine loads its driver (so the check above can see a package)', {
    skip: TEST_ENGINE === 'sqlite' && 'SQLite needs no driver package',
  }, () => {
    const driver = DRIVER[TEST_ENGINE]!;
    for (const served of [alone.reports, workers.reports])
      assert.ok(served.some((r) => r.files.some((f) => f.includes(`/node_modules/${driver}/`))));
  });
});
