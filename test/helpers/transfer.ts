import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { App } from '../../src/app.ts';
import { transferWithApp } from '../../src/cli/transfer.ts';

/** What one in-process run of `plinth export|import` printed, and its exit code. */
export interface TransferRun {
  code: number;
  out: string;
  err: string;
}

function collect(): { stream: Writable; text: () => string } {
  const parts: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      parts.push(String(chunk));
      cb();
    },
  });
  return { stream, text: () => parts.join('') };
}

/**
 * Runs the command on the test's app in-process (a child process costs seconds of start-up; the CLI
 * tests spawn the real binary for the parts only it has: flags, exit codes, no stack traces).
 */
export async function transfer(app: App, command: 'export' | 'import', args: string[]): Promise<TransferRun> {
  const out = collect();
  const err = collect();
  const code = await transferWithApp(app, command, args, { out: out.stream, err: err.stream });
  return { code, out: out.text(), err: err.text() };
}

/** A scratch folder for input and output files, removed by `done()`. */
export function scratch(): {
  path: (name: string) => string;
  write: (name: string, data: string | Buffer) => string;
  done: () => void;
} {
  const dir = mkdtempSync(join(tmpdir(), 'plinth-transfer-'));
  return {
    path: (name) => join(dir, name),
    write(name, data) {
      const file = join(dir, name);
      writeFileSync(file, data);
      return file;
    },
    done: () => rmSync(dir, { recursive: true, force: true }),
  };
}
