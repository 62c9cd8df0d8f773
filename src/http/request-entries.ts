import type { FastifyReply, FastifyRequest } from 'fastify';
import type { LogWriter } from '../logs/index.ts';
import type { Settings } from '../schema/index.ts';
import { answeredError } from './errors.ts';
import { clientIp } from './superuser-ips.ts';

/** slog's level for errors, as PocketBase stores it (a request answered 400 or more). */
const ERROR = 8;

/**
 * Hands each completed request to the stored request logs: PocketBase's request entry (`type: "request"`,
 * URL, method, status, time, caller, addresses as the `logs` settings allow). A request answered with an
 * error is an error entry, with the error's message and details. The logs' own successful reads and CORS
 * preflights are not logged (PocketBase skips them too).
 *
 * This runs on every request, so it only passes on values the request already holds: the entry's text
 * (message, data JSON, redaction, id) is made where it is written (logs/entry-rows.js).
 */
export function requestEntries(logs: () => Settings['logs'], writer: Pick<LogWriter, 'addRequest'>) {
  return (request: FastifyRequest, reply: FastifyReply): void => {
    const settings = logs();
    // CORS preflights are answered before anything else, and PocketBase does not log them either.
    if (settings.maxDays <= 0 || request.method === 'OPTIONS') return;
    const status = reply.statusCode;
    let error: string | undefined;
    if (status >= 400) {
      if (ERROR < settings.minLevel) return;
      const answered = answeredError(request);
      if (answered)
        error = `"error":${JSON.stringify(answered.message)}${answered.data === undefined ? '' : `,"details":${JSON.stringify(answered.data)}`}`;
    } else if (settings.minLevel > 0 || request.url.startsWith('/api/logs')) return;
    const auth = request.auth;
    const headers = request.headers;
    const logIP = settings.logIP;
    writer.addRequest(
      Date.now(),
      status,
      reply.elapsedTime,
      request.method,
      request.url,
      headers.referer,
      headers['user-agent'],
      auth?.collection?.name ?? '',
      settings.logAuthId && auth?.record ? String(auth.record.id) : '',
      logIP ? clientIp(request) : undefined,
      logIP ? (request.socket?.remoteAddress ?? '') : undefined,
      error,
    );
  };
}
