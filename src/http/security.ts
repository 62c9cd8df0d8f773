import cors from '@fastify/cors';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TUS_EXPOSED_HEADERS } from './tus/protocol.ts';

const STATIC_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'strict-origin-when-cross-origin',
};

/**
 * The headers every response carries, including the few Fastify sends without running hooks. Stored files
 * may be framed by other sites (an embedded PDF, as PocketBase allows) and set their own caching.
 */
export function applySecurityHeaders(request: FastifyRequest, reply: FastifyReply): void {
  reply.headers(STATIC_HEADERS);
  reply.header('x-request-id', request.id);
  if (!request.url.startsWith('/api/files/')) reply.header('x-frame-options', 'SAMEORIGIN');
  if (request.url.startsWith('/api/') && !reply.hasHeader('cache-control'))
    reply.header('cache-control', 'no-store');
}

/**
 * CORS, as the first `onRequest` hook (server.ts): whatever answers early (a shutdown's or an overload's
 * 503, a rate limit's 429) is readable by a page on another origin, and a preflight is answered before
 * admission, auth and rate limits, which PocketBase does not count preflights against either.
 */
export async function installCors(app: FastifyInstance, origins: string[]): Promise<void> {
  const anyOrigin = origins.includes('*');
  await app.register(cors, {
    // `*` allows any origin but never with credentials; otherwise only the listed origins.
    origin: anyOrigin ? '*' : origins,
    credentials: !anyOrigin,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    maxAge: 86400,
    // Resumable uploads: a browser's tus client reads these from other origins (docs/files.md).
    exposedHeaders: TUS_EXPOSED_HEADERS,
    // An OPTIONS without Origin gets an empty 204, as in PocketBase, not a plain-text 400.
    strictPreflight: false,
  });
}

/**
 * Headers every response carries. The API answers JSON only, so it may deny framing, sniffing and
 * caching; HTML pages set their own CSP.
 */
export function installSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', (request, reply, payload, done) => {
    applySecurityHeaders(request, reply);
    // While shutting down, in-flight responses close their connection so that the drain ends with them.
    if (!app.server.listening) reply.header('connection', 'close');
    done(null, payload);
  });
}
