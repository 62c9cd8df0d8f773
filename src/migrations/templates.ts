import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Collection, type CollectionChange, collectionToJson } from '../schema/index.ts';

/** This module's folder: generated files import their types from it (erased when they run). */
const TYPES = fileURLToPath(new URL('./index.ts', import.meta.url));

/**
 * The file's first lines: a type-only import (type stripping removes it, so a path that does not resolve
 * on another machine costs nothing at run time) for editors' completion and `tsc`.
 */
function head(dir: string, note: string): string {
  let from = relative(dir, TYPES).split('\\').join('/');
  if (!from.startsWith('.')) from = `./${from}`;
  return `// ${note}\nimport type { AppMigration } from '${from}';\n\n`;
}

function body(up: string, down: string): string {
  return `export default {\n  async up(m) {\n${up}\n  },\n  async down(m) {\n${down}\n  },\n} satisfies AppMigration;\n`;
}

/** `migrate create NAME`: a blank migration to fill in. */
export function blankMigration(dir: string): string {
  return (
    head(dir, 'A Plinth app migration: `up` applies it, `down` reverts it (docs/migrations.md).') +
    body(
      '    // await m.collections.create({ name: "posts", type: "base", fields: [] });',
      '    // await m.collections.remove("posts");',
    )
  );
}

/**
 * A collection as a migration carries it: the API's JSON (secrets are never in it; the store keeps the
 * stored ones on update and makes new ones on create), without the timestamps that would only add noise.
 */
export function collectionSource(c: Collection): Record<string, unknown> {
  const { created: _c, updated: _u, ...rest } = collectionToJson(c);
  return rest;
}

const literal = (value: unknown) => JSON.stringify(value, null, 2).replaceAll('\n', '\n    ');

/** `migrate collections`: imports every given collection (existing ones are updated, none deleted). */
export function snapshotMigration(dir: string, collections: Collection[]): string {
  const list = literal(collections.map(collectionSource));
  return (
    head(dir, 'A snapshot of the collections, written by `plinth migrate collections`.') +
    body(
      `    await m.collections.importCollections(${list}, false);`,
      '    // A snapshot has no previous state to return to.',
    )
  );
}

/** The action a collection change was, as its file name says it. */
export function changeAction(change: CollectionChange): 'created' | 'updated' | 'deleted' {
  return change.before ? (change.after ? 'updated' : 'deleted') : 'created';
}

/** Automigrate: `up` brings the collection to its state after the change, `down` back to before it. */
export function changeMigration(dir: string, change: CollectionChange): string {
  const { before, after } = change;
  const create = (c: Collection) => `    await m.collections.create(${literal(collectionSource(c))});`;
  const update = (c: Collection) =>
    `    await m.collections.update(${JSON.stringify(c.id)}, ${literal(collectionSource(c))});`;
  const remove = (c: Collection) => `    await m.collections.remove(${JSON.stringify(c.id)});`;
  const note = `Written by automigrate: collection ${(after ?? before)!.name} ${changeAction(change)}.`;
  if (before && after) return head(dir, note) + body(update(after), update(before));
  if (after) return head(dir, note) + body(create(after), remove(after));
  return head(dir, note) + body(remove(before!), create(before!));
}
