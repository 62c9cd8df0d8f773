import type { FastifyRequest } from 'fastify';
import type { AuthContext, RequestDetails } from '../records/index.ts';

/**
 * The caller with what rules may read about this request (`@request.method`, `.headers`, `.query`). The
 * details are built on first read: most requests meet `""` rules and never need them. A class with a
 * prototype getter keeps this cheap on the hot path (one small object, one shape).
 */
class Caller implements AuthContext {
  readonly collection: AuthContext['collection'];
  readonly record: AuthContext['record'];
  readonly isSuperuser: boolean;
  readonly sessionId: string | undefined;
  #http: FastifyRequest;
  #details: RequestDetails | undefined;
  #ticket: AuthContext['ticket'];
  constructor(request: FastifyRequest) {
    this.collection = request.auth.collection;
    this.record = request.auth.record;
    this.isSuperuser = request.auth.isSuperuser;
    this.sessionId = request.auth.sessionId;
    this.#http = request;
  }
  get request(): RequestDetails {
    this.#details ??= requestDetails(this.#http);
    return this.#details;
  }
  /** The database's query lane shares itself out per client IP. */
  get ticket(): AuthContext['ticket'] {
    this.#ticket ??= { caller: this.#http.ip };
    return this.#ticket;
  }
}

export const callerOf = (request: FastifyRequest): AuthContext => new Caller(request);

/** What rules may read about a request, with `@request.context` = `context`. */
export function requestDetails(request: FastifyRequest, context = 'default'): RequestDetails {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined)
      headers[name.toLowerCase().replaceAll('-', '_')] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of Object.entries((request.query ?? {}) as Record<string, unknown>)) {
    const v = Array.isArray(value) ? value[0] : value;
    if (typeof v === 'string') query[name] = v;
  }
  return { method: request.method, headers, query, context };
}
