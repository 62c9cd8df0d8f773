import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { openZipEntry, readZipEntries } from '../../src/backups/zip-read.ts';
import { createZipWriter } from '../../src/backups/zip-write.ts';

/** One entry to write into a hand-made archive. */
export interface Entry {
  name: string;
  body: Buffer;
}

/** Writes the entries as given (the writer takes any name: hostile ones included). */
export async function writeZip(path: string, entries: Entry[]): Promise<void> {
  const zip = createZipWriter(path);
  for (const e of entries) await zip.addBuffer(e.name, e.body);
  await zip.finish();
}

/** Every entry of an archive, read back whole. */
export async function readZip(path: string): Promise<Entry[]> {
  const out: Entry[] = [];
  for (const entry of await readZipEntries(path)) {
    const chunks: Buffer[] = [];
    for await (const c of await openZipEntry(path, entry)) chunks.push(c as Buffer);
    out.push({ name: entry.name, body: Buffer.concat(chunks) });
  }
  return out;
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A manifest for `entries` (every one but the manifest listed with its true size and hash). */
export function manifestFor(entries: Entry[], overrides: Record<string, unknown> = {}): Entry {
  const manifest = {
    format: 'plinth-backup',
    formatVersion: 1,
    plinthVersion: '0.1.0',
    engine: 'sqlite',
    createdAt: new Date().toISOString(),
    storage: 'local',
    schemaChecksum: '0'.repeat(64),
    counts: {},
    files: entries.map((e) => ({ name: e.name, size: e.body.length, sha256: sha256(e.body) })),
    ...overrides,
  };
  return { name: 'manifest.json', body: Buffer.from(JSON.stringify(manifest)) };
}

/**
 * Rewrites the central directory record of `name`: `mode` sets its Unix mode (a symlink: 0o120777),
 * `size` its declared uncompressed size (smaller than the real one: a zip bomb that lies).
 */
export function patchEntry(path: string, name: string, patch: { mode?: number; size?: number }): void {
  const zip = readFileSync(path);
  const nameBytes = Buffer.from(name);
  for (
    let p = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    p >= 0;
    p = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]), p - 1)
  ) {
    const length = zip.readUInt16LE(p + 28);
    if (!zip.subarray(p + 46, p + 46 + length).equals(nameBytes)) continue;
    if (patch.mode !== undefined) zip.writeUInt32LE((patch.mode << 16) >>> 0, p + 38);
    if (patch.size !== undefined) zip.writeUInt32LE(patch.size, p + 24);
    writeFileSync(path, zip);
    return;
  }
  throw new Error(`no entry ${name}`);
}
