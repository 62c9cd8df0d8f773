export type {
  AnyDb,
  AnyTrx,
  Database,
  DatabaseOptions,
  Executor,
  PoolStats,
  QueryOptions,
  Statement,
  TransactionOptions,
} from './database.ts';
export { createDatabase } from './database.ts';
export type { ColumnKind, ColumnSpec, IndexSpec, SqlDialect, TranslatedError } from './dialect.ts';
export { BOUNDED_TEXT_CHARS, uniqueErrorData } from './dialect.ts';
export { joinedTransaction } from './joined-transaction.ts';
export type { Migration } from './migrations.ts';
export { runMigrations } from './migrations.ts';
export { outageError } from './outage.ts';
export { tooExpensive } from './query-lane.ts';
export type { WriteLock } from './sqlite-driver.ts';
export { GUARD_SQL } from './sqlite-guard.ts';
