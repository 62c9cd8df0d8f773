import { sql } from 'kysely';
import type { AnyTrx, Database } from './database.ts';

export interface Migration {
  /** Unique, ordered name, e.g. `0001_system_tables`. */
  name: string;
  up(trx: AnyTrx, db: Database): Promise<void>;
}

/**
 * Applies pending migrations in name order, each in its own transaction with its history row. They hold
 * the schema lock and re-check the history inside it, so nodes starting together apply each one once.
 */
export async function runMigrations(db: Database, migrations: readonly Migration[]): Promise<string[]> {
  const q = db.dialect.quote;
  await db.transaction(
    (trx) =>
      sql
        .raw(
          `CREATE TABLE IF NOT EXISTS ${q('_migrations')} (${q('file')} VARCHAR(255) PRIMARY KEY NOT NULL, ${q('applied')} BIGINT NOT NULL)${db.dialect.tableOptions}`,
        )
        .execute(trx),
    { schemaLock: true },
  );
  const done = new Set(
    (await db.kysely.selectFrom('_migrations').select('file').execute()).map((r) => String(r.file)),
  );
  const applied: string[] = [];
  for (const m of [...migrations].sort((a, b) => a.name.localeCompare(b.name))) {
    if (done.has(m.name)) continue;
    const ran = await db.transaction(
      async (trx) => {
        const row = await trx
          .selectFrom('_migrations')
          .select('file')
          .where('file', '=', m.name)
          .executeTakeFirst();
        if (row) return false;
        await m.up(trx, db);
        await trx.insertInto('_migrations').values({ file: m.name, applied: Date.now() }).execute();
        return true;
      },
      { schemaLock: true },
    );
    if (ran) applied.push(m.name);
  }
  return applied;
}
