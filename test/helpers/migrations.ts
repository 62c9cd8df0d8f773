import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type App, createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/log/index.ts';
import { createTestDatabase, type TestDatabase } from './databases.ts';

/** A scratch database, data dir and migrations dir, and apps opened on them (closed by `close`). */
export interface MigrationsFixture {
  root: string;
  dataDir: string;
  migrationsDir: string;
  database: TestDatabase;
  /** CLI flags that reach this fixture's database and folders. */
  flags: string[];
  open(options?: { automigrate?: boolean; migrationsDir?: string }): Promise<App>;
  /** Writes a migration file (its folder made as needed). */
  write(file: string, text: string): void;
  close(): Promise<void>;
}

export async function migrationsFixture(): Promise<MigrationsFixture> {
  const root = mkdtempSync(join(tmpdir(), 'plinth-migrations-'));
  const dataDir = join(root, 'data');
  const migrationsDir = join(root, 'plinth_migrations');
  const database = await createTestDatabase();
  const apps: App[] = [];
  const flags = ['--dir', dataDir, ...(database.url ? ['--db', database.url] : [])];
  return {
    root,
    dataDir,
    migrationsDir,
    database,
    flags,
    async open(options = {}) {
      const config = loadConfig(
        {
          dir: dataDir,
          db: database.url,
          logLevel: 'silent',
          maxEventLoopDelayMs: 0,
          migrationsDir: options.migrationsDir ?? migrationsDir,
          automigrate: options.automigrate ?? false,
        },
        {},
      );
      const app = await createApp(config, createLogger('silent'));
      apps.push(app);
      return app;
    },
    write(file, text) {
      mkdirSync(migrationsDir, { recursive: true });
      writeFileSync(join(migrationsDir, file), text);
    },
    async close() {
      for (const app of apps) await app.close();
      await database.drop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** A migration file's text from the bodies of its `up` and `down`. */
export const migrationText = (up: string, down = '') =>
  `export default {\n  async up(m) {\n${up}\n  },\n  async down(m) {\n${down}\n  },\n};\n`;

/** A migration that creates a base collection `name` with a text field `title`, and removes it again. */
export const createCollectionText = (name: string) =>
  migrationText(
    `await m.collections.create({ name: '${name}', type: 'base', fields: [{ name: 'title', type: 'text' }] });`,
    `await m.collections.remove('${name}');`,
  );
