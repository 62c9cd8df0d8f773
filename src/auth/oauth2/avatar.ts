import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import type { BlockList } from 'node:net';
import { basename, join } from 'node:path';
import { downloadToFile, sniffMime } from '../../lib/index.ts';
import type { Logger } from '../../log/index.ts';
import { checkFiles, maxFileSize, storedFileName, type Upload } from '../../records/index.ts';
import type { FieldDef } from '../../schema/index.ts';

/** Where downloaded avatars are spooled, and which private addresses they may come from. */
export interface AvatarDownloads {
  spoolDir: string;
  allow: BlockList;
}

/** PocketBase gives an avatar download 10 s. */
const TIMEOUT_MS = 10_000;

/**
 * The provider's avatar at `url`, downloaded as an upload for the auth collection's file `field`, or
 * undefined when it cannot be had (unreachable, refused address, past the field's `maxSize`, a type the
 * field does not take): the account is then created without it, and the reason logged. The caller removes
 * the spool file (`upload.path`) once the record is written.
 */
export async function downloadAvatar(
  downloads: AvatarDownloads,
  field: FieldDef,
  url: string,
  log: Logger,
): Promise<Upload | undefined> {
  const path = join(downloads.spoolDir, randomBytes(16).toString('hex'));
  try {
    await mkdir(downloads.spoolDir, { recursive: true, mode: 0o700 });
    const got = await downloadToFile(url, path, {
      maxBytes: maxFileSize(field),
      timeoutMs: TIMEOUT_MS,
      allow: downloads.allow,
    });
    const mime = await sniffMime(got.head);
    const original = basename(got.url.pathname) || 'avatar';
    const upload: Upload = {
      name: storedFileName(original, mime),
      originalName: original,
      path,
      size: got.size,
      mime,
    };
    const problem = checkFiles(field, undefined, [upload.name], new Map([[upload.name, upload]]));
    if (problem) throw new Error(problem.message);
    return upload;
  } catch (err) {
    await rm(path, { force: true });
    log.warn({ reason: (err as Error).message }, 'the OAuth2 avatar was not stored');
    return undefined;
  }
}
