import { FilterError } from './errors.ts';

/** A `fields` selection as a tree: `null` keeps the whole value, a subtree picks inside it. */
export interface FieldsTree {
  all: boolean;
  keys: Map<string, FieldsTree | Excerpt | null>;
}

interface Excerpt {
  excerpt: number;
  ellipsis: boolean;
}

const MAX_FIELDS_LENGTH = 2000;

/** Parses `id,title,expand.author.name,body:excerpt(200,true)`. */
export function parseFields(text: string): FieldsTree | undefined {
  if (text.length > MAX_FIELDS_LENGTH) throw new FilterError(`longer than ${MAX_FIELDS_LENGTH} characters`);
  const root: FieldsTree = { all: false, keys: new Map() };
  let any = false;
  for (const item of splitTopLevel(text)) {
    const trimmed = item.trim();
    if (!trimmed) continue;
    any = true;
    const m = /^([^:]+?)(?::excerpt\(\s*(\d+)\s*(?:,\s*(true|false|1|0)\s*)?\))?$/.exec(trimmed);
    if (!m) throw new FilterError(`invalid field "${trimmed.slice(0, 40)}"`);
    const path = (m[1] as string).split('.');
    const leaf: Excerpt | null = m[2]
      ? { excerpt: Number(m[2]), ellipsis: m[3] === 'true' || m[3] === '1' }
      : null;
    let node = root;
    path.forEach((segment, i) => {
      if (segment === '*') {
        node.all = true;
        return;
      }
      if (i === path.length - 1) {
        if (!node.keys.has(segment) || leaf) node.keys.set(segment, leaf);
        return;
      }
      let next = node.keys.get(segment);
      if (!next || !('keys' in next)) {
        next = { all: false, keys: new Map() };
        node.keys.set(segment, next);
      }
      node = next;
    });
  }
  return any ? root : undefined;
}

function splitTopLevel(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const c of text) {
    if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    if (c === ',' && depth === 0) {
      out.push(current);
      current = '';
    } else current += c;
  }
  out.push(current);
  return out;
}

/** Keeps the selected keys of a JSON value (objects, and each object of a list). */
export function pickFields(value: unknown, tree: FieldsTree): unknown {
  if (Array.isArray(value)) return value.map((v) => pickFields(v, tree));
  if (typeof value !== 'object' || value === null) return value;
  const source = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  if (tree.all) Object.assign(out, source);
  for (const [key, sub] of tree.keys) {
    if (!Object.hasOwn(source, key)) continue;
    const v = source[key];
    if (sub === null) out[key] = v;
    else if ('excerpt' in sub) out[key] = typeof v === 'string' ? excerpt(v, sub.excerpt, sub.ellipsis) : v;
    else out[key] = pickFields(v, sub);
  }
  return out;
}

/** Plain text of (possibly HTML) `text`, cut to `max` characters. */
export function excerpt(text: string, max: number, ellipsis: boolean): string {
  const plain = text
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = [...plain];
  if (chars.length <= max) return plain;
  const cut = chars.slice(0, max).join('').trimEnd();
  return ellipsis ? `${cut}...` : cut;
}
