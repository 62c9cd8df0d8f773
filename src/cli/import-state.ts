import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { TransferError } from '../transfer/index.ts';

/**
 * Where an import got to, kept in a small file beside the input so that `--resume` continues after the
 * last committed batch. Before each batch commits, `pending` names its last line and the id of its last
 * row: after a crash between the commit and the next state write, that id's presence tells whether the
 * batch went in, so a resume neither loses nor duplicates it.
 */
export interface ImportState {
  version: 1;
  collection: string;
  /** The last input line whose batch committed (0: none yet). */
  committedLine: number;
  imported: number;
  skipped: number;
  pending: { toLine: number; probeId: string; rows: number; skipped: number } | null;
}

/** The state file's default path: beside the input file. */
export function defaultStatePath(file: string): string | undefined {
  return file === '-' ? undefined : `${file}.import-state.json`;
}

/** Reads the state file, or undefined when there is none; a file that is not a state file is an error. */
export function readState(path: string): ImportState | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const state = JSON.parse(readFileSync(path, 'utf8')) as ImportState;
    if (state.version === 1 && typeof state.committedLine === 'number') return state;
  } catch {
    /* reported below */
  }
  throw new TransferError(`${path} is not an import state file; delete it to start over`);
}

/** Replaces the state file atomically (write, then rename): a crash leaves the old state or the new. */
export function writeState(path: string, state: ImportState): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(state));
  renameSync(`${path}.tmp`, path);
}

/** The import finished: nothing to resume. */
export function clearState(path: string): void {
  rmSync(path, { force: true });
}
