import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Every key stored in a server's local storage (`<dataDir>/storage`, its temporary folder aside), sorted. */
export function localKeys(dataDir: string): string[] {
  const keys: string[] = [];
  const walk = (dir: string, prefix: string) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === '.tmp') continue;
      if (entry.isDirectory()) walk(join(dir, entry.name), `${prefix}${entry.name}/`);
      else keys.push(prefix + entry.name);
    }
  };
  walk(join(dataDir, 'storage'), '');
  return keys.sort();
}
