import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onResponseHookHandler,
} from 'fastify';
import { ApiError } from '../errors/index.ts';
import { applySecurityHeaders } from './security.ts';

/** Fastify's own 4xx errors (bad JSON, wrong content type, too large) in PocketBase's error shape. */
function fromFastify(err: FastifyError): ApiError | undefined {
  const status = err.statusCode ?? 0;
  if (status < 400 || status >= 500) return undefined;
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'Unsupported Content-Type; send application/json.');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'Request entity too large.');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError(400, 'The request body is empty; expected JSON.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError(400, 'Invalid JSON body.');
    case 'FST_ERR_BAD_URL':
      return new ApiError(400, 'Malformed URL.');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new ApiError(414, 'A path segment is too long.');
    default:
      if (err instanceof SyntaxError || /JSON/i.test(err.message))
        return new ApiError(400, 'Invalid JSON body.');
      if (status === 413) return new ApiError(413);
      return new ApiError(status);
  }
}

/**
 * Errors Fastify's router raises before any route or hook runs (a malformed or overlong URL): the same
 * error JSON, not Fastify's own body that echoes the path. Passed as the `frameworkErrors` option.
 */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const api = fromFastify(err) ?? new ApiError(500);
  // No hooks run on this path, so the onSend security headers are added here.
  applySecurityHeaders(request, reply);
  reply.code(api.status).send(api.toJSON());
}

/** The error a request was answered with, for its log entry (request-entries.ts). */
export const kAnsweredError = Symbol('plinth.answeredError');
type Answered = FastifyRequest & { [kAnsweredError]?: { message: string; data: unknown } };

/** The error `request` was answered with, if it was: its message and details. */
export const answeredError = (request: FastifyRequest) => (request as Answered)[kAnsweredError];

/**
 * Every error leaves as PocketBase's JSON. Database outages (`outage`) are 503s with `Retry-After`; other
 * unknown errors are a generic 500 whose cause is logged with the request id and never sent: no stack
 * traces, no SQL.
 */
export function installErrorHandling(
  app: FastifyInstance,
  outage: (err: unknown) => ApiError | undefined = () => undefined,
  /** Hooks of the not-found handler (metrics count unknown routes with an `onResponse` there). */
  notFoundHooks: { onResponse?: onResponseHookHandler } = {},
): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const api = err instanceof ApiError ? err : fromFastify(err);
    (request as Answered)[kAnsweredError] = api
      ? { message: api.message, data: api.data }
      : { message: String(err?.message ?? err), data: {} };
    if (api) return reply.code(api.status).headers(api.headers).send(api.toJSON());
    // The database is down, full or stuck: a 503 the client may retry (and a load balancer notices).
    const down = outage(err);
    if (down) {
      request.log.warn({ err, reqId: request.id }, 'database outage');
      return reply.code(down.status).headers(down.headers).send(down.toJSON());
    }
    request.log.error({ err, reqId: request.id }, 'unhandled error');
    return reply.code(500).send(new ApiError(500).toJSON());
  });
  // Fastify takes every lifecycle hook in these options (four-oh-four.js), though its types name two.
  app.setNotFoundHandler(notFoundHooks as never, (_request, reply) =>
    reply.code(404).send(new ApiError(404).toJSON()),
  );
}
