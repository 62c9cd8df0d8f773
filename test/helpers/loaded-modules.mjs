// Preloaded (`node --import`) into a server process by test/start-modules.test.ts: records every module the
// process loads, Node's own and files, and writes the list to PLINTH_TEST_LOADED_REPORT (one file per
// process, named by its pid) when the process exits.
import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { join } from 'node:path';

const files = new Set();
registerHooks({
  load(url, context, nextLoad) {
    files.add(url);
    return nextLoad(url, context);
  },
});
process.on('exit', () => {
  const builtins = process.moduleLoadList
    .filter((m) => m.startsWith('NativeModule '))
    .map((m) => m.slice(13));
  const report = join(process.env.PLINTH_TEST_LOADED_REPORT ?? '.', `${process.pid}.json`);
  // A worker of `plinth serve --workers N` runs Node's cluster child side; the primary does not.
  const worker = builtins.includes('internal/cluster/child');
  writeFileSync(report, JSON.stringify({ worker, builtins, files: [...files] }));
});
