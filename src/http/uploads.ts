import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, badRequest } from '../errors/index.ts';
import { ByteMeter, sniffMime } from '../lib/index.ts';
import { parseJsonText } from './body.ts';

/** One uploaded file, written whole to a spool file and sniffed; not yet in storage. */
export interface SpooledFile {
  /** The form key it came under, modifier included (`avatar`, `documents+`). */
  key: string;
  /** The name the client gave, as given (sanitized later). */
  originalName: string;
  path: string;
  size: number;
  /** Sniffed from the content, never taken from the client. */
  mime: string;
}

export interface MultipartBody {
  /** The form's values: `@jsonPayload` merged in, a key sent several times as a list. */
  body: Record<string, unknown>;
  files: SpooledFile[];
}

export interface MultipartLimits {
  /** Where spool files go (the caller removes them, see `discardSpooled`). */
  spoolDir: string;
  /** The most bytes a file sent under `key` may have; undefined: the key takes no file. */
  maxFileSize(key: string): number | undefined;
  /** The most bytes of all files together. */
  maxTotal: number;
  maxFiles: number;
  /** The error for a file past `maxFileSize(key)`. */
  tooLarge(key: string, originalName: string, max: number): Error;
}

/**
 * Reads a multipart form: its values into `body`, each file streamed to a spool file while its size is
 * counted, so a file past its field's limit is cut off at the limit (the request fails at once, the rest of
 * it unread) and memory stays flat whatever the size. Files under keys that take no file are read and
 * dropped. On any failure every spool file of the request is removed.
 */
export async function readMultipart(
  request: FastifyRequest,
  limits: MultipartLimits,
): Promise<MultipartBody> {
  const body: Record<string, unknown> = {};
  const files: SpooledFile[] = [];
  let total = 0;
  // A file part cut short by the end of the body is never ended by the parser: it is ended here, as refused.
  const cutShort = () => badRequest('Invalid multipart form.');
  let current: Readable | undefined;
  let ended = false;
  // Attached before the parser is (at the loop's first step, in this same tick): both see every chunk.
  const closed = watchCloseDelimiter(request, () => {
    ended = true;
    current?.destroy(cutShort());
  });
  try {
    for await (const part of request.parts()) {
      if (part.type === 'field') {
        const value = part.value;
        if (part.fieldname === '@jsonPayload') {
          const payload = parseJsonText(String(value));
          if (payload && typeof payload === 'object' && !Array.isArray(payload)) Object.assign(body, payload);
          else throw badRequest('Invalid @jsonPayload: a JSON object was expected.');
        } else addValue(body, part.fieldname, value);
        continue;
      }
      const max = limits.maxFileSize(part.fieldname);
      if (max === undefined) {
        part.file.resume();
        continue;
      }
      if (files.length >= limits.maxFiles)
        throw badRequest(`Too many files: at most ${limits.maxFiles} per request.`);
      const room = Math.min(max, limits.maxTotal - total);
      const path = join(limits.spoolDir, randomBytes(16).toString('hex'));
      const meter = new ByteMeter(room, () =>
        room < max
          ? new ApiError(413, 'Request entity too large.')
          : limits.tooLarge(part.fieldname, part.filename ?? '', max),
      );
      files.push({ key: part.fieldname, originalName: part.filename ?? '', path, size: 0, mime: '' });
      if (ended) {
        part.file.destroy();
        throw cutShort();
      }
      current = part.file;
      await pipeline(part.file, meter, createWriteStream(path, { mode: 0o600 }));
      current = undefined;
      if (part.file.truncated) throw new ApiError(413, 'Request entity too large.');
      const file = files.at(-1) as SpooledFile;
      file.size = meter.size;
      file.mime = await sniffMime(meter.head);
      total += meter.size;
    }
    // @fastify/multipart ends a form cut short between parts (or inside a value) as if it were whole.
    if (!closed()) throw badRequest('Invalid multipart form.');
  } catch (err) {
    await discardSpooled(files);
    if (!request.raw.complete) lingerThenClose(request);
    throw asClientError(err);
  }
  return { body, files };
}

