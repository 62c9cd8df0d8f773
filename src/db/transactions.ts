import { CompiledQuery } from 'kysely';
import type { AnyDb, AnyTrx } from './database.ts';
import type { SqlDialect } from './dialect.ts';

/** A transaction that holds the schema lock, on one connection so that a session-scoped lock can be released. */
export async function lockedTransaction<T>(
  kysely: AnyDb,
  dialect: SqlDialect,
  fn: (trx: AnyTrx) => Promise<T>,
): Promise<T> {
  const lock = dialect.schemaLockSql();
  if (!lock) return kysely.transaction().execute(fn);
  return kysely.connection().execute(async (conn) => {
    let failed = false;
    try {
      return await conn.transaction().execute(async (trx) => {
        const [row] = (await trx.executeQuery<{ locked: unknown }>(CompiledQuery.raw(lock.lock))).rows;
        if (!row?.locked) throw new Error('timed out waiting for the schema lock');
        return fn(trx);
      });
    } catch (err) {
      failed = true;
      throw err;
    } finally {
      // After a failure the connection may be gone (which frees the lock too): keep the first error.
      if (lock.unlock)
        await conn.executeQuery(CompiledQuery.raw(lock.unlock)).catch((err) => {
          if (!failed) throw err;
        });
    }
  });
}

/** Serialization failures and deadlocks are the engine asking for a retry: up to 3 more attempts. */
export async function withRetries<T>(dialect: SqlDialect, attempt: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (i >= 3 || dialect.translateError(err)?.kind !== 'retry') throw err;
      await new Promise((r) => setTimeout(r, 5 * 2 ** i + Math.random() * 10));
    }
  }
}
