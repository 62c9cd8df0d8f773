import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import PocketBase from 'pocketbase';
import { type App, createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/log/index.ts';
import { createTestDatabase } from './databases.ts';

export { TEST_ENGINE } from './databases.ts';

export const SUPERUSER = { email: 'root@example.com', password: 'root-password-1' };

export interface TestServer {
  app: App;
  /** Base URL of the listening server, e.g. http://127.0.0.1:41234 */
  url: string;
  dataDir: string;
  /** An SDK client already signed in as the superuser. */
  admin: PocketBase;
  adminToken: string;
  /** A fresh SDK client with no auth. */
  client(): PocketBase;
  /** Raw fetch against the server; `token` sets Authorization. */
  request(
    method: string,
    path: string,
    options?: { body?: unknown; rawBody?: string; token?: string; headers?: Record<string, string> },
    // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies.
  ): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

/**
 * Starts a real Plinth on a random loopback port with its own data dir and a superuser; tests talk to it
 * over a real socket, with the official SDK or raw HTTP.
 */
export async function startServer(
  options: { flags?: Record<string, unknown>; rateLimits?: boolean } = {},
): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'plinth-test-'));
  const database = await createTestDatabase();
  // The server shares its event loop with the test, whose own work would read as overload: no loop watch.
  let app: App;
  try {
    const config = loadConfig(
      {
        dir: dataDir,
        http: '127.0.0.1:0',
        logLevel: 'silent',
        db: database.url,
        maxEventLoopDelayMs: 0,
        ...options.flags,
      },
      {},
    );
    app = await createApp(config, createLogger(process.env.PLINTH_TEST_LOG ? 'error' : 'silent'));
  } catch (err) {
    // A test that expects the start to fail must not leave its database behind.
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  await app.auth.upsertSuperuser(SUPERUSER.email, SUPERUSER.password);
  // Rate limits are on by default, and scenario tests send far more than one client would: off unless asked.
  if (!options.rateLimits) await app.settings.update({ rateLimits: { enabled: false } });
  await app.server.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;
  const admin = new PocketBase(url);
  admin.autoCancellation(false);
  await admin.collection('_superusers').authWithPassword(SUPERUSER.email, SUPERUSER.password);
  const adminToken = admin.authStore.token;

  return {
    app,
    url,
    dataDir,
    admin,
    adminToken,
    client() {
      const pb = new PocketBase(url);
      pb.autoCancellation(false);
      return pb;
    },
    async request(method, path, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.token) headers.authorization = opts.token;
      let body: string | undefined = opts.rawBody;
      if (opts.body !== undefined) {
        body = JSON.stringify(opts.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(url + path, { method, headers, body });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        /* not JSON: keep the text */
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async close() {
      await app.close();
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Signs up a user of the `users` collection (password `password123`) and signs it in: the caller that is
 * not a superuser in route tests. Answers its token.
 */
export async function signedInUser(server: TestServer, email: string): Promise<string> {
  const users = server.client().collection('users');
  await users.create({ email, password: 'password123', passwordConfirm: 'password123' });
  return (await users.authWithPassword(email, 'password123')).token;
}

/**
 * Points the server's mail at an SMTP server (test/helpers/smtp.ts), with links built on the server's
 * URL, and applies any other settings given (per group, merged). Fails the test if the settings are refused.
 */
export async function useSmtp(
  server: TestServer,
  smtp: { host: string; port: number },
  settings: { meta?: Record<string, unknown> } & Record<string, unknown> = {},
): Promise<void> {
  const { meta, ...rest } = settings;
  const res = await server.request('PATCH', '/api/settings', {
    token: server.adminToken,
    body: {
      meta: { appURL: server.url, ...meta },
      smtp: { enabled: true, host: smtp.host, port: smtp.port, tls: false },
      ...rest,
    },
  });
  if (res.status !== 200) throw new Error(`PATCH /api/settings: ${res.status} ${JSON.stringify(res.body)}`);
}
