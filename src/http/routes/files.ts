import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { notFound } from '../../errors/index.ts';
import { fileKey, GUEST, thumbsPrefix } from '../../records/index.ts';
import type { Collection } from '../../schema/index.ts';
import type { BlobInfo, FileStorage } from '../../storage/index.ts';
import { requestDetails } from '../caller.ts';
import type { HttpDeps } from '../context.ts';
import { queryString } from '../context.ts';
import { parseRange } from '../range.ts';
import { superuserIpCheck } from '../superuser-ips.ts';
import { createThumbnailer, thumbSize } from '../thumbs.ts';

type FileParams = { collection: string; recordId: string; filename: string };

/** Types a browser may show in place; anything else is offered as a download. */
const INLINE = new Set([
  'image/png',
  'image/jpg',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/x-icon',
  'image/bmp',
  'video/webm',
  'video/mp4',
  'video/3gpp',
  'video/quicktime',
  'video/x-ms-wmv',
  'audio/basic',
  'audio/aiff',
  'audio/mpeg',
  'audio/midi',
  'audio/mp3',
  'audio/wave',
  'audio/wav',
  'audio/x-wav',
  'audio/x-mpeg',
  'audio/x-m4a',
  'audio/aac',
  'application/pdf',
  'application/x-pdf',
]);
/** Every file: no script runs, no request leaves, even for an SVG or HTML someone uploaded. */
const SANDBOX = "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; sandbox";
const CACHE = 'max-age=2592000, stale-while-revalidate=86400';
/** What Go's ParseBool reads as true (PocketBase's `download`). */
const TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);

export async function fileRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  const { collections, records, storage, auth } = deps;
  const superuserAllowed = superuserIpCheck(deps.settings);
  const thumbs = createThumbnailer(storage, app.log);

  /** `POST /api/files/token`: a short-lived token for protected files, for any signed-in record. */
  app.post('/api/files/token', async (request) => auth.fileToken(request.auth));

  /**
   * A protected file is served when the collection's view rule lets the file token's record (or a guest,
   * without one) see the record, with `@request.context` "protectedFile". Only `?token=` counts, never the
   * Authorization header (PocketBase's rule: file URLs are shared, headers are not).
   */
  async function mayOpenProtected(request: FastifyRequest, collection: Collection, id: string) {
    const token = queryString(request.query, 'token');
    let caller = (token && (await auth.fileTokenAuth(token))) || GUEST;
    if (caller.isSuperuser && !superuserAllowed(request)) caller = GUEST;
    return records.meetsRule(collection, 'viewRule', id, {
      ...caller,
      request: requestDetails(request, 'protectedFile'),
    });
  }

  /**
   * `GET /api/files/{collection}/{record}/{name}`, PocketBase's order of checks: the collection, the record,
   * a file field holding that name; anything missing is the same 404. Public files need no rule.
   */
  app.get<{ Params: FileParams }>('/api/files/:collection/:recordId/:filename', async (request, reply) => {
    const { collection: idOrName, recordId, filename } = request.params;
    const collection = collections.find(idOrName);
    if (!collection || !recordId) throw notFound();
    const record = await records.find(collection, recordId);
    if (!record) throw notFound();
    const field = collection.fields.find(
      (f) => f.type === 'file' && ([] as unknown[]).concat(record[f.name] ?? []).includes(filename),
    );
    if (!field) throw notFound();
    if (field.protected && !(await mayOpenProtected(request, collection, recordId))) throw notFound();
    const key = fileKey(collection, recordId, filename);
    const info = await storage.stat(key);
    if (!info) throw notFound();
    const size = thumbSize(field, queryString(request.query, 'thumb'), info.contentType);
    if (size) {
      const thumbKey = `${thumbsPrefix(collection, recordId, filename)}/${size}_${filename}`;
      // Made on first request and kept; if it cannot be made, the original is served (PocketBase does too).
      // The thumbnailer has its own cap on work at once: a request waiting for it holds no admission slot,
      // so a burst of new thumbnails never keeps other requests out.
      const made =
        (await storage.stat(thumbKey)) ??
        ((await app.admission.outsideSlot(reply, () => thumbs.make({ key, ...info }, thumbKey, size)))
          ? await storage.stat(thumbKey)
          : undefined);
      if (made) return serve(request, reply, storage, thumbKey, `${size}_${filename}`, made);
    }
    return serve(request, reply, storage, key, filename, info);
  });
}

async function serve(
  request: FastifyRequest,
  reply: FastifyReply,
  storage: FileStorage,
  key: string,
  name: string,
  info: BlobInfo,
): Promise<FastifyReply> {
  const type = info.contentType;
  const bare = (type.split(';')[0] as string).trim().toLowerCase();
  const attachment = !INLINE.has(bare) || TRUE.has(queryString(request.query, 'download') ?? '');
  reply
    .header('content-type', type)
    .header('content-disposition', `${attachment ? 'attachment' : 'inline'}; filename="${name}"`)
    .header('content-security-policy', SANDBOX)
    .header('cache-control', CACHE)
    .header('last-modified', info.modified.toUTCString())
    .header('etag', info.etag)
    .header('accept-ranges', 'bytes');
  if (notModified(request, info.etag, info.modified)) return reply.code(304).send();
  const ifRange = request.headers['if-range'];
  const range = parseRange(
    request.headers.range,
    info.size,
    typeof ifRange === 'string' ? ifRange : undefined,
    info.etag,
  );
  if (range === 'unsatisfiable')
    return reply.code(416).header('content-range', `bytes */${info.size}`).send();
  const body = await storage.read(key, range);
  if (!body) throw notFound();
  if (range) {
    reply
      .code(206)
      .header('content-range', `bytes ${range.start}-${range.end}/${info.size}`)
      .header('content-length', range.end - range.start + 1);
  } else reply.header('content-length', info.size);
  return reply.send(body);
}

/** `If-None-Match` (wins when sent) or `If-Modified-Since`, as HTTP caches use them. */
function notModified(request: FastifyRequest, etag: string, modified: Date): boolean {
  const match = request.headers['if-none-match'];
  if (match) return match.split(',').some((tag) => tag.trim() === etag || tag.trim() === '*');
  const since = Date.parse(request.headers['if-modified-since'] ?? '');
  return Number.isFinite(since) && Math.floor(modified.getTime() / 1000) * 1000 <= since;
}
