import type { Collection } from '../schema/index.ts';
import type { RecordsContext } from './context.ts';
import { droppedFiles, fileKey, thumbsPrefix, type Uploads } from './files.ts';
import type { RecordHooks } from './hooks.ts';
import type { RecordValues } from './types.ts';

const fileFields = (collection: Collection) => collection.fields.filter((f) => f.type === 'file');
const names = (value: unknown): string[] =>
  ([] as string[]).concat((value as string | string[]) || []).filter(Boolean);

/**
 * Puts into storage the uploads that `values` names (others were dropped by a modifier or the field), under
 * the record's folder, before the write that references them. Answers how to take them out again, for when
 * that write fails: run at once by the use case, or, within a batch, once the whole transaction has failed.
 */
export async function storeUploads(
  ctx: RecordsContext,
  collection: Collection,
  recordId: string,
  values: RecordValues,
  uploads: Uploads | undefined,
): Promise<() => Promise<void>> {
  const keys: string[] = [];
  const undo = async () => {
    await Promise.all(
      keys.map((key) => ctx.files.storage.delete(key).catch((err) => ctx.files.onError(err, key))),
    );
  };
  if (!uploads?.size) return undo;
  try {
    for (const field of fileFields(collection))
      for (const name of names(values[field.name])) {
        const upload = uploads.get(name);
        if (!upload) continue;
        const key = fileKey(collection, recordId, name);
        keys.push(key);
        await ctx.files.storage.putFile(key, upload.path, upload.mime);
      }
  } catch (err) {
    await undo();
    throw err;
  }
  return undo;
}

/** Runs `write`; if it fails, the stored uploads are taken out (now, or when a batch that fails ends). */
export async function withUploadsUndone<T>(
  ctx: RecordsContext,
  undo: () => Promise<void>,
  write: () => Promise<T>,
): Promise<T> {
  ctx.onRollback?.push(undo);
  try {
    return await write();
  } catch (err) {
    if (!ctx.onRollback) await undo();
    throw err;
  }
}

/**
 * Removes files once the write that let go of them has committed (the after-hooks run then, in a batch
 * once all of it has): the files an update dropped or replaced, with their thumbnails, and a deleted
 * record's whole folder. In the background, as PocketBase does: the answer does not wait, and a failure
 * is logged, never reported as the write's.
 */
export function bindFileCleanup(ctx: RecordsContext, hooks: RecordHooks): void {
  const { storage, onError } = ctx.files;
  const drop = (key: string, prefix: boolean) => {
    (prefix ? storage.deletePrefix(key) : storage.delete(key)).catch((err) => onError(err, key));
  };
  const first = { id: '__plinthFiles', priority: -1_000_000 };
  hooks.afterUpdate.bind((event, next) => {
    const id = String(event.record.id);
    for (const field of fileFields(event.collection))
      for (const name of droppedFiles(event.original?.[field.name], event.record[field.name])) {
        drop(fileKey(event.collection, id, name), false);
        drop(thumbsPrefix(event.collection, id, name), true);
      }
    return next();
  }, first);
  hooks.afterDelete.bind((event, next) => {
    if (fileFields(event.collection).length) drop(`${event.collection.id}/${String(event.record.id)}`, true);
    return next();
  }, first);
}
