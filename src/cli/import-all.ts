import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { App } from '../app.ts';
import { ApiError } from '../errors/index.ts';
import { createRowMapper, parseTransforms, TransferError } from '../transfer/index.ts';
import { describePlan } from './collections.ts';
import { type DirCollection, readExportDir } from './import-all-dir.ts';
import { linkPlan, type StrippedFields, stripFields } from './import-all-rows.ts';
import { planImportOrder } from './import-order.ts';
import { commonPlan, runImport } from './import-run.ts';
import { defaultStatePath, type ImportPlan, writeState } from './import-state.ts';
import type { ImportFlags, Io } from './transfer-args.ts';

/** Flags that name one collection's columns: they mean nothing for a whole directory. */
const PER_FILE = ['map', 'drop', 'default', 'cast', 'state', 'format'] as const;

/** How far an `import --all` got: the collections whose rows are in, and those linked by the second pass. */
interface AllState {
  version: 1;
  imported: string[];
  linked: string[];
}

/**
 * `plinth import --all DIR`: what `plinth export --all DIR` wrote, back in. The definitions are applied
 * first (added or updated, never dropped), then each collection's rows in an order that puts a relation's
 * target first; relations that no order satisfies (to the same collection, or around a cycle) are set by a
 * second pass of updates once every row is in (import-order.ts). Each file is imported as `plinth import`
 * imports one, with the same batches, dry run, skip-invalid and resume point; `import-all-state.json` in
 * DIR records which collections are done, so `--resume` goes on where the run stopped.
 */
export async function importAll(
  app: App,
  positionals: string[],
  values: ImportFlags,
  io: Io,
): Promise<number> {
  if (positionals.length !== 1) throw new TransferError('usage: plinth import --all DIR [options]');
  for (const flag of PER_FILE)
    if (values[flag] !== undefined) throw new TransferError(`--${flag} applies to one collection, not --all`);
  const common = commonPlan(values, io);
  const resume = values.resume === true;
  if (common.dryRun && resume) throw new TransferError('--dry-run and --resume do not go together');
  const dir = positionals[0]!;
  const exported = readExportDir(dir);
  const withRows = exported.collections.filter((c) => c.type !== 'view');
  const { order, deferred } = planImportOrder(withRows);
  const statePath = join(dir, 'import-all-state.json');
  const state = common.dryRun ? fresh() : startAllState(statePath, dir, resume);

  await applyDefinitions(app, exported.definitions, join(dir, 'collections.json'), common.dryRun, io);
  if (!common.dryRun) writeState(statePath, state);

  const byName = new Map(withRows.map((c) => [c.name, c]));
  const inImport = new Set(withRows.map((c) => c.id));
  let failures = 0;
  const stop = (name: string, linking = false) => {
    const done = linking
      ? `every collection's rows are in; the relations left for the second pass are set up to ${name}`
      : `${state.imported.length} collections before it are in`;
    io.err.write(
      `plinth import --all stopped at ${name}; ${done}.\n` +
        `Fix the input and run the same command with --resume to go on from there.\n`,
    );
    return 1;
  };
  for (const name of order) {
    if (state.imported.includes(name)) continue;
    const c = byName.get(name)!;
    const collection = app.collections.find(name);
    if (!collection) {
      // Only in a dry run: the definitions were not applied, so there is no table to check rows against.
      io.out.write(`would import ${name} once it is created: its rows are not checked in a dry run\n`);
      continue;
    }
    const stripped = strippedFor(c, deferred.get(name) ?? [], inImport, common.dryRun);
    const plan: ImportPlan = {
      ...common,
      collection,
      file: c.file!.path,
      format: c.file!.format,
      mapper: createRowMapper(collection, parseTransforms({}), (m) => io.err.write(`${name}: ${m}\n`)),
      statePath: common.dryRun ? undefined : defaultStatePath(c.file!.path),
      adjust: (body) => withPassword(collection.type === 'auth', stripFields(body, stripped)),
      ignore: common.dryRun ? (f) => Object.keys(f.data).every((k) => stripped.required.has(k)) : undefined,
      ownHint: true,
    };
    const result = await runImport(app, plan, resume && existsSync(plan.statePath ?? ''));
    failures += result.failures;
    if (result.code && !common.dryRun) return stop(name);
    state.imported.push(name);
    if (!common.dryRun) writeState(statePath, state);
  }
  // A dry run wrote no rows for the updates to find: the second pass has nothing to check.
  if (common.dryRun) return failures ? 1 : 0;
  for (const name of order) {
    const fields = deferred.get(name);
    if (!fields || state.linked.includes(name)) continue;
    const c = byName.get(name)!;
    const plan = linkPlan(app, c, fields, common);
    // The updates set values, so running them again after a stop is harmless: no resume point is kept.
    if ((await runImport(app, plan, false)).code) return stop(name, true);
    state.linked.push(name);
    writeState(statePath, state);
  }
  rmSync(statePath, { force: true });
  io.out.write(`imported ${order.length} collections from ${dir}\n`);
  return 0;
}

