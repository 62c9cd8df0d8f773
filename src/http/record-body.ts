import { mkdirSync } from 'node:fs';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { badRequest } from '../errors/index.ts';
import { maxFileSize, storedFileName, type Upload } from '../records/index.ts';
import type { Collection, FieldDef } from '../schema/index.ts';
import { discardSpooled, readMultipartOutsideSlot, type SpooledFile } from './uploads.ts';

/** A create or update body, with the files that came with it. `done()` removes their spool files. */
export interface RecordBody {
  body: unknown;
  uploads?: Map<string, Upload>;
  done(): Promise<void>;
}

/** The file field a form key sends files to: `name`, `+name` or `name+` (PocketBase's keys for files). */
export function fileFieldOf(collection: Collection, key: string): FieldDef | undefined {
  const name = key.startsWith('+') ? key.slice(1) : key.endsWith('+') ? key.slice(0, -1) : key;
  return collection.fields.find((f) => f.name === name && f.type === 'file');
}

const slots = (field: FieldDef) => Math.max(Number(field.maxSelect) || 0, 1);

/** `["a.png"]`, `"a.png"`, `""`, or nothing, as the names it holds. */
function namesIn(value: unknown): unknown[] {
  if (value === undefined || value === null || value === '') return [];
  if (Array.isArray(value)) return value;
  if (typeof value === 'string' && value.trim().startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(value);
      if (Array.isArray(parsed)) return parsed;
    } catch {
      /* a name that starts with "[" */
    }
  }
  return [value];
}

/**
 * Reads a record route's body: JSON as it is, or a multipart form whose files are spooled under
 * `spoolDir` and named as they will be stored (see {@link attachFiles}).
 */
export function recordBodies(spoolDir: string) {
  mkdirSync(spoolDir, { recursive: true, mode: 0o700 });
  return async (
    request: FastifyRequest,
    reply: FastifyReply,
    collection: Collection,
    failure: string,
  ): Promise<RecordBody> => {
    // No body at all (no Content-Type) is `{}`, as PocketBase reads it; a JSON `null` is not an object (400).
    if (!request.isMultipart())
      return { body: request.body === undefined ? {} : request.body, done: async () => {} };
    const fileFields = collection.fields.filter((f) => f.type === 'file');
    const { body, files } = await readMultipartOutsideSlot(request, reply, {
      spoolDir,
      maxFileSize: (key) => {
        const field = fileFieldOf(collection, key);
        return field && maxFileSize(field);
      },
      maxTotal: fileFields.reduce((sum, f) => sum + maxFileSize(f) * slots(f), 0),
      maxFiles: fileFields.reduce((sum, f) => sum + slots(f), 0),
      // The field error checkFiles would give, at once: the rest of a file past its limit is never read.
      tooLarge: (key, originalName, max) =>
        badRequest(failure, {
          [(fileFieldOf(collection, key) as FieldDef).name]: {
            code: 'validation_file_size_limit',
            message: `Failed to upload ${originalName.slice(0, 300)} - the maximum allowed file size is ${max} bytes.`,
            params: { file: originalName.slice(0, 300), maxSize: max },
          },
        }),
    });
    return { body, uploads: attachFiles(body, files), done: () => discardSpooled(files) };
  };
}

/**
 * Names each spooled file as it will be stored and adds the name to `body` under the key it came with,
 * after the names sent there (PocketBase keeps those in front, so that an upload to `documents` does not
 * drop files the client meant to keep); `documents+` and `+documents` append and prepend as modifiers do.
 * Answers the uploads by their stored name.
 */
export function attachFiles(
  body: Record<string, unknown>,
  files: readonly SpooledFile[],
): Map<string, Upload> {
  const uploads = new Map<string, Upload>();
  const added = new Map<string, string[]>();
  for (const file of files) {
    const name = storedFileName(file.originalName, file.mime);
    uploads.set(name, {
      name,
      originalName: file.originalName,
      path: file.path,
      size: file.size,
      mime: file.mime,
    });
    added.set(file.key, [...(added.get(file.key) ?? []), name]);
  }
  for (const [key, names] of added) body[key] = [...namesIn(body[key]), ...names];
  return uploads;
}
