import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, badRequest, type FieldError, forbidden } from '../../errors/index.ts';
import { isPlainObject } from '../../lib/index.ts';
import type { AuthContext, RecordOperations, RequestDetails } from '../../records/index.ts';
import type { Collection } from '../../schema/index.ts';
import { callerOf, requestDetails } from '../caller.ts';
import type { HttpDeps } from '../context.ts';
import { recordOutput } from '../output.ts';
import { attachFiles, fileFieldOf } from '../record-body.ts';
import { discardSpooled, readMultipartOutsideSlot, type SpooledFile } from '../uploads.ts';

// `POST /api/batch`: several record writes in one transaction, all or nothing, each checked against its
// own collection's rules as the caller, answered with one `{status, body}` per request, in order.

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const MAX_URL_LENGTH = 2000;
/** When the settings give none (PocketBase's fallbacks). */
const DEFAULT_TIMEOUT_S = 3;
const DEFAULT_MAX_FORM = 128 << 20;
/** The most files one batch form may carry. */
const MAX_FILES = 1000;
/** A file's form key: `requests.N.field` or `requests[N].field` (PocketBase takes both). */
const FILE_KEY = /^requests(?:\.(\d+)\.|\[(\d+)\]\.?)(.+)$/;

interface SubRequest {
  method: string;
  url: string;
  body: Record<string, unknown>;
  headers: Record<string, string>;
  /** The files sent for this request, each under its field's key (`documents`, `documents+`). */
  files: SpooledFile[];
}

interface Result {
  body: unknown;
  status: number;
}

/** What a request of the batch does, read from its method and URL. */
type Action =
  | { kind: 'create' | 'upsert'; collection: string; query: URLSearchParams }
  | { kind: 'update' | 'delete'; collection: string; id: string; query: URLSearchParams };

const LIST_URL = /^\/api\/collections\/([^/?]+)\/records(\?.*)?$/;
const RECORD_URL = /^\/api\/collections\/([^/?]+)\/records\/([^/?]+)(\?.*)?$/;

