import { dirname, join, resolve } from 'node:path';

/**
 * App migrations (src/migrations/): where their files live, and whether a collection change made through
 * the API writes one (automigrate). Boot config: the folder is part of the deployment, and automigrate is
 * a development switch an operator must turn on knowingly, never through the API it records.
 */
export interface MigrationsConfig {
  /** The folder of migration files; default `plinth_migrations` beside the data dir. */
  migrationsDir: string;
  /** Write a migration file for every collection change made through the API (development). */
  automigrate: boolean;
}

/** The keys a config file may hold for migrations (docs/migrations.md lists them). */
export const MIGRATIONS_KEYS: readonly (keyof MigrationsConfig)[] = ['migrationsDir', 'automigrate'];

/** `PLINTH_MIGRATIONS_DIR` and `PLINTH_AUTOMIGRATE`. */
export function migrationsEnv(env: NodeJS.ProcessEnv): Record<keyof MigrationsConfig, unknown> {
  return { migrationsDir: env.PLINTH_MIGRATIONS_DIR, automigrate: env.PLINTH_AUTOMIGRATE };
}

/** Reads both settings; `dataDir` is already resolved (the folder's default sits beside it). */
export function readMigrations(
  input: Partial<Record<keyof MigrationsConfig, unknown>>,
  dataDir: string,
  problems: string[],
): MigrationsConfig {
  const raw = input.automigrate ?? false;
  const text = String(raw).trim().toLowerCase();
  let automigrate = false;
  if (raw === true || text === 'true' || text === '1') automigrate = true;
  else if (!(raw === false || text === 'false' || text === '0' || text === ''))
    problems.push('automigrate must be true or false');
  const dir = String(input.migrationsDir ?? '').trim();
  if (dir.includes('\0')) problems.push('migrationsDir must not contain NUL characters');
  return {
    migrationsDir: dir ? resolve(dir) : join(dirname(dataDir), 'plinth_migrations'),
    automigrate,
  };
}
