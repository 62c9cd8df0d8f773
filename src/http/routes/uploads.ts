import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, badRequest, notFound } from '../../errors/index.ts';
import { sniffMime, trackJob } from '../../lib/index.ts';
import { type AuthContext, maxFileSize, storedFileName, type Upload } from '../../records/index.ts';
import type { Collection, FieldDef } from '../../schema/index.ts';
import { callerOf } from '../caller.ts';
import type { HttpDeps } from '../context.ts';
import {
  hasHeader,
  httpDate,
  numberHeader,
  parseMetadata,
  requireTusVersion,
  TUS_BODY_TYPE,
  TUS_EXTENSIONS,
  TUS_VERSION,
} from '../tus/protocol.ts';
import { createTusStore, PastLength, type UploadInfo } from '../tus/store.ts';
import { lingerThenClose } from '../uploads.ts';

/** Where uploads are created: one record's file field. */
export const UPLOADS_ROUTE = '/api/plinth/uploads/:collection/:recordId/:field';
/** One upload, as the creation's `Location` names it (relative, so it works behind any host and prefix). */
const UPLOAD_ROUTE = `${UPLOADS_ROUTE}/:uploadId`;
/** An unfinished upload untouched for this long is dropped. */
export const UPLOAD_EXPIRY_MS = 24 * 3600_000;
const SWEEP_EVERY_MS = 3600_000;
/** Unfinished uploads one signed-in record, or one guest IP address, may have at once (superusers: any). */
export const MAX_PENDING_UPLOADS = 50;

type TargetParams = { collection: string; recordId: string; field: string };
type UploadParams = TargetParams & { uploadId: string };

/** Thrown by the dry run's `beforeWrite`: the caller may make the write; nothing is written. */
const DRY_RUN = Symbol('dry run');

/** A request refused before its body was read: the answer goes at once, the rest is dropped (uploads.ts). */
function dropRest(request: FastifyRequest): void {
  if (request.raw.complete) return;
  lingerThenClose(request);
}

const ownerOf = (auth: AuthContext) =>
  auth.collection ? `${auth.collection.id}/${auth.record?.id ?? ''}` : '';

const tooLarge = (field: FieldDef, name: string) => {
  const max = maxFileSize(field);
  return new ApiError(413, 'The file is larger than the field allows.', {
    [field.name]: {
      code: 'validation_file_size_limit',
      message: `Failed to upload ${name.slice(0, 300)} - the maximum allowed file size is ${max} bytes.`,
      params: { file: name.slice(0, 300), maxSize: max },
    },
  });
};

/**
 * Resumable uploads into a record's file field with the tus 1.0.0 protocol (core, creation, termination,
 * expiration), beyond PocketBase. An upload is created for one record's field by a caller the update rule
 * lets change it, receives its bytes in any number of PATCHes (each read outside an admission slot, cut
 * off past the declared length), and on its last byte is attached through the records service's update
 * with `field+`: the same rules, limits, hooks, realtime events and cleanup as a multipart upload.
 * docs/files.md describes it for users.
 */
