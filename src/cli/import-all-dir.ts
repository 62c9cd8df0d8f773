import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NAME_RE } from '../schema/index.ts';
import { type Format, TransferError } from '../transfer/index.ts';
import type { OrderDef } from './import-order.ts';

/** `collections.json` larger than this is refused unread: definitions of even many collections are far smaller. */
const MAX_DEFINITIONS_BYTES = 16 * 1024 * 1024;

/** A collection of the directory: its definition and, for base and auth collections, its rows' file. */
export interface DirCollection extends OrderDef {
  type: 'base' | 'auth' | 'view';
  file?: { path: string; format: Format };
}

/** What `plinth export --all` wrote, read back and checked: the definitions as written, and each file. */
export interface ExportDir {
  /** `collections.json` as parsed, for the collections import. */
  definitions: unknown[];
  collections: DirCollection[];
}

/**
 * Reads and checks an export directory before anything is written: `collections.json` (a list of
 * definitions with plain names), exactly one regular file (`NAME.jsonl` or `NAME.csv`) per base and auth
 * collection, and no rows file of a collection the definitions do not hold (it would be left out
 * silently). Names are checked against the collection name rule before they become paths, so a definition
 * named `../x` cannot point a read outside the directory; symlinks are refused for the same reason.
 */
export function readExportDir(dir: string): ExportDir {
  const stat = lstatOrUndefined(dir);
  if (!stat?.isDirectory()) throw new TransferError(`${dir} is not a directory`);
  const definitions = readDefinitions(join(dir, 'collections.json'));
  const collections = definitions.map((d, i) => checkDefinition(d, i));
  const names = new Set<string>();
  for (const c of collections) {
    if (names.has(c.name)) throw new TransferError(`collections.json names "${c.name}" twice`);
    names.add(c.name);
  }
  const withRows = new Set(collections.filter((c) => c.type !== 'view').map((c) => c.name));
  const entries = readdirSync(dir);
  for (const entry of entries) {
    const m = /^(.*)\.(jsonl|csv)$/i.exec(entry);
    if (m && !withRows.has(m[1]!))
      throw new TransferError(
        `${join(dir, entry)}: collections.json has no base or auth collection "${m[1]}" for it`,
      );
    // Not left out unread either: the file of a known collection under another spelling.
    if (m && m[2] !== m[2]!.toLowerCase())
      throw new TransferError(`${join(dir, entry)}: name it ${m[1]}.${m[2]!.toLowerCase()}`);
  }
  for (const c of collections) {
    if (c.type === 'view') continue;
    const found = (['jsonl', 'csv'] as const).filter((f) => entries.includes(`${c.name}.${f}`));
    if (found.length !== 1)
      throw new TransferError(
        found.length
          ? `both ${c.name}.jsonl and ${c.name}.csv are in ${dir}: keep one`
          : `${join(dir, `${c.name}.jsonl`)} is missing (every base and auth collection has a file, empty if it has no rows)`,
      );
    const path = join(dir, `${c.name}.${found[0]}`);
    if (!lstatSync(path).isFile()) throw new TransferError(`${path} is not a regular file`);
    c.file = { path, format: found[0]! };
  }
  return { definitions, collections };
}

function readDefinitions(path: string): unknown[] {
  const stat = lstatOrUndefined(path);
  if (!stat)
    throw new TransferError(`${path} is missing: is this a directory that plinth export --all wrote?`);
  if (!stat.isFile()) throw new TransferError(`${path} is not a regular file`);
  if (stat.size > MAX_DEFINITIONS_BYTES)
    throw new TransferError(`${path} is ${stat.size} bytes: more than ${MAX_DEFINITIONS_BYTES} is refused`);
  let list: unknown;
  try {
    list = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new TransferError(`${path} is not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(list)) throw new TransferError(`${path} is not a list of collections`);
  return list;
}

function checkDefinition(raw: unknown, i: number): DirCollection {
  const d = raw as Partial<Record<string, unknown>> | null;
  const where = `collections.json, collection ${i + 1}`;
  if (!d || typeof d !== 'object' || typeof d.name !== 'string' || !NAME_RE.test(d.name))
    throw new TransferError(`${where}: the name must be letters, digits and _ only`);
  if (typeof d.id !== 'string' || !d.id) throw new TransferError(`${where} (${d.name}): no id`);
  if (d.type !== 'base' && d.type !== 'auth' && d.type !== 'view')
    throw new TransferError(`${where} (${d.name}): the type must be base, auth or view`);
  const fields = Array.isArray(d.fields) ? d.fields : [];
  return {
    id: d.id,
    name: d.name,
    type: d.type,
    fields: fields
      .filter(
        (f): f is OrderDef['fields'][number] => typeof f?.name === 'string' && typeof f?.type === 'string',
      )
      .map((f) => ({
        name: f.name,
        type: f.type,
        collectionId: typeof f.collectionId === 'string' ? f.collectionId : undefined,
        required: f.required === true,
      })),
  };
}

function lstatOrUndefined(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}