/**
 * {@link readMultipart} without holding an admission slot: an upload may take minutes on a slow link, and
 * waits on the network, not on the server. If no slot is to be had afterwards (503), what was spooled goes.
 */
export async function readMultipartOutsideSlot(
  request: FastifyRequest,
  reply: FastifyReply,
  limits: MultipartLimits,
): Promise<MultipartBody> {
  let spooled: SpooledFile[] = [];
  const read = () =>
    readMultipart(request, limits).then((form) => {
      spooled = form.files;
      return form;
    });
  return request.server.admission.outsideSlot(reply, read).catch(async (err) => {
    await discardSpooled(spooled);
    throw err;
  });
}

/**
 * Watches a multipart body for its close delimiter (`--boundary--` after a line break, or opening the body),
 * and answers whether it came. No part can hold the delimiter, so its first sight is the form's end; a form
 * without it was cut short, and `cutShort` is called when the body ends so.
 */
function watchCloseDelimiter(request: FastifyRequest, cutShort: () => void): () => boolean {
  const boundary = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(request.headers['content-type'] ?? '');
  // Without a boundary the parser refuses the form itself.
  if (!boundary) return () => true;
  const close = Buffer.from(`\r\n--${boundary[1] ?? boundary[2]}--`);
  const keep = close.length - 1;
  let tail = Buffer.from('\r\n');
  let seen = false;
  const onData = (chunk: Buffer) => {
    // The delimiter may span two chunks: the end of the one before is searched with the start of this one.
    seen = Buffer.concat([tail, chunk.subarray(0, keep)]).includes(close) || chunk.includes(close, 0);
    if (seen) {
      request.raw.off('data', onData);
      return;
    }
    tail =
      chunk.length >= keep
        ? Buffer.from(chunk.subarray(-keep))
        : Buffer.concat([tail, chunk]).subarray(-keep);
  };
  request.raw.on('data', onData);
  request.raw.once('end', () => seen || cutShort());
  return () => seen;
}

/** How long the rest of a refused upload is read and dropped before the connection is cut. */
const LINGER_MS = 2000;

/**
 * A form refused before its end (a file past its limit): the answer goes at once, with `Connection:
 * close`. Closing a socket with unread bytes makes the kernel send a reset, which can destroy the answer
 * before the client reads it; so the rest of the upload is read and dropped for a moment (as web servers'
 * "lingering close" does), then the connection is cut, however much is still coming.
 */
export function lingerThenClose(request: FastifyRequest): void {
  const raw = request.raw;
  raw.on('data', () => {});
  raw.resume();
  const timer = setTimeout(() => raw.socket?.destroy(), LINGER_MS);
  timer.unref();
  raw.once('end', () => clearTimeout(timer));
}

/** Removes spool files (their content either went to storage or is not wanted). */
export async function discardSpooled(files: readonly SpooledFile[]): Promise<void> {
  await Promise.all(files.map((f) => rm(f.path, { force: true })));
}

function addValue(body: Record<string, unknown>, key: string, value: unknown): void {
  if (!Object.hasOwn(body, key)) body[key] = value;
  else if (Array.isArray(body[key])) (body[key] as unknown[]).push(value);
  else body[key] = [body[key], value];
}

/** @fastify/multipart's limit errors (parts, fields, field size) and malformed forms as 4xx. */
function asClientError(err: unknown): unknown {
  if (err instanceof ApiError) return err;
  const e = err as { code?: string; statusCode?: number; message?: string };
  if (e.code === 'FST_REQ_FILE_TOO_LARGE' || e.statusCode === 413)
    return new ApiError(413, 'Request entity too large.');
  if (typeof e.code === 'string' && e.code.startsWith('FST_')) return badRequest('Invalid multipart form.');
  if (e.message && /multipart|boundary|Unexpected end of form|Malformed part header/i.test(e.message))
    return badRequest('Invalid multipart form.');
  return err;
}
