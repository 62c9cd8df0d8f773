import { ApiError } from '../errors/index.ts';
import type { SqlDialect } from './dialect.ts';
import type { Gate, Ticket } from './gate.ts';

/** Who runs a query (for the lane's fairness) and whether they are still waiting for it. */
export type QueryOptions = Ticket;

/** A query whose cost outgrew the time limit: the client's request was too expensive (400). */
export function tooExpensive(timeoutMs: number): ApiError {
  return new ApiError(
    400,
    `The query took longer than ${timeoutMs / 1000} s to run; make the filter or sort simpler or more selective.`,
  );
}

/**
 * `Database.query`: data-dependent reads enter the gate (a fair share of the lane per caller), run, and
 * leave; one that runs past the statement time limit becomes the client's 400.
 */
export function queryLane(deps: {
  gate: Gate;
  dialect: SqlDialect;
  timeoutMs: number;
  execute: (sql: string, params: readonly unknown[]) => Promise<unknown[]>;
}) {
  return async function query<R>(sql: string, params: readonly unknown[], options: QueryOptions = {}) {
    const release = await deps.gate.enter(options);
    try {
      return (await deps.execute(sql, params)) as R[];
    } catch (err) {
      if (deps.dialect.translateError(err)?.kind === 'timeout') throw tooExpensive(deps.timeoutMs);
      throw err;
    } finally {
      release();
    }
  };
}