export async function uploadRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  const { collections, records } = deps;
  const store = createTusStore(join(deps.config.dataDir, '.tus'), UPLOAD_EXPIRY_MS);
  const sweep = () =>
    trackJob(deps.jobs, 'tus_sweep', () => store.sweep()).catch((err) =>
      app.log.warn({ err }, 'tus sweep failed'),
    );
  await sweep();
  await store.load();
  const sweeper = setInterval(sweep, SWEEP_EVERY_MS);
  sweeper.unref();
  app.addHook('onClose', async () => clearInterval(sweeper));

  // PATCH bodies are streams to disk, never parsed nor buffered.
  app.addContentTypeParser(TUS_BODY_TYPE, (_request, _payload, done) => done(null, undefined));
  app.addHook('onRequest', async (request) => requireTusVersion(request));
  app.addHook('onSend', async (request, reply) => {
    reply.header('tus-resumable', TUS_VERSION);
    if (request.method === 'OPTIONS')
      discovery(request as FastifyRequest<{ Params: Partial<TargetParams> }>, reply);
    // Refused before its body was read (a 409, 412, 423...): the rest is not read, the connection closes.
    if (reply.statusCode >= 300) dropRest(request);
  });

  // tus discovery. Every OPTIONS is answered by the CORS hook before any handler runs; these routes only
  // make such a request belong to this plugin, so that its onSend hook adds the protocol's headers (a hook
  // on the root would cost every request of the server a call).
  const answered = async () => undefined;
  app.options(UPLOADS_ROUTE, answered);
  app.options(UPLOAD_ROUTE, answered);
  function discovery(request: FastifyRequest<{ Params: Partial<TargetParams> }>, reply: FastifyReply): void {
    reply.header('tus-version', TUS_VERSION);
    reply.header('tus-extension', TUS_EXTENSIONS);
    const { collection = '', field = '' } = request.params;
    const def = collections.find(collection)?.fields.find((f) => f.name === field && f.type === 'file');
    if (def) reply.header('tus-max-size', String(maxFileSize(def)));
  }

  /**
   * Whether the caller may add a file to the record's field, asked the records service's update path
   * with a stand-in file that is never stored: `beforeWrite` throws once the rule, the record and the
   * field's count allow it. Its type is one the field accepts: the real one is known only at the end.
   */
  async function checkMayAttach(
    request: FastifyRequest,
    collection: Collection,
    recordId: string,
    field: FieldDef | undefined,
    length: number,
    filename: string,
  ): Promise<void> {
    const mime = ((field?.mimeTypes as string[] | undefined) ?? [])[0] ?? 'application/octet-stream';
    const name = storedFileName(filename, mime);
    const stand: Upload = { name, originalName: filename, path: '', size: length, mime };
    const isFile = field?.type === 'file';
    try {
      await records.update(
        collection,
        recordId,
        isFile ? { [`${field.name}+`]: [name] } : {},
        callerOf(request),
        {
          uploads: new Map(isFile ? [[name, stand]] : []),
          beforeWrite: () => {
            throw DRY_RUN;
          },
        },
      );
    } catch (err) {
      if (err !== DRY_RUN) throw err;
    }
  }

  /** `POST`: creates an upload of `Upload-Length` bytes (metadata `filename`) for the record's field. */
  app.post<{ Params: TargetParams }>(UPLOADS_ROUTE, async (request, reply) => {
    const { recordId } = request.params;
    const collection = collections.get(request.params.collection);
    if (hasHeader(request, 'Upload-Defer-Length'))
      throw badRequest('Upload-Defer-Length is not supported: send Upload-Length.');
    if (
      request.headers['content-type']?.startsWith(TUS_BODY_TYPE) &&
      request.headers['content-length'] !== '0'
    ) {
      throw badRequest('Creation with upload is not supported: send the bytes with PATCH.');
    }
    const length = numberHeader(request, 'Upload-Length');
    const metadata = parseMetadata(request);
    const filename = metadata.get('filename') ?? metadata.get('name') ?? '';
    const field = collection.fields.find((f) => f.name === request.params.field);
    const fit = field?.type === 'file' ? Math.min(length, maxFileSize(field)) : length;
    await checkMayAttach(request, collection, recordId, field, fit, filename);
    if (!field) throw notFound(`The collection has no field ${request.params.field.slice(0, 100)}.`);
    if (field.type !== 'file') throw badRequest(`The field ${field.name} is not a file field.`);
    if (length === 0) throw badRequest('Empty files cannot be uploaded this way.');
    if (length > maxFileSize(field)) throw tooLarge(field, filename);
    const quota = request.auth.collection ? ownerOf(request.auth) : `ip:${request.ip}`;
    if (!request.auth.isSuperuser && store.pendingOf(quota) >= MAX_PENDING_UPLOADS)
      throw new ApiError(
        429,
        `Too many unfinished uploads (${MAX_PENDING_UPLOADS}): finish or delete some, or wait for them to expire.`,
      );
    const info = await store.create({
      collectionId: collection.id,
      recordId,
      field: field.name,
      length,
      filename,
      owner: ownerOf(request.auth),
      quota,
    });
    return reply
      .code(201)
      .header('location', `${encodeURIComponent(field.name)}/${info.id}`)
      .header('upload-expires', httpDate(info.expiresAt))
      .send();
  });

  /** The upload the URL names, if it is the caller's and targets the URL's record and field; else 404. */
  async function uploadOf(request: FastifyRequest<{ Params: UploadParams }>) {
    const { collection: idOrName, recordId, field, uploadId } = request.params;
    const found = await store.get(uploadId);
    const collection = collections.find(idOrName);
    if (
      !found ||
      !collection ||
      found.info.collectionId !== collection.id ||
      found.info.recordId !== recordId ||
      found.info.field !== field ||
      found.info.owner !== ownerOf(request.auth)
    )
      throw notFound();
    return { ...found, collection };
  }

  /** Runs `work` holding the upload's lock, or answers 423 (tus clients retry it) while another has it. */
  async function locked<T>(id: string, work: () => Promise<T>): Promise<T> {
    const outcome = await store.withLock(id, work);
    if (outcome.done) return outcome.value;
    throw new ApiError(423, 'Another request is using this upload; try again shortly.');
  }

  /** `HEAD`: how far the upload has come (`Upload-Offset`), to resume from there. */
  app.head<{ Params: UploadParams }>(UPLOAD_ROUTE, async (request, reply) => {
    const { info, offset } = await uploadOf(request);
    return reply
      .code(200)
      .header('upload-offset', String(offset))
      .header('upload-length', String(info.length))
      .header('upload-expires', httpDate(info.expiresAt))
      .header('cache-control', 'no-store')
      .send();
  });

  /** `DELETE`: termination; the bytes go at once. */
  app.delete<{ Params: UploadParams }>(UPLOAD_ROUTE, async (request, reply) => {
    const { info } = await uploadOf(request);
    await locked(info.id, () => store.remove(info.id));
    return reply.code(204).send();
  });

  /**
   * `PATCH`: appends the body at `Upload-Offset` (409 unless it is the offset the server has). The body is
   * read outside an admission slot; a body past `Upload-Length` is a 413 and none of it is kept. The last
   * byte attaches the file (`Plinth-File-Name` tells its stored name); a PATCH with no bytes on a complete
   * upload tries that again (after a 5xx, say).
   */
  app.patch<{ Params: UploadParams }>(UPLOAD_ROUTE, async (request, reply) => {
    if (request.headers['content-type']?.split(';')[0]?.trim().toLowerCase() !== TUS_BODY_TYPE)
      throw new ApiError(415, `Unsupported Content-Type; send ${TUS_BODY_TYPE}.`);
    const claimed = numberHeader(request, 'Upload-Offset');
    const { info, collection } = await uploadOf(request);
    const result = await locked(info.id, async () => {
      const current = await store.get(info.id);
      if (!current) throw notFound();
      const { offset } = current;
      if (claimed !== offset) {
        throw new ApiError(409, `Upload-Offset must be ${offset}, the bytes received so far.`);
      }
      const declared = request.headers['content-length'];
      if (declared !== undefined && offset + Number(declared) > info.length) {
        throw new ApiError(413, "The body goes past the upload's Upload-Length.");
      }
      const end = await request.server.admission.outsideSlot(reply, () =>
        receive(request, current.info, offset),
      );
      if (end < info.length) return { end, expiresAt: current.info.expiresAt, name: undefined };
      return {
        end,
        expiresAt: current.info.expiresAt,
        name: await attach(request, collection, current.info),
      };
    });
    reply.header('upload-offset', String(result.end));
    if (result.name) reply.header('plinth-file-name', result.name);
    else reply.header('upload-expires', httpDate(result.expiresAt));
    return reply.code(204).send();
  });

  /** Streams the PATCH body to the upload; a client that goes away keeps what arrived. */
  async function receive(request: FastifyRequest, info: UploadInfo, offset: number): Promise<number> {
    try {
      return await store.append(info, offset, request.raw);
    } catch (err) {
      if (err instanceof PastLength) {
        throw new ApiError(413, "The body goes past the upload's Upload-Length.");
      }
      if (!request.raw.complete) throw badRequest('The upload was interrupted.');
      throw err;
    }
  }

  /**
   * Attaches the complete upload to its record: type sniffed from the bytes, name made from the client's,
   * then the records service's update with `field+`. A refusal (4xx: the rule, the type, maxSelect) removes
   * the upload; a failure of the server keeps it, to be tried again with an empty PATCH.
   */
  async function attach(request: FastifyRequest, collection: Collection, info: UploadInfo): Promise<string> {
    const mime = await sniffMime(await store.head(info.id));
    const name = storedFileName(info.filename, mime);
    const upload: Upload = {
      name,
      originalName: info.filename,
      path: store.dataPath(info.id),
      size: info.length,
      mime,
    };
    try {
      await records.update(collection, info.recordId, { [`${info.field}+`]: [name] }, callerOf(request), {
        uploads: new Map([[name, upload]]),
      });
    } catch (err) {
      if (err instanceof ApiError && err.status < 500 && err.status !== 429) await store.remove(info.id);
      throw err;
    }
    await store.remove(info.id);
    return name;
  }
}
