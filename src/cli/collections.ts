import { readFile, writeFile } from 'node:fs/promises';
import type { App } from '../app.ts';
import { ApiError } from '../errors/index.ts';
import { collectionToJson, type ImportPlan, type PlannedCollection } from '../schema/index.ts';

export interface CollectionsFlags {
  deleteMissing: boolean;
  dryRun: boolean;
  allowDestructive: boolean;
}

/**
 * `plinth collections export [FILE]` writes every collection as the dashboard's export does (JSON, `-` or
 * no FILE for stdout); `plinth collections import FILE` shows what the import changes, then applies it,
 * refusing steps that destroy data unless `--allow-destructive` (`--dry-run` only shows).
 */
export async function collectionsCommand(app: App, args: string[], flags: CollectionsFlags): Promise<number> {
  const [action, file] = args;
  if (action === 'export') {
    const text = `${JSON.stringify(app.collections.list().map(collectionToJson), null, 2)}\n`;
    if (!file || file === '-') process.stdout.write(text);
    else await writeFile(file, text);
    return 0;
  }
  if (action !== 'import' || !file) {
    process.stderr.write(
      'usage: plinth collections export [FILE] | import FILE [--delete-missing] [--dry-run] [--allow-destructive]\n',
    );
    return 2;
  }
  let list: unknown;
  try {
    list = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    process.stderr.write(`plinth: cannot read ${file} as JSON: ${(err as Error).message}\n`);
    return 1;
  }
  // A file holding `{ collections: [...] }` (an import request body) works as well as a bare list.
  const collections = Array.isArray(list) ? list : (list as { collections?: unknown })?.collections;
  try {
    const plan = await app.collections.previewImport(collections, flags.deleteMissing);
    process.stdout.write(describePlan(plan));
    if (flags.dryRun) return 0;
    if (plan.destructive.length && !flags.allowDestructive) {
      process.stderr.write(
        'Nothing was changed: run again with --allow-destructive to accept the loss of data above.\n',
      );
      return 3;
    }
    await app.collections.importCollections(collections, flags.deleteMissing, {
      allowDestructive: flags.allowDestructive,
    });
    process.stdout.write('Imported.\n');
    return 0;
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    const details = Object.values(err.data).map((e) => ` ${(e as { message?: string }).message ?? ''}`);
    process.stderr.write(`plinth: ${err.message}${details.join('')}\n`);
    return 1;
  }
}

/** The plan as lines a person reads before saying yes. */
export function describePlan(plan: ImportPlan): string {
  if (!plan.collections.length) return 'No changes.\n';
  const lines = plan.collections.map(describeCollection);
  if (plan.destructive.length)
    lines.push('', 'Destroys data:', ...plan.destructive.map((d) => `  ! it ${d}`));
  return `${lines.join('\n')}\n`;
}

function describeCollection(c: PlannedCollection): string {
  if (c.action === 'create') return `+ create ${c.type} collection "${c.name}"`;
  if (c.action === 'delete') return `- delete collection "${c.name}" (${c.records ?? 0} records)`;
  const out = [`~ update "${c.name}"${c.renamedFrom ? ` (renamed from "${c.renamedFrom}")` : ''}`];
  const f = c.fields;
  if (f) {
    for (const name of f.added) out.push(`    + field ${name}`);
    for (const r of f.renamed) out.push(`    ~ field ${r.from} → ${r.to}`);
    for (const name of f.changed) out.push(`    ~ field ${name} (options)`);
    for (const r of f.narrowed)
      out.push(`    ~ field ${r.name} to one value (${r.records} records hold more)`);
    for (const r of f.removed) out.push(`    - field ${r.name} (${r.values} records hold a value)`);
  }
  for (const i of c.indexes?.added ?? []) out.push(`    + index ${i}`);
  for (const i of c.indexes?.removed ?? []) out.push(`    - index ${i}`);
  if (c.rules?.length) out.push(`    ~ rules: ${c.rules.join(', ')}`);
  if (c.options?.length) out.push(`    ~ options: ${c.options.join(', ')}`);
  return out.join('\n');
}
