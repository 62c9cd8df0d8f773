import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { App } from '../app.ts';
import type { Collection } from '../schema/index.ts';
import { type Format, type RowMapper, TransferError } from '../transfer/index.ts';
import type { RowFailure, RowWrite } from './import-batch.ts';
import type { Io } from './transfer-args.ts';

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
export function writeState(path: string, state: object): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(state));
  renameSync(`${path}.tmp`, path);
}

/** The import finished: nothing to resume. */
export function clearState(path: string): void {
  rmSync(path, { force: true });
}

/** What one run of `plinth import` does, from its flags (`import --all` makes one per file and pass). */
export interface ImportPlan {
  collection: Collection;
  file: string;
  format: Format;
  mapper: RowMapper;
  dryRun: boolean;
  keepGoing: boolean;
  batchSize: number;
  maxErrors: number;
  statePath: string | undefined;
  quiet: boolean;
  io: Io;
  /** Changes a mapped row before it is written; undefined leaves the row out (it is not counted). */
  adjust?: (body: Record<string, unknown>) => Record<string, unknown> | undefined;
  /** How a row is written (default: create). */
  write?: RowWrite;
  /** A refusal that does not count (a dry run's check of a value it had to leave out). */
  ignore?: (failure: RowFailure) => boolean;
  /** The words of the progress and summary lines: the task, the verb, its dry-run form, the preposition. */
  words?: { task: string; done: string; dry: string; to: string };
  /** The caller says how to go on after a failure (`import --all` resumes as a whole). */
  ownHint?: boolean;
}

/** Keeps the resume point after a failure, or, when nothing was imported yet, removes it. */
export function forget(plan: ImportPlan, state: ImportState): void {
  state.pending = null;
  if (!plan.statePath) return;
  if (state.committedLine > 0) writeState(plan.statePath, state);
  else clearState(plan.statePath);
}

/** What to tell the user about going on after a failure. */
export function resumeHint(plan: ImportPlan, state: ImportState): string {
  if (plan.dryRun || plan.ownHint) return '';
  if (state.committedLine === 0) return 'Nothing was imported: fix the input and run the command again.\n';
  if (!plan.statePath) return 'Reading from stdin without --state: no resume point was kept.\n';
  return (
    `${state.imported} rows are in ${plan.collection.name} (input through line ${state.committedLine}). ` +
    `Fix the input and run the same command with --resume to continue after that line.\n`
  );
}

/**
 * Reads or starts the resume state. A leftover state file without `--resume` is refused: running the
 * import again from the top would duplicate the rows already written.
 */
export async function startState(app: App, plan: ImportPlan, resume: boolean): Promise<ImportState> {
  const fresh: ImportState = {
    version: 1,
    collection: plan.collection.name,
    committedLine: 0,
    imported: 0,
    skipped: 0,
    pending: null,
  };
  if (!plan.statePath) {
    if (resume)
      throw new TransferError(
        plan.dryRun ? '--dry-run and --resume do not go together' : '--resume on stdin needs --state FILE',
      );
    return fresh;
  }
  const state = readState(plan.statePath);
  if (!state) {
    if (resume) throw new TransferError(`nothing to resume: no state file ${plan.statePath}`);
    return fresh;
  }
  if (!resume)
    throw new TransferError(
      `an earlier import of ${plan.file} stopped after line ${state.committedLine} (${plan.statePath}): ` +
        'add --resume to continue it, or delete that file to start over',
    );
  if (state.collection !== plan.collection.name)
    throw new TransferError(
      `${plan.statePath} is an import into ${state.collection}, not ${plan.collection.name}`,
    );
  if (state.pending) {
    // Did the batch in flight commit before the crash? Its last row's id says.
    if (state.pending.probeId && (await app.records.find(plan.collection, state.pending.probeId))) {
      state.committedLine = state.pending.toLine;
      state.imported += state.pending.rows;
      state.skipped += state.pending.skipped;
    }
    state.pending = null;
    writeState(plan.statePath, state);
  }
  plan.io.err.write(`resuming after line ${state.committedLine} (${state.imported} rows already imported)\n`);
  return state;
}
