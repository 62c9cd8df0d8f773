// Enforces the layer table of src/: which top-level folder may import which.
// Run: node scripts/check-layers.ts  (exit 1 on violations, warnings never fail)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const BASE = ['lib', 'errors'];
const CORE = [...BASE, 'config', 'log'];

/** Folder (or top-level file stem) -> folders it may import. '*' means anything. */
export const LAYERS: Record<string, readonly string[] | '*'> = {
  lib: [],
  errors: ['lib'],
  config: BASE,
  log: [...BASE, 'config'],
  hooks: BASE,
  db: CORE,
  storage: CORE,
  mail: CORE,
  bus: CORE,
  schema: [...CORE, 'db', 'hooks'],
  query: [...CORE, 'schema', 'db'],
  records: [...CORE, 'query', 'schema', 'storage', 'hooks', 'db', 'bus'],
  auth: [...CORE, 'records', 'schema', 'mail', 'db', 'bus', 'hooks', 'query'],
  realtime: [...CORE, 'records', 'query', 'hooks', 'bus', 'schema', 'db'],
  logs: [...CORE, 'query', 'schema', 'db'],
  migrations: [...CORE, 'schema', 'records', 'db'],
  transfer: [...BASE, 'schema'],
  backups: [...CORE, 'db', 'schema', 'storage'],
  app: '*',
  cli: '*',
};
LAYERS.http = Object.keys(LAYERS).filter((k) => k !== 'app' && k !== 'cli');

const OUTSIDE_ROOTS = new Set(['test', 'bench', 'ui']);
const SOURCE_EXT = /\.[cm]?[jt]sx?$/;
const REGEX_PREV = /^$|[(,=:[!&|?{};+\-*%<>~^]/;

/**
 * Blanks out comments and the contents of string, template and regex literals, keeping every
 * offset and newline, so only real import statements match; specifiers are read back from the source.
 */
export function maskSource(src: string): string {
  let out = '';
  let prev = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    const next = src[i + 1];
    if (c === '/' && (next === '/' || next === '*')) {
      const close = next === '/' ? src.indexOf('\n', i) : src.indexOf('*/', i + 2);
      const stop = close === -1 ? src.length : next === '/' ? close : close + 2;
      out += src.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (c === "'" || c === '"' || c === '`' || (c === '/' && REGEX_PREV.test(prev))) {
      // String, template or regex literal: keep the delimiters, mask the contents.
      let j = i + 1;
      let inClass = false;
      for (; j < src.length; j++) {
        const d = src[j];
        if (d === '\\') j++;
        else if (d === '\n' && c !== '`') break;
        else if (c === '/' && (d === '[' || d === ']')) inClass = d === '[';
        else if (d === c && !inClass) break;
      }
      out += c + src.slice(i + 1, j).replace(/[^\n]/g, 'x') + (src[j] ?? '');
      prev = c;
      i = j + 1;
    } else {
      out += c;
      if (!/\s/.test(c)) prev = c;
      i++;
    }
  }
  return out;
}

const STATIC_IMPORT = /^[ \t]*(?:import|export)(?:\s[^'"`;=()]*?\sfrom)?\s*['"]([^'"\n]+)['"]/gm;
const DYNAMIC_IMPORT = /(?<![.\w$])import\s*\(\s*(['"`])([^'"`\n]+)\1/g;

/** Every module specifier in `source` with its 1-based line number, in source order. */
export function findImports(source: string): { specifier: string; line: number }[] {
  const code = maskSource(source);
  const matches = [...code.matchAll(STATIC_IMPORT), ...code.matchAll(DYNAMIC_IMPORT)];
  return matches
    .map((m) => {
      const end = m.index + m[0].length - 1; // the closing quote; the specifier sits right before it
      const index = end - m.at(-1)!.length;
      return { specifier: source.slice(index, end), index };
    })
    .filter(({ specifier }) => !specifier.includes('${'))
    .sort((a, b) => a.index - b.index)
    .map(({ specifier, index }) => ({ specifier, line: code.slice(0, index).split('\n').length }));
}

/** 'src/db/pool.ts' -> 'db', 'src/app.ts' -> 'app'. */
const layerOf = (path: string): string => (path.split('/')[1] ?? '').replace(SOURCE_EXT, '');

/** Checks files keyed by repo-relative posix path ('src/db/index.ts') against the layer table. */
export function checkLayers(files: Map<string, string> | Record<string, string>): {
  errors: string[];
  warnings: string[];
} {
  const errors: string[] = [];
  const warnings: string[] = [];
  const entries = files instanceof Map ? [...files] : Object.entries(files);
  for (const [file, source] of entries.sort(([a], [b]) => (a < b ? -1 : 1))) {
    const from = layerOf(file);
    const allowed = LAYERS[from];
    if (!allowed) warnings.push(`${file}: ${from} is not in the layer table, its imports are not checked`);
    for (const { specifier, line } of findImports(source)) {
      if (!specifier.startsWith('.') && !specifier.startsWith('/')) continue; // node: builtin or package
      const target = posix.normalize(posix.join(posix.dirname(file), specifier));
      const [root, , ...rest] = target.split('/');
      const at = `${file}:${line} imports ${specifier}`;
      if (root !== 'src' || specifier.startsWith('/')) {
        const why = OUTSIDE_ROOTS.has(root!)
          ? `layer ${from} may not import layer ${root}`
          : 'import leaves src/';
        errors.push(`${at} (${why})`);
        continue;
      }
      const to = layerOf(target);
      if (to === from || !allowed) continue;
      if (allowed !== '*' && !allowed.includes(to)) {
        errors.push(`${at} (layer ${from} may not import layer ${to})`);
      } else if (rest.length > 0 && !/^index\.[cm]?[jt]s$/.test(rest.join('/'))) {
        warnings.push(`${at} (reaches into ${to} internals; import src/${to}/index.ts instead)`);
      }
    }
  }
  return { errors, warnings };
}

/** Reads every source file under `<root>/src` into a map keyed by repo-relative posix path. */
export function readSources(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const srcDir = join(root, 'src');
  if (!existsSync(srcDir)) return files;
  for (const rel of readdirSync(srcDir, { recursive: true, encoding: 'utf8' })) {
    const path = rel.replaceAll('\\', '/');
    if (!SOURCE_EXT.test(path) || path.includes('node_modules/')) continue;
    if (statSync(join(srcDir, path)).isFile()) {
      files.set(`src/${path}`, readFileSync(join(srcDir, path), 'utf8'));
    }
  }
  return files;
}

if (import.meta.main) {
  const files = readSources(fileURLToPath(new URL('..', import.meta.url)));
  const { errors, warnings } = checkLayers(files);
  for (const w of warnings) console.warn(`warn: ${w}`);
  for (const e of errors) console.error(e);
  if (errors.length > 0) {
    console.error(`layers: ${errors.length} violation(s) in ${files.size} files`);
    process.exitCode = 1;
  } else {
    console.log(`layers ok (${files.size} files)`);
  }
}
