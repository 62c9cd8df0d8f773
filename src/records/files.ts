import { randomInt } from 'node:crypto';
import type { FieldError } from '../errors/index.ts';
import type { Collection, FieldDef } from '../schema/index.ts';

/** A file sent with a create or update, spooled to a local file and sniffed; stored once the write is valid. */
export interface Upload {
  /** The name it is stored and listed under (see {@link storedFileName}). */
  name: string;
  /** The name the client gave. */
  originalName: string;
  /** The spool file holding its bytes. */
  path: string;
  size: number;
  /** Sniffed from the content. */
  mime: string;
}

/** The new files of one write, by their stored name. */
export type Uploads = ReadonlyMap<string, Upload>;

/** PocketBase's default `maxSize` (a field's `0`): 5 MiB. */
export const DEFAULT_MAX_FILE_SIZE = 5 << 20;

export const maxFileSize = (field: FieldDef) =>
  Number(field.maxSize) > 0 ? Number(field.maxSize) : DEFAULT_MAX_FILE_SIZE;

/** Where a record's file is stored; its thumbnails go under `thumbs_<name>/` beside it. */
export const fileKey = (collection: Collection, recordId: string, name: string) =>
  `${collection.id}/${recordId}/${name}`;

export const thumbsPrefix = (collection: Collection, recordId: string, name: string) =>
  `${collection.id}/${recordId}/thumbs_${name}`;

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const random = (n: number) => Array.from({ length: n }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');

/** What to call a file whose content gives no extension of its own, by sniffed type. */
const EXTENSION_OF: Record<string, string> = {
  'text/plain': '.txt',
  'text/html': '.html',
  'image/svg+xml': '.svg',
  'application/xml': '.xml',
  'application/octet-stream': '',
};

/**
 * The name an upload is stored under, as PocketBase makes it: the client's base name in lower snake case,
 * ASCII letters and digits only, at most 100 characters (random ones when it has fewer than 3), then `_`
 * and 10 random characters, then its extension (up to two dot parts, cleaned, at most 20 characters, or one
 * from the sniffed type when it has none). No path separator, control character or leading dot survives.
 */
export function storedFileName(original: string, mime: string, sniffedExt = ''): string {
  const name = original.length > 300 ? original.slice(-300) : original;
  const rawExt = extensionOf(name);
  let ext = `.${rawExt.replace(/[^\w.*\-+=#]+/g, '').replace(/^\.+|\.+$/g, '')}`;
  if (ext === '.') ext = sniffedExt ? `.${sniffedExt}` : (EXTENSION_OF[mime.split(';')[0] as string] ?? '');
  if (ext.length > 21) ext = `.${ext.slice(-20).replace(/^\.+|\.+$/g, '')}`;
  let base = snakeCase(name.slice(0, name.length - rawExt.length).replace(/^\.+|\.+$/g, ''));
  if (base.length < 3) base += random(10);
  if (base.length > 100) base = base.slice(0, 100);
  return `${base}_${random(10)}${ext}`;
}

/** `a.b.c` → `.b.c`, `a.c` → `.c`, `a` → `` (PocketBase keeps two dot parts: `.tar.gz`). */
function extensionOf(name: string): string {
  const last = name.lastIndexOf('.');
  if (last < 0) return '';
  const before = name.lastIndexOf('.', last - 1);
  return name.slice(before >= 0 ? before : last);
}

function snakeCase(text: string): string {
  return text
    .split(/[\W_]+/)
    .filter(Boolean)
    .map((word) => word.replace(/([^A-Z])([A-Z])/g, '$1_$2'))
    .join('_')
    .toLowerCase();
}

const list = (value: unknown): string[] =>
  ([] as string[]).concat((value as string | string[]) || []).filter(Boolean);

/**
 * Checks a file field's new value, in PocketBase's order: every name is a file the record already has or
 * one uploaded now; no more than maxSelect; each new upload within maxSize and of an allowed type.
 */
export function checkFiles(
  field: FieldDef,
  before: unknown,
  after: unknown,
  uploads: Uploads,
): FieldError | undefined {
  const stored = new Set(list(before));
  const names = list(after);
  const invalid = names.filter((n) => !stored.has(n) && !uploads.has(n)).map((n) => n.slice(0, 250));
  if (invalid.length)
    return {
      code: 'validation_invalid_file',
      message: `Invalid new files: [${invalid.join(' ')}].`,
      params: { invalidFiles: invalid },
    };
  const max = Math.max(Number(field.maxSelect) || 0, 1);
  if (names.length > max)
    return {
      code: 'validation_too_many_files',
      message: `The maximum allowed files is ${max}.`,
      params: { maxSelect: max },
    };
  const allowed = ((field.mimeTypes as string[] | undefined) ?? []).map(bareType);
  for (const name of names) {
    const upload = stored.has(name) ? undefined : uploads.get(name);
    if (!upload) continue;
    if (upload.size > maxFileSize(field))
      return {
        code: 'validation_file_size_limit',
        message: `Failed to upload ${upload.originalName.slice(0, 300)} - the maximum allowed file size is ${maxFileSize(field)} bytes.`,
        params: { file: upload.originalName.slice(0, 300), maxSize: maxFileSize(field) },
      };
    if (allowed.length && !allowed.includes(bareType(upload.mime)))
      return {
        code: 'validation_invalid_mime_type',
        message: `"${name}" mime type must be one of: ${allowed.join(', ')}.`,
      };
  }
  return undefined;
}

/** `image/JPG; q=1` → `image/jpeg`: parameters dropped, case folded, the one common alias resolved. */
function bareType(mime: string): string {
  const type = (mime.split(';')[0] as string).trim().toLowerCase();
  return type === 'image/jpg' ? 'image/jpeg' : type;
}

/** The names `before` had that `after` no longer has: their files go once the write has committed. */
export const droppedFiles = (before: unknown, after: unknown): string[] => {
  const kept = new Set(list(after));
  return list(before).filter((n) => !kept.has(n));
};
