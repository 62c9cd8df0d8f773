import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ArchiveError, BackupBusyError, type BackupService, STORED_KEY } from '../../backups/index.ts';
import { ApiError, badRequest, fieldError } from '../../errors/index.ts';
import type { HttpDeps } from '../context.ts';
import { queryString, requireSuperuser } from '../context.ts';
import { superuserIpCheck } from '../superuser-ips.ts';
import { discardSpooled, readMultipartOutsideSlot } from '../uploads.ts';

/** PocketBase's rule for names given to `POST /api/backups`. */
const CREATE_NAME = /^[a-z0-9_-]+\.zip$/;
/** The archive format's own limit (no Zip64): a bigger upload cannot be a Plinth backup. */
const MAX_UPLOAD = 4 * 1024 * 1024 * 1024;

type KeyParams = { key: string };

const invalid = (field: string, code: string, message: string) =>
  badRequest('An error occurred while validating the submitted data.', {
    [field]: fieldError(code, message),
  });

/** Archive problems and "busy" are the client's to fix: 400 with the reason; anything else stays a 500. */
function asClientError(err: unknown): unknown {
  return err instanceof ArchiveError || err instanceof BackupBusyError ? badRequest(err.message) : err;
}

/**
 * PocketBase's backup routes (superusers only; the download takes a superuser file token in `?token=`).
 * Differences, in docs/backups.md: a restore is verified before the 204 (a damaged archive is a 400, not a
 * line in the log), and the app reopens in the same process instead of re-executing itself.
 */
export async function backupRoutes(app: FastifyInstance, deps: HttpDeps & { backups: BackupService }) {
  const { backups } = deps;
  const superuserAllowed = superuserIpCheck(deps.settings);
  const spoolDir = join(deps.config.dataDir, '.uploads');
  mkdirSync(spoolDir, { recursive: true, mode: 0o700 });
  await app.register(multipart, { limits: { fields: 10, parts: 20, fileSize: MAX_UPLOAD } });

  app.get('/api/backups', async (request) => {
    requireSuperuser(request);
    return backups.list();
  });

  app.post('/api/backups', async (request, reply) => {
    requireSuperuser(request);
    if (backups.busy())
      throw badRequest('Try again later - another backup/restore process has already been started.');
    const body = (request.body ?? {}) as { name?: unknown };
    let key = body.name;
    if (key === undefined || key === null || key === '') key = defaultName();
    if (typeof key !== 'string' || key.length > 150 || !CREATE_NAME.test(key))
      throw invalid('name', 'validation_match_invalid', 'Must be in a valid format.');
    if ((await backups.size(key)) !== undefined)
      throw invalid(
        'name',
        'validation_backup_name_exists',
        'The backup file name is invalid or already exists.',
      );
    const name = key;
    // Minutes on a big database: the request waits without holding an admission slot.
    await app.admission
      .outsideSlot(reply, () => backups.create(name))
      .catch((err) => {
        throw asClientError(err);
      });
    return reply.code(204).send();
  });

  app.post('/api/backups/upload', async (request, reply) => {
    requireSuperuser(request);
    if (!request.isMultipart()) throw invalid('file', 'validation_required', 'Cannot be blank.');
    const form = await readMultipartOutsideSlot(request, reply, {
      spoolDir,
      maxFileSize: (field) => (field === 'file' ? MAX_UPLOAD : undefined),
      maxTotal: MAX_UPLOAD,
      maxFiles: 1,
      tooLarge: () => new ApiError(413, 'Request entity too large.'),
    });
    try {
      const file = form.files.find((f) => f.key === 'file');
      if (!file) throw invalid('file', 'validation_required', 'Cannot be blank.');
      if (file.mime !== 'application/zip')
        throw invalid(
          'file',
          'validation_invalid_mime_type',
          '"application/zip" is the only allowed mime type.',
        );
      if (!STORED_KEY.test(file.originalName))
        throw invalid(
          'file',
          'validation_invalid_name',
          'The file name must be letters, digits, "_", "-" or "." and end with ".zip".',
        );
      if ((await backups.size(file.originalName)) !== undefined)
        throw invalid(
          'file',
          'validation_backup_name_exists',
          'Backup file with the specified name already exists.',
        );
      await backups.adopt(file.originalName, file.path).catch((err) => {
        throw asClientError(err);
      });
    } finally {
      await discardSpooled(form.files);
    }
    return reply.code(204).send();
  });

  app.get<{ Params: KeyParams }>('/api/backups/:key', async (request, reply) => {
    const token = queryString(request.query, 'token');
    const caller = token ? await deps.auth.fileTokenAuth(token) : undefined;
    if (!caller?.isSuperuser || !superuserAllowed(request))
      throw new ApiError(403, 'Insufficient permissions to access the resource.');
    const size = await backups.size(request.params.key);
    const body = size === undefined ? undefined : await backups.open(request.params.key);
    if (!body) throw new ApiError(404);
    reply.header('content-type', 'application/zip');
    reply.header('content-length', String(size));
    reply.header('content-disposition', `attachment; filename="${request.params.key}"`);
    return reply.send(body);
  });

  app.delete<{ Params: KeyParams }>('/api/backups/:key', async (request, reply) => {
    requireSuperuser(request);
    if (backups.active() === request.params.key)
      throw badRequest('The backup is currently being used and cannot be deleted.');
    if (!(await backups.remove(request.params.key)))
      throw badRequest('Invalid or already deleted backup file.');
    return reply.code(204).send();
  });

  app.post<{ Params: KeyParams }>('/api/backups/:key/restore', async (request, reply) => {
    requireSuperuser(request);
    if (backups.busy())
      throw badRequest('Try again later - another backup/restore process has already been started.');
    if ((await backups.size(request.params.key)) === undefined)
      throw badRequest('Missing or invalid backup file.');
    await app.admission
      .outsideSlot(reply, () => backups.restore(request.params.key))
      .catch((err) => {
        throw asClientError(err);
      });
    // The answer goes first; then the app closes (draining requests) and reopens on the restored data.
    reply.raw.once('finish', () => restartSoon(request, backups));
    return reply.code(204).send();
  });
}

function restartSoon(request: FastifyRequest, backups: BackupService): void {
  if (backups.onRestart) setTimeout(() => backups.onRestart?.(), 100).unref();
  else request.log.warn('a restore is staged; it is applied when the server next starts');
}

/** PocketBase's default name, with Plinth's prefix: `plinth_backup_20240102150405.zip` (UTC). */
function defaultName(): string {
  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `plinth_backup_${stamp}.zip`;
}
