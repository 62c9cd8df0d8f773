import { type ApiError, badRequest } from '../errors/index.ts';

/** A filter, sort, expand or fields problem the client can fix; `pos` is a 1-based character position. */
export class FilterError extends Error {
  readonly pos: number | undefined;
  constructor(message: string, pos?: number) {
    super(message);
    this.pos = pos;
  }
}

/** The 400 a client sees for an invalid `param` (`filter`, `sort`...). */
export function toBadRequest(err: unknown, param: string): ApiError | undefined {
  if (!(err instanceof FilterError)) return undefined;
  const where = err.pos === undefined ? '' : ` at character ${err.pos}`;
  return badRequest(`Invalid ${param}: ${err.message}${where}.`);
}
