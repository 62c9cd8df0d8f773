import { availableParallelism } from 'node:os';
import type { Readable } from 'node:stream';
import { createSemaphore, lazyPackage } from '../lib/index.ts';
import type { FieldDef } from '../schema/index.ts';
import type { FileStorage } from '../storage/index.ts';

const sharp = lazyPackage<typeof import('sharp').default>('sharp');

/** Sizes every image file field serves, listed or not (PocketBase's default). */
const DEFAULT_THUMB = '100x100';
/** `WxH` crops from the center, `t`/`b` from the top/bottom, `f` fits inside; `0xH`/`Wx0` keep the ratio. */
const SIZE = /^(\d{1,4})x(\d{1,4})(t|b|f)?$/;
const SOURCES = new Set(['image/png', 'image/jpg', 'image/jpeg', 'image/gif', 'image/webp']);
/** Sources past these are not decoded (decompression bombs): the original is served instead. */
const MAX_SOURCE_BYTES = 50 * 1024 * 1024;
const MAX_SOURCE_PIXELS = 50_000_000;

/** The thumb size to serve for `?thumb=`, or undefined to serve the original (PocketBase's rules). */
export function thumbSize(
  field: FieldDef,
  thumb: string | undefined,
  contentType: string,
): string | undefined {
  if (!thumb) return undefined;
  const listed = thumb === DEFAULT_THUMB || ((field.thumbs as string[] | undefined) ?? []).includes(thumb);
  if (!listed || !SIZE.test(thumb) || /^0x0/.test(thumb)) return undefined;
  return SOURCES.has((contentType.split(';')[0] as string).trim().toLowerCase()) ? thumb : undefined;
}

/** The image a thumb is made from: its key, and what `stat` said of it. */
export interface ThumbSource {
  key: string;
  size: number;
  contentType: string;
}

export interface Thumbnailer {
  /**
   * Makes the thumb of the blob `source` and stores it at `thumbKey`, once however many ask at the
   * same time; false when it cannot (too large, not decodable, too busy), and the original is served.
   */
  make(source: ThumbSource, thumbKey: string, size: string): Promise<boolean>;
}

/**
 * Node's libuv pool has 4 threads (Plinth leaves `UV_THREADPOOL_SIZE` alone). sharp makes each image on
 * one of them, from start to end, and every file read and write (downloads, upload spooling, local storage)
 * waits for them too: with all of them making thumbnails, a download of a few bytes would wait for a
 * thumbnail to be done.
 */
const LIBUV_THREADS = 4;
/** Thumbnails at once: one per core, and never more than half of the libuv pool. */
const DEFAULT_CONCURRENCY = Math.max(1, Math.min(availableParallelism(), LIBUV_THREADS / 2));

/**
 * Thumbnails with sharp, off the event loop, at most {@link DEFAULT_CONCURRENCY} at once: more would only
 * queue while holding their source buffers, and take the libuv threads other requests need. A request
 * waits at most `maxWaitMs` for a turn.
 */
export function createThumbnailer(
  storage: FileStorage,
  log: { warn(details: object, message: string): void },
  options: { concurrency?: number; maxWaitMs?: number } = {},
): Thumbnailer {
  const run = createSemaphore(options.concurrency ?? DEFAULT_CONCURRENCY);
  const maxWaitMs = options.maxWaitMs ?? 30_000;
  const inFlight = new Map<string, Promise<boolean>>();

  async function generate(source: ThumbSource, thumbKey: string, size: string) {
    if (source.size > MAX_SOURCE_BYTES) return false;
    const stream = await storage.read(source.key);
    if (!stream) return false;
    const bytes = await readAll(stream);
    const [, w, h, mode] = SIZE.exec(size) as RegExpExecArray;
    const width = Number(w) || undefined;
    const height = Number(h) || undefined;
    const type = (source.contentType.split(';')[0] as string).trim().toLowerCase();
    let image = sharp()(bytes, {
      limitInputPixels: MAX_SOURCE_PIXELS,
      animated: false,
      failOn: 'error',
    }).rotate();
    image = image.resize({
      width,
      height,
      fit: !width || !height ? 'inside' : mode === 'f' ? 'inside' : 'cover',
      position: mode === 't' ? 'top' : mode === 'b' ? 'bottom' : 'centre',
    });
    const [format, outType] =
      type === 'image/jpeg' || type === 'image/jpg'
        ? (['jpeg', 'image/jpeg'] as const)
        : type === 'image/gif'
          ? (['gif', 'image/gif'] as const)
          : (['png', 'image/png'] as const);
    await storage.putBuffer(thumbKey, await image.toFormat(format).toBuffer(), outType);
    return true;
  }

  return {
    make(source, thumbKey, size) {
      let pending = inFlight.get(thumbKey);
      if (!pending) {
        pending = withDeadline(
          run(() => generate(source, thumbKey, size)),
          maxWaitMs,
        ).catch((err: unknown) => {
          log.warn({ err, key: source.key, size }, 'thumbnail failed: the original is served');
          return false;
        });
        pending.finally(() => inFlight.delete(thumbKey));
        inFlight.set(thumbKey, pending);
      }
      return pending;
    },
  };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > MAX_SOURCE_BYTES) {
      stream.destroy();
      throw new Error('thumbnail source too large');
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no thumbnail slot within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
