import { ArchiveError } from './zip-read.ts';

/** One file of an archive as the manifest lists it. */
export interface ManifestFile {
  name: string;
  size: number;
  sha256: string;
}

/**
 * `manifest.json`, the first thing read from an archive: what it is (a Plinth backup of which engine and
 * format), what the database held (schema checksum, records per collection) and every other entry with
 * its size and hash. A restore refuses an archive whose entries or database differ from it.
 */
export interface Manifest {
  format: typeof FORMAT;
  formatVersion: 1;
  plinthVersion: string;
  engine: 'sqlite' | 'postgres' | 'mysql';
  createdAt: string;
  /** Where uploaded files were: `local` (their copies are in `storage/`) or `s3` (referenced, not copied). */
  storage: 'local' | 's3';
  schemaChecksum: string;
  counts: Record<string, number>;
  files: ManifestFile[];
}

/** The manifest's `format`: what tells a Plinth archive from any other zip. */
export const FORMAT = 'plinth-backup';
/** The manifest's entry name, read first. */
export const MANIFEST_NAME = 'manifest.json';
/** Far above a real manifest (about 120 bytes a file): a bigger one is refused before it is read. */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;
/** The archive's database entry per engine. */
export const DATABASE_ENTRY = { sqlite: 'data.db', postgres: 'dump.sql', mysql: 'dump.sql' } as const;

const HEX64 = /^[0-9a-f]{64}$/;
const FILE_NAME = /^storage\/([A-Za-z0-9_][A-Za-z0-9_.-]{0,254}\/)*[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/;

const isCount = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/**
 * Parses and checks a manifest's text: every field present with the right type, a known format and
 * version, names only the database entry or `storage/...` keys (each once). Throws ArchiveError naming
 * the first problem.
 */
export function parseManifest(text: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ArchiveError('The backup manifest is not valid JSON.');
  }
  const m = value as Partial<Manifest> | null;
  const bad = (what: string) => new ArchiveError(`The backup manifest is invalid (${what}).`);
  if (!m || typeof m !== 'object' || m.format !== FORMAT)
    throw new ArchiveError('This archive is not a Plinth backup.');
  if (m.formatVersion !== 1) throw bad(`unknown format version ${JSON.stringify(m.formatVersion)}`);
  if (m.engine !== 'sqlite' && m.engine !== 'postgres' && m.engine !== 'mysql') throw bad('engine');
  if (typeof m.plinthVersion !== 'string' || typeof m.createdAt !== 'string') throw bad('version or date');
  if (m.storage !== 'local' && m.storage !== 's3') throw bad('storage');
  if (typeof m.schemaChecksum !== 'string' || !HEX64.test(m.schemaChecksum)) throw bad('schema checksum');
  if (!m.counts || typeof m.counts !== 'object' || Array.isArray(m.counts)) throw bad('counts');
  for (const n of Object.values(m.counts)) if (!isCount(n)) throw bad('counts');
  if (!Array.isArray(m.files)) throw bad('files');
  const names = new Set<string>();
  const database = DATABASE_ENTRY[m.engine];
  for (const f of m.files as unknown[]) {
    const file = f as Partial<ManifestFile> | null;
    if (!file || typeof file.name !== 'string' || !isCount(file.size) || !HEX64.test(String(file.sha256)))
      throw bad('a file entry');
    if (file.name !== database && !FILE_NAME.test(file.name))
      throw bad(`unexpected file ${JSON.stringify(file.name.slice(0, 200))}`);
    if (names.has(file.name)) throw bad(`${file.name} listed twice`);
    names.add(file.name);
  }
  if (!names.has(database)) throw bad(`no ${database}`);
  return m as Manifest;
}
