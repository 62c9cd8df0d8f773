import { badRequest } from '../errors/index.ts';
import type { Collection } from '../schema/index.ts';

export type SortKey =
  | { kind: 'field'; name: string; desc: boolean }
  | { kind: 'random' }
  | { kind: 'rowid'; desc: boolean };

const MAX_SORT_KEYS = 8;
const MAX_SORT_KEY_LENGTH = 255;

/**
 * Parses `sort=-created,title,@random`. Keys name the collection's own fields for now; relation paths
 * arrive with the query-language compiler. Hidden fields sort only for superusers (no leak through order).
 */
export function parseSort(text: string, collection: Collection, isSuperuser: boolean): SortKey[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length > MAX_SORT_KEYS) throw badRequest(`Too many sort expressions (at most ${MAX_SORT_KEYS}).`);
  return parts.map((part) => {
    if (part.length > MAX_SORT_KEY_LENGTH) throw badRequest('Sort expression is too long.');
    const desc = part.startsWith('-');
    const name = part.replace(/^[-+]/, '');
    if (name === '@random') return { kind: 'random' };
    if (name === '@rowid') return { kind: 'rowid', desc };
    const field = collection.fields.find((f) => f.name === name);
    const hidden = field && (field.hidden || field.type === 'password') && !isSuperuser;
    if (!field || hidden || field.type === 'password')
      throw badRequest(`Invalid sort field ${JSON.stringify(name.slice(0, 100))}.`);
    return { kind: 'field', name, desc };
  });
}
