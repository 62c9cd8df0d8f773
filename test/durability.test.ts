import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { TEST_ENGINE } from './helpers/databases.ts';
import { freePort, runCli, spawnServe } from './helpers/process.ts';

const KILLS = 5;
const WRITERS = 8;

const sqliteOnly = TEST_ENGINE !== 'sqlite' && 'SQLite file durability; other engines guarantee their own';

describe('crash durability', { skip: sqliteOnly }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'plinth-kill-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it(`keeps every acknowledged write through ${KILLS} SIGKILLs under write load`, async (t) => {
    await runCli(['superuser', 'upsert', 'ops@example.com', 'first-password', '--dir', dir]);
    const acknowledged: string[] = [];
    for (let round = 0; round < KILLS; round++) {
      const port = await freePort();
      const server = await spawnServe(['--http', `127.0.0.1:${port}`, '--dir', dir]);
      const base = `http://127.0.0.1:${port}`;
      if (round === 0) {
        const login = await fetch(`${base}/api/collections/_superusers/auth-with-password`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ identity: 'ops@example.com', password: 'first-password' }),
        });
        const { token } = (await login.json()) as { token: string };
        const res = await fetch(`${base}/api/collections`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: token },
          body: JSON.stringify({ name: 'ledger', createRule: '', fields: [{ name: 'n', type: 'number' }] }),
        });
        assert.equal(res.status, 200);
      }
      // Writers create records until the connection dies; an id counts once the 200 has arrived.
      let stop = false;
      const writer = async () => {
        let i = 0;
        while (!stop) {
          try {
            const res = await fetch(`${base}/api/collections/ledger/records`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ n: i++ }),
            });
            if (res.status === 200) acknowledged.push(((await res.json()) as { id: string }).id);
          } catch {
            return; // the server is gone
          }
        }
      };
      const writers = Array.from({ length: WRITERS }, writer);
      await new Promise((r) => setTimeout(r, 300 + Math.floor(Math.random() * 400)));
      server.kill('SIGKILL');
      await server.exited;
      stop = true;
      await Promise.all(writers);
    }
    assert.ok(acknowledged.length > KILLS * 10, `only ${acknowledged.length} writes were acknowledged`);

    const db = new DatabaseSync(join(dir, 'data.db'));
    try {
      assert.deepEqual({ ...db.prepare('PRAGMA integrity_check').get() }, { integrity_check: 'ok' });
      const stored = new Set(
        (db.prepare('SELECT id FROM ledger').all() as Array<{ id: string }>).map((r) => r.id),
      );
      const lost = acknowledged.filter((id) => !stored.has(id));
      assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.length} acknowledged writes were lost`);
      t.diagnostic(`${acknowledged.length} acknowledged writes, all present after ${KILLS} kills`);
    } finally {
      db.close();
    }
  });
});
