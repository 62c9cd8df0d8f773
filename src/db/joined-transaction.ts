import type { AnyTrx, Database } from './database.ts';

/**
 * The database as seen from inside the open transaction `trx`: every read (`query` included, which would
 * otherwise go to another connection or a reader thread and miss the transaction's own writes) and every
 * write runs on it, and `transaction(fn)` joins it instead of starting another. For work made of several
 * use cases that must commit together (a batch request): each runs unchanged, and the caller owns the
 * commit. Statements still stop at the engine's time limit; reads no longer wait in the query lane, since
 * the transaction already holds its connection.
 */
export function joinedTransaction(db: Database, trx: AnyTrx): Database {
  return {
    ...db,
    kysely: trx,
    transaction: (fn) => fn(trx),
    // Code that names the database itself (not `kysely` here) is sent to the transaction too.
    run: (executor, sql, params) => db.run(executor === db.kysely ? trx : executor, sql, params),
    query: (sql, params) => db.run(trx, sql, params),
    queryBatch: (statements) => Promise.all(statements.map((s) => db.run<unknown>(trx, s.sql, s.params))),
    close: () => Promise.reject(new Error('a joined transaction is closed by its owner')),
  };
}