/**
 * Shows what `collections.json` changes and, unless a dry run, applies it: added and updated collections
 * only. A change that destroys data (a narrowed or dropped field) is left to `plinth collections import`.
 */
async function applyDefinitions(app: App, definitions: unknown[], file: string, dryRun: boolean, io: Io) {
  try {
    const preview = await app.collections.previewImport(definitions, false);
    io.out.write(describePlan(preview));
    if (preview.destructive.length)
      throw new TransferError(
        `${file} would destroy data in this server's collections (above); apply it first with ` +
          `plinth collections import ${file} --allow-destructive, if that is meant`,
      );
    if (!dryRun && preview.collections.length)
      await app.collections.importCollections(definitions, false, { allowDestructive: false });
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    const details = Object.entries(err.data).map(
      ([k, e]) => ` ${k}: ${(e as { message?: string }).message ?? ''}`,
    );
    throw new TransferError(`${file}: ${err.message}${details.join(';')}`);
  }
}

function fresh(): AllState {
  return { version: 1, imported: [], linked: [] };
}

/** Reads the run's state, refusing a leftover one without `--resume` (the first files would go in twice). */
function startAllState(path: string, dir: string, resume: boolean): AllState {
  if (!existsSync(path)) {
    if (resume) throw new TransferError(`nothing to resume: no ${path}`);
    return fresh();
  }
  if (!resume)
    throw new TransferError(
      `an earlier import --all of ${dir} stopped (${path}): add --resume to continue it, or delete that ` +
        'file and the *.import-state.json files beside the data to start over',
    );
  try {
    const state = JSON.parse(readFileSync(path, 'utf8')) as AllState;
    if (state.version === 1 && Array.isArray(state.imported) && Array.isArray(state.linked)) return state;
  } catch {
    /* reported below */
  }
  throw new TransferError(`${path} is not an import --all state file; delete it to start over`);
}

/**
 * The relation fields a collection's first pass leaves out: the deferred ones, and in a dry run every
 * relation into the import (its target rows are not written, so the check would fail).
 */
function strippedFor(
  c: DirCollection,
  deferred: string[],
  inImport: Set<string>,
  dryRun: boolean,
): StrippedFields {
  const all = new Set(deferred);
  const required = new Set<string>();
  if (dryRun)
    for (const f of c.fields)
      if (f.type === 'relation' && f.collectionId && inImport.has(f.collectionId)) {
        all.add(f.name);
        if (f.required) required.add(f.name);
      }
  return { all, required };
}

/**
 * An export holds no password hashes: an account without a password gets a random one nobody knows, so
 * its owner signs in by a password reset, OTP or OAuth2 (the API requires a password on create).
 */
function withPassword(auth: boolean, body: Record<string, unknown>): Record<string, unknown> {
  if (!auth || (typeof body.password === 'string' && body.password)) return body;
  const password = randomBytes(24).toString('base64url');
  return { ...body, password, passwordConfirm: password };
}
