import type { FastifyInstance } from 'fastify';
import { badRequest } from '../errors/index.ts';

/** Deeper JSON would overflow recursive code downstream (JSON.stringify); SQLite's JSON stops at 1000. */
const MAX_JSON_DEPTH = 500;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** True if arrays/objects nest deeper than `max` (brackets inside strings do not count). */
function nestsDeeperThan(text: string, max: number): boolean {
  if (text.length <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/**
 * JSON bodies with Fastify's prototype-poisoning checks, except that an empty body is `{}`, as PocketBase
 * reads it: the pocketbase SDK sends `Content-Type: application/json` with nothing on auth-refresh and
 * deletes, and a PATCH or POST without a body is one with no fields.
 * Bodies must be valid UTF-8 (never silently patched with U+FFFD) and nest at most MAX_JSON_DEPTH deep.
 */
export function installJsonBodies(app: FastifyInstance): void {
  const strict = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, raw, done) => {
    let body: string;
    try {
      body = utf8.decode(raw as Buffer);
    } catch {
      return done(badRequest('Invalid JSON body: not valid UTF-8.'), undefined);
    }
    if (body.trim() === '') return done(null, {});
    if (nestsDeeperThan(body, MAX_JSON_DEPTH))
      return done(badRequest(`Invalid JSON body: nested deeper than ${MAX_JSON_DEPTH} levels.`), undefined);
    // Only a `\u` escape can make a lone surrogate (the UTF-8 decoding above refuses encoded ones).
    if (!body.includes('\\u')) return strict(request, body, done);
    strict(request, body, (err, value) => {
      if (err || wellFormed(value)) return done(err, value);
      done(badRequest(LONE_SURROGATE), undefined);
    });
  });
}

const LONE_SURROGATE =
  'Invalid JSON body: a string holds an unpaired UTF-16 surrogate (\\ud800-\\udfff), which no database stores alike.';

/**
 * True if no string (key or value) holds an unpaired surrogate. PostgreSQL refuses them in JSON, SQLite
 * and MariaDB store them differently: a body is refused whole rather than stored one way here, another there.
 */
function wellFormed(value: unknown): boolean {
  if (typeof value === 'string') return value.isWellFormed();
  if (Array.isArray(value)) return value.every(wellFormed);
  if (value && typeof value === 'object')
    return Object.entries(value).every(([k, v]) => k.isWellFormed() && wellFormed(v));
  return true;
}

/**
 * The same checks for JSON that arrives another way (a multipart form's `@jsonPayload`): valid nesting
 * depth, no prototype-poisoning keys, no lone surrogates. Throws the 400 the JSON body would get.
 */
export function parseJsonText(text: string): unknown {
  if (nestsDeeperThan(text, MAX_JSON_DEPTH))
    throw badRequest(`Invalid JSON body: nested deeper than ${MAX_JSON_DEPTH} levels.`);
  let value: unknown;
  try {
    value = JSON.parse(text, (key, v) => {
      if (key === '__proto__' || (key === 'constructor' && v && typeof v === 'object' && 'prototype' in v))
        throw new SyntaxError('Object contains forbidden prototype property');
      return v;
    });
  } catch (err) {
    throw badRequest(`Invalid JSON body: ${(err as Error).message}`);
  }
  if (!wellFormed(value)) throw badRequest(LONE_SURROGATE);
  return value;
}
