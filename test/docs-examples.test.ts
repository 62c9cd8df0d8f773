import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';

// The examples in the README and the docs, run as written (with the test server's address for the
// default one), so that they cannot drift from what the server does.

const ROOT = join(import.meta.dirname, '..');
const DEFAULT_URL = 'http://127.0.0.1:8090';
const run = promisify(execFile);

/** The fenced blocks of a Markdown file with the given info string (`sh`, `js`, `json`), in order. */
function blocks(file: string, lang: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\`$`, 'gm'))].map(
    (m) => m[1] as string,
  );
}

function only(list: string[], what: string, test: (b: string) => boolean): string {
  const found = list.filter(test);
  assert.equal(found.length, 1, `expected one ${what} block, found ${found.length}`);
  return found[0] as string;
}

describe(`the docs' examples on ${TEST_ENGINE}`, () => {
  let server: TestServer;
  // One per engine: the engines' runs of this file may overlap (scripts/test-matrix.ts).
  const scratch = join(ROOT, `.docs-examples-tmp-${TEST_ENGINE}`);
  before(async () => {
    server = await startServer();
    mkdirSync(scratch, { recursive: true });
  });
  after(async () => {
    await server?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("README: the superuser, the curl quick start, then the SDK example, in the README's order", async () => {
    const sh = blocks('README.md', 'sh');
    // `npx plinth superuser upsert EMAIL 'PASSWORD'`: the CLI has its own tests; here its credentials are used.
    const upsert = only(sh, 'superuser', (b) => b.includes('superuser upsert'));
    const [, email, password] = /superuser upsert (\S+) '([^']+)'/.exec(upsert) ?? [];
    assert.ok(email && password, upsert);
    await server.app.auth.upsertSuperuser(email, password);

    const curl = only(sh, 'curl', (b) => b.includes('curl'));
    const script = `set -euo pipefail\n${curl.replaceAll(DEFAULT_URL, server.url)}`;
    const { stdout } = await run('bash', ['-c', script], { cwd: ROOT });
    // curl prints each answer with no newline after it: the list is the last, from its `{"page"` on.
    const last = JSON.parse(stdout.slice(stdout.lastIndexOf('{"page"')));
    assert.equal(last.items[0].title, 'Hello, Plinth', stdout);

    const js = only(blocks('README.md', 'js'), 'SDK', (b) => b.includes("from 'pocketbase'"));
    const file = join(scratch, 'readme.mjs');
    writeFileSync(file, js.replaceAll(DEFAULT_URL, server.url));
    const sdk = await run(process.execPath, [file], { cwd: ROOT });
    assert.equal(sdk.stdout.trim(), 'true ann@example.com');
    const posts = await server.admin.collection('posts').getFullList();
    assert.ok(posts.some((p) => p.title === 'From the SDK' && p.likes === 1));
  });

  it('auth.md: the settings and the OAuth2 options it shows are accepted as written', async () => {
    const json = blocks('docs/auth.md', 'json').map((b) => JSON.parse(b));
    const settings = json.find((j) => j.smtp);
    assert.ok(settings, 'a settings example with smtp');
    const saved = await server.request('PATCH', '/api/settings', {
      body: settings,
      token: server.adminToken,
    });
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    assert.equal(saved.body.meta.appName, settings.meta.appName);

    const options = json.find((j) => j.oauth2);
    assert.ok(options, 'an OAuth2 example');
    const users = await server.request('PATCH', '/api/collections/users', {
      body: options,
      token: server.adminToken,
    });
    assert.equal(users.status, 200, JSON.stringify(users.body));
    assert.deepEqual(
      users.body.oauth2.providers.map((p: { name: string }) => p.name),
      options.oauth2.providers.map((p: { name: string }) => p.name),
    );
  });
});