export async function batchRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  const { settings, records, collections } = deps;
  const output = recordOutput(records);
  // The SDK sends a batch as a multipart form (its JSON in `@jsonPayload`, files under `requests.N.field`):
  // parsed here only, for this route. Its files are bounded by `formLimit()`, its values by the body limit.
  await app.register(multipart, {
    limits: {
      fieldSize: deps.config.bodyLimit,
      fields: 10,
      parts: MAX_FILES + 10,
      fileSize: Number.MAX_SAFE_INTEGER,
    },
  });
  const spoolDir = join(deps.config.dataDir, '.uploads');
  mkdirSync(spoolDir, { recursive: true, mode: 0o700 });
  /** The settings' `maxBodySize`, or PocketBase's 128 MiB when it is 0 (JSON bodies also meet the server's). */
  const formLimit = () => {
    const limit = settings.get().batch.maxBodySize;
    return limit > 0 ? limit : DEFAULT_MAX_FORM;
  };

  app.post(
    '/api/batch',
    {
      // The settings' own body limit, checked on the declared length before the body is read.
      onRequest: async (request) => {
        const length = Number(request.headers['content-length'] ?? 0);
        if (length > formLimit()) throw new ApiError(413, 'Request entity too large.');
      },
    },
    async (request, reply) => {
      const config = settings.get().batch;
      if (!config.enabled || config.maxRequests <= 0) throw forbidden('Batch requests are not allowed.');
      if (!request.isMultipart()) return runBatch(request, readBatch(request.body, config.maxRequests, []));
      const form = await readForm(request, reply);
      try {
        return await runBatch(request, readBatch(form.body, config.maxRequests, form.files));
      } finally {
        await discardSpooled(form.files);
      }
    },
  );

  /** Reads a batch sent as a form, its files spooled to disk (the upload holds no admission slot). */
  function readForm(request: FastifyRequest, reply: FastifyReply) {
    const limit = formLimit();
    return readMultipartOutsideSlot(request, reply, {
      spoolDir,
      // Which collection a file goes to is in `@jsonPayload`, which the SDK sends last: while the form
      // streams in, only the whole form's limit applies; each file meets its field's when its request runs.
      maxFileSize: (key) => (FILE_KEY.test(key) ? limit : undefined),
      maxTotal: limit,
      maxFiles: MAX_FILES,
      tooLarge: () => new ApiError(413, 'Request entity too large.'),
    });
  }

  async function runBatch(request: FastifyRequest, requests: SubRequest[]) {
    const config = settings.get().batch;
    const timeoutMs = (config.timeout > 0 ? config.timeout : DEFAULT_TIMEOUT_S) * 1000;
    const deadline = performance.now() + timeoutMs;
    const base = callerOf(request);
    const baseDetails = requestDetails(request, 'batch');

    return records.transaction(async (ops) => {
      const results: Result[] = [];
      for (const [i, sub] of requests.entries()) {
        // Checked between requests and before the commit: past it, or with the client gone, all is undone.
        if (performance.now() > deadline || gone(request)) throw transactionFailed();
        try {
          results.push(await runOne(ops, sub, (method) => callerFor(base, baseDetails, sub, method)));
        } catch (err) {
          if (err instanceof ApiError) throw requestFailed(i, err);
          throw err;
        }
      }
      if (performance.now() > deadline || gone(request)) throw transactionFailed();
      return results;
    });
  }

  async function runOne(
    ops: RecordOperations,
    sub: SubRequest,
    callerAs: (method: string) => AuthContext,
  ): Promise<Result> {
    const action = actionOf(sub);
    const collection = collections.get(action.collection);
    const out = output(collection, action.query);
    let kind = action.kind;
    let id = 'id' in action ? action.id : '';
    if (kind === 'upsert') {
      // An upsert with the id of an existing record updates it; otherwise it creates one.
      const given = sub.body.id;
      const existing = typeof given === 'string' && given !== '' && (await ops.find(collection, given));
      kind = existing ? 'update' : 'create';
      id = existing ? given : '';
    }
    // Rules see the method the request is run as (an upsert is a POST or a PATCH).
    const caller = callerAs(kind === 'update' ? 'PATCH' : kind === 'create' ? 'POST' : sub.method);
    if (kind === 'delete') {
      await ops.remove(collection, id, caller);
      return { status: 204, body: null };
    }
    // A copy: the transaction may run again (the engine asks for a retry), and the names are new each time.
    const body = { ...sub.body };
    const uploads = attachFiles(body, filesFor(collection, sub.files));
    const record =
      kind === 'create'
        ? await ops.create(collection, body, caller, { uploads })
        : await ops.update(collection, id, body, caller, { uploads });
    return { status: 200, body: await out([record], record, caller, ops) };
  }
}

/** The caller of one request of the batch: the batch's own identity, with that request's method, query and headers. */
function callerFor(base: AuthContext, details: RequestDetails, sub: SubRequest, method: string): AuthContext {
  const headers = { ...details.headers };
  for (const [name, value] of Object.entries(sub.headers)) {
    // The identity is the batch's: a request's own Authorization header is ignored, as in PocketBase.
    if (name.toLowerCase() === 'authorization') continue;
    headers[name.toLowerCase().replaceAll('-', '_')] = value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of new URL(sub.url, 'http://batch').searchParams) query[name] ??= value;
  return {
    collection: base.collection,
    record: base.record,
    isSuperuser: base.isSuperuser,
    sessionId: base.sessionId,
    refreshable: base.refreshable,
    ticket: base.ticket,
    request: { method, headers, query, context: 'batch' },
  };
}

