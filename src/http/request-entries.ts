import type { FastifyReply, FastifyRequest } from 'fastify';
import type { LogEntry } from '../logs/index.ts';
import type { Settings } from '../schema/index.ts';
import { answeredError } from './errors.ts';
import { clientIp } from './superuser-ips.ts';

/** slog's levels, as PocketBase stores them. */
const INFO = 0;
const ERROR = 8;

const cut = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}...` : text);
const header = (request: FastifyRequest, name: string) => {
  const value = request.headers[name];
  return typeof value === 'string' ? value : '';
};

/** File tokens travel in `?token=`: never kept in a log that outlives them. */
const redacted = (url: string) =>
  url.includes('token=') ? url.replace(/([?&]token=)[^&#]*/gi, '$1***') : url;

function decoded(url: string): string {
  try {
    return decodeURI(url);
  } catch {
    return url;
  }
}

/**
 * The request log entry PocketBase writes for a request (`type: "request"`, its URL, method, status,
 * time, caller, addresses as the `logs` settings allow), handed to `add` once the request has completed.
 * A request answered with an error is an error entry, with the error's message and details. The logs'
 * own successful reads are not logged (PocketBase skips them too).
 */
export function requestEntries(logs: () => Settings['logs'], add: (entry: LogEntry) => void) {
  return (request: FastifyRequest, reply: FastifyReply): void => {
    const settings = logs();
    if (settings.maxDays <= 0) return;
    const status = reply.statusCode;
    const error = status >= 400 ? answeredError(request) : undefined;
    const level = status >= 400 ? ERROR : INFO;
    if (level < settings.minLevel) return;
    const url = redacted(cut(request.url, 3000));
    if (level === INFO && url.startsWith('/api/logs')) return;
    const method = cut(request.method.toUpperCase(), 50);
    const auth = request.auth;
    const data: Record<string, unknown> = {
      type: 'request',
      execTime: reply.elapsedTime,
      url,
      method,
      status,
      referer: cut(header(request, 'referer'), 2000),
      userAgent: cut(header(request, 'user-agent'), 2000),
      auth: auth?.collection?.name ?? '',
    };
    if (error) {
      data.error = error.message;
      data.details = error.data;
    }
    if (settings.logAuthId && auth?.record) data.authId = String(auth.record.id);
    if (settings.logIP) {
      data.userIP = clientIp(request);
      data.remoteIP = request.socket?.remoteAddress ?? '';
    }
    add({ time: Date.now(), level, message: `${method} ${decoded(url)}`, data });
  };
}
