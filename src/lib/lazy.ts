import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * A package loaded on its first use instead of at start. A server on SQLite with files on disk never
 * touches pg, mysql2, ioredis, the S3 client or sharp, and loading them all at start cost it a third of its
 * idle memory and most of a second (docs/benchmarks.md, "Start and idle memory"). Synchronous, so the
 * functions that use one keep their signatures; type the result with `typeof import('name')`.
 */
export function lazyPackage<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => {
    loaded ??= require(name) as T;
    return loaded;
  };
}
