import { once } from 'node:events';
import { createWriteStream, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { App } from '../app.ts';
import { type Collection, collectionToJson } from '../schema/index.ts';
import { cellText, csvLine, type Format, TransferError } from '../transfer/index.ts';
import { createProgress } from './progress.ts';
import { type Io, parseExportArgs, STDIO } from './transfer-args.ts';

const SUPERUSER = { collection: null, record: null, isSuperuser: true };
/** Rows per keyset page: the records API's largest page. */
const PAGE = 1000;

/** What one export writes: which rows (`filter`) and which columns (`fields`, all when unset). */
export interface ExportOptions {
  format: Format;
  filter?: string;
  fields?: string[];
}

/**
 * `plinth export COLLECTION [--format jsonl|csv] [--out FILE|-] [--filter EXPR] [--fields a,b]`, or
 * `plinth export --all --out DIR`: rows in id order, read page by page after the last id seen (never OFFSET,
 * so memory and the cost of each page stay flat however large the table).
 */
export async function exportCommand(app: App, args: string[], io: Io = STDIO): Promise<number> {
  const { values, positionals } = parseExportArgs(args);
  const format = exportFormat(values.format, values.out);
  if (values.all) {
    if (positionals.length) throw new TransferError('--all exports every collection: name none');
    if (!values.out || values.out === '-') throw new TransferError('--all needs --out DIR');
    return exportAll(app, values.out, format, values.quiet === true, io);
  }
  if (positionals.length !== 1) throw new TransferError('usage: plinth export COLLECTION [--out FILE] ...');
  const collection = app.collections.find(positionals[0]!);
  if (!collection) throw new TransferError(`no collection "${positionals[0]}"`);
  const fields = values.fields
    ?.split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  const options = { format, filter: values.filter, fields };
  const rows = await toFile(app, collection, values.out ?? '-', options, values.quiet === true, io);
  if (values.out && values.out !== '-')
    io.err.write(`exported ${rows} rows of ${collection.name} to ${values.out}\n`);
  return 0;
}

function exportFormat(explicit: string | undefined, out: string | undefined): Format {
  if (explicit === undefined) return out && /\.csv$/i.test(out) ? 'csv' : 'jsonl';
  if (explicit !== 'csv' && explicit !== 'jsonl')
    throw new TransferError(`--format must be jsonl or csv, not "${explicit}"`);
  return explicit;
}

/**
 * Writes to `FILE.partial` and renames it once complete, so a failed export never leaves a file that looks
 * whole; `-` is stdout.
 */
async function toFile(app: App, c: Collection, out: string, options: ExportOptions, quiet: boolean, io: Io) {
  if (out === '-') return exportRows(app, c, io.out, options, quiet, io);
  const partial = `${out}.partial`;
  const sink = createWriteStream(partial);
  try {
    await once(sink, 'open');
    const rows = await exportRows(app, c, sink, options, quiet, io);
    sink.end();
    await once(sink, 'finish');
    renameSync(partial, out);
    return rows;
  } catch (err) {
    sink.destroy();
    rmSync(partial, { force: true });
    throw err;
  }
}

/** Every base and auth collection's rows, one file each, and every definition in `collections.json`. */
async function exportAll(app: App, dir: string, format: Format, quiet: boolean, io: Io): Promise<number> {
  mkdirSync(dir, { recursive: true });
  const all = app.collections.list().filter((c) => !c.system);
  writeFileSync(join(dir, 'collections.json'), `${JSON.stringify(all.map(collectionToJson), null, 2)}\n`);
  for (const c of all.filter((c) => c.type !== 'view')) {
    const rows = await toFile(app, c, join(dir, `${c.name}.${format}`), { format }, quiet, io);
    io.err.write(`exported ${rows} rows of ${c.name}\n`);
  }
  return 0;
}

/** Streams one collection's rows to `sink` as the API serializes them for a superuser; answers the count. */
export async function exportRows(
  app: App,
  c: Collection,
  sink: Writable,
  { format, filter, fields }: ExportOptions,
  quiet = false,
  io: Io = STDIO,
): Promise<number> {
  const names = c.fields.filter((f) => f.type !== 'password').map((f) => f.name);
  for (const f of fields ?? [])
    if (!names.includes(f)) throw new TransferError(`${c.name} has no field "${f}"`);
  const columns = fields?.length ? fields : names;
  const jsonColumns = new Set(
    c.fields.filter((f) => f.type === 'json' || f.type === 'geoPoint').map((f) => f.name),
  );
  const first = await app.records.list(c, { filter, sort: 'id', perPage: 1, skipTotal: false }, SUPERUSER);
  const progress = createProgress(`export ${c.name}:`, {
    unit: 'rows',
    total: first.totalItems,
    quiet,
    out: io.err,
  });
  if (format === 'csv') await write(sink, csvLine(columns));
  let last: string | undefined;
  let rows = 0;
  for (;;) {
    // Ids never hold a quote or backslash (record-id.ts), so the last id is safe inside a filter string.
    const after = last === undefined ? undefined : `id > "${last}"`;
    const where = [filter?.trim() ? `(${filter})` : undefined, after].filter(Boolean).join(' && ');
    const page = await app.records.list(
      c,
      { filter: where, sort: 'id', perPage: PAGE, skipTotal: true },
      SUPERUSER,
    );
    let text = '';
    for (const item of page.items) {
      if (format === 'csv')
        text += csvLine(columns.map((name) => cellText(item[name], jsonColumns.has(name))));
      else text += `${JSON.stringify(fields?.length ? pick(item, columns) : item)}\n`;
    }
    if (text) await write(sink, text);
    rows += page.items.length;
    progress.update(rows);
    if (page.items.length < PAGE) break;
    last = String(page.items.at(-1)!.id);
  }
  progress.finish();
  return rows;
}

function pick(item: Record<string, unknown>, names: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const n of names) out[n] = item[n];
  return out;
}

/** Writes with backpressure: waits for the sink to drain rather than buffering the whole table. */
async function write(sink: Writable, text: string): Promise<void> {
  if (!sink.write(text)) await once(sink, 'drain');
}
