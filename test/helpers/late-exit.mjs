// Preloaded (`node --import`) into the processes of `plinth serve` by test/worker-stop.test.ts. A worker
// process, once it has nothing left to run, writes `<pid>.ending` to PLINTH_TEST_EXIT_DIR and stays until a
// file `release` appears there (10 s at most), so that a test can signal it in that moment; it writes
// `<pid>.exited` as it exits. A process killed by a signal writes no `.exited`.
import cluster from 'node:cluster';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.PLINTH_TEST_EXIT_DIR;
if (dir && cluster.isWorker) {
  let held = false;
  process.on('beforeExit', () => {
    if (held) return;
    held = true;
    writeFileSync(join(dir, `${process.pid}.ending`), '');
    const until = Date.now() + 10_000;
    const wait = setInterval(() => {
      if (existsSync(join(dir, 'release')) || Date.now() > until) clearInterval(wait);
    }, 20);
  });
  process.on('exit', () => writeFileSync(join(dir, `${process.pid}.exited`), ''));
}
