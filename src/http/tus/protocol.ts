import type { FastifyRequest } from 'fastify';
import { ApiError, badRequest } from '../../errors/index.ts';

/** The one tus version served. */
export const TUS_VERSION = '1.0.0';
/** The tus extensions served: no creation-with-upload, defer-length, checksum or concatenation. */
export const TUS_EXTENSIONS = 'creation,termination,expiration';
/** The body type of a tus PATCH. */
export const TUS_BODY_TYPE = 'application/offset+octet-stream';
/** Response headers a browser client must be allowed to read (CORS `Access-Control-Expose-Headers`). */
export const TUS_EXPOSED_HEADERS = [
  'Location',
  'Tus-Resumable',
  'Tus-Version',
  'Tus-Extension',
  'Tus-Max-Size',
  'Upload-Offset',
  'Upload-Length',
  'Upload-Expires',
  'Plinth-File-Name',
];
/** The longest `Upload-Metadata` header read; a longer one is a 400. */
const MAX_METADATA = 4096;
/** A metadata key: printable ASCII without spaces or commas (tus 1.0.0). */
const METADATA_KEY = /^[\x21-\x2b\x2d-\x7e]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const DIGITS = /^\d{1,16}$/;

const header = (request: FastifyRequest, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
};

/**
 * Every tus request but OPTIONS names the protocol version it speaks; another version or none is the
 * spec's 412, with the versions served in `Tus-Version`.
 */
export function requireTusVersion(request: FastifyRequest): void {
  if (header(request, 'tus-resumable') === TUS_VERSION) return;
  const err = new ApiError(412, `The Tus-Resumable header must be ${TUS_VERSION}.`);
  err.headers['tus-version'] = TUS_VERSION;
  throw err;
}

/** A non-negative whole number header (`Upload-Length`, `Upload-Offset`), or a 400 naming it. */
export function numberHeader(request: FastifyRequest, name: string): number {
  const value = header(request, name.toLowerCase());
  if (value === undefined) throw badRequest(`Missing ${name} header.`);
  const n = DIGITS.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!Number.isSafeInteger(n))
    throw badRequest(`Invalid ${name} header: a whole number of bytes was expected.`);
  return n;
}

export const hasHeader = (request: FastifyRequest, name: string) =>
  header(request, name.toLowerCase()) !== undefined;

/**
 * `Upload-Metadata`: comma-separated `key base64value` pairs (the value may be left out). Keys must be
 * unique and values valid base64 of UTF-8 text; anything else is a 400, never a guess.
 */
export function parseMetadata(request: FastifyRequest): Map<string, string> {
  const raw = header(request, 'upload-metadata');
  const metadata = new Map<string, string>();
  if (raw === undefined || raw.trim() === '') return metadata;
  const invalid = (why: string) => badRequest(`Invalid Upload-Metadata header: ${why}.`);
  if (raw.length > MAX_METADATA) throw invalid(`longer than ${MAX_METADATA} characters`);
  for (const pair of raw.split(',')) {
    const parts = pair.trim().split(' ');
    const [key = '', value = ''] = parts;
    if (parts.length > 2 || !METADATA_KEY.test(key)) throw invalid('each item must be "key base64value"');
    if (metadata.has(key)) throw invalid(`the key ${key} is given twice`);
    if (!BASE64.test(value)) throw invalid(`the value of ${key} is not base64`);
    const text = decodeUtf8(Buffer.from(value, 'base64'));
    if (text === undefined) throw invalid(`the value of ${key} is not UTF-8 text`);
    metadata.set(key, text);
  }
  return metadata;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
function decodeUtf8(bytes: Buffer): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** `Upload-Expires`, an HTTP date. */
export const httpDate = (epochMs: number) => new Date(epochMs).toUTCString();
