export { createLocalStorage } from './local.ts';
export { createS3Storage, type S3Options } from './s3.ts';
export type { BlobInfo, ByteRange, FileStorage } from './storage.ts';
export { checkKey } from './storage.ts';
export { createSwitchingStorage, type S3Section } from './switching.ts';
