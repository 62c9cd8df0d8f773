// An app served from another origin (a front-end's dev server, say) using Plinth through the unmodified
// PocketBase SDK in Chromium: what the browser's CORS checks let through is the subject, so a real browser
// runs it: realtime, requests with Authorization (preflighted), a multipart upload and a file download. A
// realtime stream's head is written by hand (routes/realtime.ts): without CORS headers on it the browser's
// EventSource fails, and the SDK never subscribes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium, noChromium } from './helpers/browser.ts';
import { TEST_ENGINE } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';

const SDK = join(import.meta.dirname, '..', 'node_modules', 'pocketbase', 'dist', 'pocketbase.umd.js');
const skip =
  noChromium ||
  (TEST_ENGINE !== 'sqlite' &&
    'what a browser lets through does not depend on the engine: run once, on SQLite');

/**
 * The page: subscribes to `notes`, creates one and waits for its event; then signs in, uploads a file and
 * reads it, and creates and lists where only a signed-in caller may (or says what failed).
 */
const PAGE = `<!doctype html><meta charset="utf-8"><script src="/sdk.js"></script><script>
window.run = async (api) => {
  const pb = new PocketBase(api);
  const events = [];
  await pb.collection('notes').subscribe('*', (e) => events.push(e.action + ':' + e.record.title));
  const created = await pb.collection('notes').create({ title: 'from another origin' });
  const listed = await pb.collection('notes').getList(1, 10);
  for (let i = 0; i < 100 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  pb.realtime.unsubscribe();
  // Signed in: every request then carries Authorization, which only a preflight lets through.
  await pb.collection('users').authWithPassword('page@example.com', 'page-password-1');
  await pb.collection('users').authRefresh();
  const form = new FormData();
  form.append('title', 'with a file');
  form.append('doc', new File(['hello from the page'], 'hello.txt', { type: 'text/plain' }));
  const withFile = await pb.collection('notes').create(form);
  const file = await fetch(pb.files.getURL(withFile, withFile.doc)).then((r) => r.text());
  await pb.collection('private').create({ title: 'mine' });
  const mine = await pb.collection('private').getList(1, 10);
  return { events, created: created.title, listed: listed.totalItems, file, mine: mine.totalItems };
};
</script>`;

describe('a page on another origin, through the SDK in Chromium', { skip }, () => {
  let server: TestServer;
  let site: Server;
  let siteUrl = '';
  let browser: Browser;

  before(async () => {
    server = await startServer();
    await server.admin.collections.create({
      name: 'notes',
      type: 'base',
      listRule: '',
      viewRule: '',
      createRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'doc', type: 'file', maxSelect: 1 },
      ],
    });
    // Signed-in callers only: a request that gets through carries Authorization.
    const signedIn = '@request.auth.id != ""';
    await server.admin.collections.create({
      name: 'private',
      type: 'base',
      listRule: signedIn,
      createRule: signedIn,
      fields: [{ name: 'title', type: 'text' }],
    });
    await server.admin
      .collection('users')
      .create({ email: 'page@example.com', password: 'page-password-1', passwordConfirm: 'page-password-1' });
    const sdk = readFileSync(SDK);
    site = createServer((req, res) => {
      if (req.url === '/sdk.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(sdk);
      else res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await new Promise((resolve) => site?.close(resolve));
    await server?.close();
  });

  it('subscribes to realtime and gets the create event, signs in, uploads a file and reads it back', async () => {
    assert.notEqual(new URL(siteUrl).origin, new URL(server.url).origin);
    const page = await browser.newPage();
    try {
      await page.goto(siteUrl);
      const outcome = await page.evaluate(
        (api) =>
          (globalThis as unknown as { run: (api: string) => Promise<unknown> })
            .run(api)
            .catch((err: Error) => ({ error: String(err?.message ?? err) })),
        server.url,
      );
      assert.deepEqual(outcome, {
        events: ['create:from another origin'],
        created: 'from another origin',
        listed: 1,
        file: 'hello from the page',
        mine: 1,
      });
    } finally {
      await page.close();
    }
  });
});
