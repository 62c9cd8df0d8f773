import type { App } from '../app.ts';
import { createRowMapper, formatOf, parseTransforms, TransferError } from '../transfer/index.ts';
import { importAll } from './import-all.ts';
import { commonPlan, runImport } from './import-run.ts';
import { defaultStatePath, type ImportPlan } from './import-state.ts';
import { type Io, parseImportArgs, STDIO } from './transfer-args.ts';

/**
 * `plinth import COLLECTION FILE|-`: each row goes through the records service's create as a superuser,
 * a batch at a time in one transaction, so validation, hooks and unique checks are the API's.
 */
export async function importCommand(app: App, args: string[], io: Io = STDIO): Promise<number> {
  const { values, positionals } = parseImportArgs(args);
  if (values.all) return importAll(app, positionals, values, io);
  if (positionals.length !== 2) throw new TransferError('usage: plinth import COLLECTION FILE|- [options]');
  const [name, file] = positionals as [string, string];
  const collection = app.collections.find(name);
  if (!collection) throw new TransferError(`no collection "${name}"`);
  if (collection.type === 'view')
    throw new TransferError(`${name} is a view collection: it has no records to import into`);
  const dryRun = values['dry-run'] === true;
  const plan: ImportPlan = {
    ...commonPlan(values, io),
    collection,
    file,
    format: formatOf(values.format, file),
    // Flags are checked before the file is opened or any state read.
    mapper: createRowMapper(collection, parseTransforms(values), (m) => io.err.write(`${m}\n`)),
    statePath: dryRun ? undefined : (values.state ?? defaultStatePath(file)),
  };
  return (await runImport(app, plan, values.resume === true)).code;
}