function actionOf(sub: SubRequest): Action {
  const list = LIST_URL.exec(sub.url);
  const one = list ? null : RECORD_URL.exec(sub.url);
  const query = new URLSearchParams((list?.[2] ?? one?.[3] ?? '').slice(1));
  try {
    if (list && (sub.method === 'POST' || sub.method === 'PUT'))
      return {
        kind: sub.method === 'POST' ? 'create' : 'upsert',
        collection: decodeURIComponent(list[1] as string),
        query,
      };
    if (one && (sub.method === 'PATCH' || sub.method === 'DELETE'))
      return {
        kind: sub.method === 'PATCH' ? 'update' : 'delete',
        collection: decodeURIComponent(one[1] as string),
        id: decodeURIComponent(one[2] as string),
        query,
      };
  } catch {
    // A malformed %-escape: no action matches it.
  }
  // PocketBase's answer for a request it has no batch action for: a generic 400.
  throw new ApiError(400, 'Something went wrong while processing your request.');
}

/** The client has closed its connection (the request object itself ends once its body is read). */
const gone = (request: FastifyRequest) => request.socket.destroyed;

/** The files sent to a file field of `collection`; others are ignored, as a record route ignores them. */
const filesFor = (collection: Collection, files: SpooledFile[]) =>
  files.filter((file) => fileFieldOf(collection, file.key));

/**
 * Reads and checks `{requests: [...]}`; every problem of every request is reported at once, by index.
 * Each file of the form goes to the request its key names, under the rest of the key.
 */
function readBatch(body: unknown, max: number, files: readonly SpooledFile[]): SubRequest[] {
  const list = isPlainObject(body) ? body.requests : undefined;
  if (!Array.isArray(list) || list.length === 0)
    throw badRequest('Invalid batch request data.', {
      requests: { code: 'validation_required', message: 'Cannot be blank.' },
    });
  if (list.length > max)
    throw badRequest('Invalid batch request data.', {
      requests: { code: 'validation_length_too_long', message: `The length must be no more than ${max}.` },
    });
  const errors: Record<string, Record<string, { code: string; message: string }>> = {};
  const requests = list.map((item, i): SubRequest => {
    const problems: Record<string, { code: string; message: string }> = {};
    const r = isPlainObject(item) ? item : {};
    const method = typeof r.method === 'string' ? r.method.toUpperCase() : '';
    const url = typeof r.url === 'string' ? r.url : '';
    if (!method) problems.method = { code: 'validation_required', message: 'Cannot be blank.' };
    else if (!METHODS.includes(method))
      problems.method = { code: 'validation_in_invalid', message: 'Must be a valid value.' };
    if (!url) problems.url = { code: 'validation_required', message: 'Cannot be blank.' };
    else if (url.length > MAX_URL_LENGTH)
      problems.url = {
        code: 'validation_length_too_long',
        message: `The length must be no more than ${MAX_URL_LENGTH}.`,
      };
    if (r.body !== undefined && r.body !== null && !isPlainObject(r.body))
      problems.body = { code: 'validation_invalid_value', message: 'Must be an object.' };
    const headers = isPlainObject(r.headers) ? r.headers : {};
    if (
      (r.headers !== undefined && r.headers !== null && !isPlainObject(r.headers)) ||
      Object.values(headers).some((v) => typeof v !== 'string')
    )
      problems.headers = { code: 'validation_invalid_value', message: 'Must be an object of strings.' };
    if (Object.keys(problems).length) errors[String(i)] = problems;
    return {
      method,
      url,
      body: isPlainObject(r.body) ? r.body : {},
      headers: headers as Record<string, string>,
      files: [],
    };
  });
  for (const file of files) {
    const [, dotted, bracketed, key] = FILE_KEY.exec(file.key) as RegExpExecArray;
    requests[Number(dotted ?? bracketed)]?.files.push({ ...file, key: key as string });
  }
  if (Object.keys(errors).length) throw badRequest('Invalid batch request data.', { requests: errors });
  return requests;
}

/** Request `i` failed: the whole batch is undone, and the answer names it with the request's own error. */
function requestFailed(i: number, err: ApiError): ApiError {
  const failed = { code: 'batch_request_failed', message: 'Batch request failed.', response: err.toJSON() };
  return badRequest('Batch transaction failed.', { requests: { [String(i)]: failed as FieldError } });
}

const transactionFailed = () => badRequest('Batch transaction failed.');
