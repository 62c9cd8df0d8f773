import { type ApiError, serviceUnavailable } from '../errors/index.ts';
import type { SqlDialect } from './dialect.ts';

/**
 * A database failure the client did not cause and may outlive: the 503 (with `Retry-After`) it answers
 * with, or undefined for any other error. Unreachable or lost database, a full disk, a statement stopped
 * by the engine outside the query lane (lock waits, a hung server), or contention that outlasted the retries.
 */
export function outageError(dialect: SqlDialect, err: unknown): ApiError | undefined {
  switch (dialect.translateError(err)?.kind) {
    case 'unavailable':
      return serviceUnavailable(5, 'The database is unavailable; try again shortly.');
    case 'full':
      return serviceUnavailable(30, 'The database is out of space; try again later.');
    case 'timeout':
      return serviceUnavailable(2, 'The database did not answer in time; try again shortly.');
    case 'retry':
      return serviceUnavailable(1, 'The database is busy; try again shortly.');
    default:
      return undefined;
  }
}
