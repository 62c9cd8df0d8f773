import { createHash } from 'node:crypto';
import type pg from 'pg';

/**
 * A shortcut for one statement outside transactions, given the engine's native SQL; undefined when it
 * cannot take it (the caller then goes through Kysely).
 */
export type RunNow = (sql: string, params: readonly unknown[]) => unknown[] | Promise<unknown[]> | undefined;

/** Distinct statements a PostgreSQL connection keeps prepared; past this, statements go unnamed. */
const MAX_NAMED_STATEMENTS = 2000;

/**
 * PostgreSQL parses and plans an unnamed statement every time; a named one once per connection. Hot-path
 * SQL is a small set of strings built once per collection (or a filter clients repeat), so it is named by
 * a hash of its text.
 */
export function namedStatements(pool: pg.Pool): RunNow {
  const names = new Map<string, string>();
  let generation = 0;
  const nameOf = (sql: string) =>
    `p${generation}_${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
  // SQL seen once (a one-off filter) runs unnamed; the second time it gets a name. Bounded, so a flood of
  // distinct filters cannot use up the names the hot path needs.
  let seenOnce = new Set<string>();
  return (sql, params) => {
    let name = names.get(sql);
    if (name === undefined) {
      if (names.size >= MAX_NAMED_STATEMENTS) return undefined;
      if (!seenOnce.has(sql)) {
        if (seenOnce.size >= MAX_NAMED_STATEMENTS) seenOnce = new Set();
        seenOnce.add(sql);
        return undefined;
      }
      seenOnce.delete(sql);
      name = nameOf(sql);
      names.set(sql, name);
    }
    const query = (n: string) =>
      pool.query({ name: n, text: sql, values: params as unknown[] }).then((r) => r.rows);
    return query(name).catch((err: unknown) => {
      // A schema change (here or on another node) altered the columns behind a prepared `SELECT *`:
      // prepare it again under a new name. Old names die with their connections.
      if (!/cached plan must not change result type/.test(String((err as Error)?.message))) throw err;
      generation++;
      const fresh = nameOf(sql);
      names.set(sql, fresh);
      return query(fresh);
    });
  };
}
