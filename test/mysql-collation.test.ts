import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config/index.ts';
import { createLogger } from '../src/log/index.ts';
import { TEST_ENGINE } from './helpers/databases.ts';

const ADMIN = process.env.PLINTH_TEST_MYSQL ?? 'mysql://root@127.0.0.1:3306/';

describe('MariaDB tables whatever the database default', {
  skip: TEST_ENGINE !== 'mysql' ? 'about MariaDB collations' : false,
}, () => {
  it('creates every table, system ones included, with the exact utf8mb4_nopad_bin collation', async () => {
    const name = `plinth_ci_${randomBytes(5).toString('hex')}`;
    const admin = await mysql.createConnection(ADMIN);
    const dir = mkdtempSync(join(tmpdir(), 'plinth-collation-'));
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci`);
    try {
      const url = new URL(ADMIN);
      url.pathname = `/${name}`;
      const config = loadConfig({ dir, db: url.toString(), http: '127.0.0.1:0', logLevel: 'silent' }, {});
      const app = await createApp(config, createLogger('silent'));
      await app.collections.create({ name: 'notes', fields: [{ name: 'title', type: 'text' }] });
      await app.close();
      const [rows] = (await admin.query(
        'SELECT table_name AS t, table_collation AS c FROM information_schema.tables WHERE table_schema = ?',
        [name],
      )) as unknown as [Array<{ t: string; c: string }>];
      const collations = Object.fromEntries(rows.map((r) => [r.t, r.c]));
      for (const table of ['_migrations', '_collections', '_params', '_superusers', 'users', 'notes']) {
        assert.equal(collations[table], 'utf8mb4_nopad_bin', table);
      }
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await admin.end();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
