export { ByteMeter } from './byte-meter.ts';
export { safeEqual } from './compare.ts';
export { checksumId, newRecordId, prefixedNumericId, randomSecret, randomString } from './id.ts';
export { compactHeapWhenIdle, type IdleHeapOptions } from './idle-heap.ts';
export { type JobRecord, JobStats, trackJob } from './jobs.ts';
export { containsNul, FORBIDDEN_KEYS, isPlainObject, parseJsonOr, stableJson } from './json.ts';
export { lazyPackage } from './lazy.ts';
export { http } from './node-http.ts';
export { literalMaker } from './object-literal.ts';
export { PatternError, randomStringMatching } from './pattern-string.ts';
export {
  addressList,
  DownloadError,
  type Downloaded,
  downloadToFile,
  mayConnect,
} from './safe-download.ts';
export { createSecretBox, type SecretBox, SecretBoxError } from './secret-box.ts';
export { createSemaphore } from './semaphore.ts';
export { SNIFF_BYTES, sniffMime } from './sniff.ts';
export { formatDate, normalizeDate, nowString } from './time.ts';
