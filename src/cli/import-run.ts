import { createReadStream, statSync } from 'node:fs';
import type { App } from '../app.ts';
import { newRecordId, randomStringMatching } from '../lib/index.ts';
import type { Collection } from '../schema/index.ts';
import { readRecords, TransferError } from '../transfer/index.ts';
import { describeFailure, type PendingRow, writeBatch } from './import-batch.ts';
import {
  clearState,
  forget,
  type ImportPlan,
  type ImportState,
  resumeHint,
  startState,
  writeState,
} from './import-state.ts';
import { createProgress } from './progress.ts';
import type { ImportFlags, Io } from './transfer-args.ts';

/** The longest record read, in characters: bounds memory on a file with a runaway quote or line. */
const MAX_RECORD_CHARS = 32 * 1024 * 1024;

/** The parts of a plan that come from flags every import takes, `--all` included. */
export function commonPlan(values: ImportFlags, io: Io) {
  const dryRun = values['dry-run'] === true;
  return {
    dryRun,
    keepGoing: dryRun || values['skip-invalid'] === true,
    batchSize: intFlag('--batch', values.batch, 500, 10_000),
    maxErrors: intFlag('--max-errors', values['max-errors'], 100, Number.MAX_SAFE_INTEGER),
    quiet: values.quiet === true,
    io,
  };
}

/** How one file's import ended: its exit code, the rows written (or that would be) and the rows refused. */
export interface ImportResult {
  code: number;
  rows: number;
  failures: number;
}

/**
 * Reads one file into one collection, a batch per transaction, keeping the resume point; prints the
 * summary line. Input problems end it with code 1 and a message, not an exception.
 */
export async function runImport(app: App, plan: ImportPlan, resume: boolean): Promise<ImportResult> {
  const { collection, file, format, mapper, io } = plan;
  const size = file === '-' ? undefined : fileSize(file);
  const state = await startState(app, plan, resume);
  const bytes = file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 256 * 1024 });
  const counter = { bytes: 0 };
  const records = readRecords(bytes, format, MAX_RECORD_CHARS, counter, mapper.check);
  const progress = createProgress(`${plan.words?.task ?? 'import'} ${collection.name}:`, {
    unit: 'rows',
    total: size,
    quiet: plan.quiet,
    out: io.err,
  });
  const started = performance.now();
  const run = { state, failures: 0, rows: 0 };
  const stop = () => ({ code: 1, rows: run.rows, failures: run.failures });
  let batch: PendingRow[] = [];
  const flush = async () => {
    const ok = await commitBatch(app, plan, run, batch);
    batch = [];
    return ok;
  };
  try {
    for await (const { line, source } of records) {
      if (line <= state.committedLine) continue;
      const mapped = mapper.map(source, line, format === 'csv');
      if ('errors' in mapped) batch.push({ line, body: {}, errors: mapped.errors });
      else {
        const body = plan.adjust ? plan.adjust(mapped.body) : mapped.body;
        if (body) batch.push({ line, body: plan.write ? body : withId(collection, body) });
      }
      if (batch.length >= plan.batchSize && !(await flush())) return stop();
      progress.update(counter.bytes, size, run.rows);
    }
    if (!(await flush())) return stop();
  } catch (err) {
    progress.finish();
    const unreadable = (err as NodeJS.ErrnoException).syscall
      ? `cannot read ${file}: ${(err as Error).message}`
      : undefined;
    if (!(err instanceof TransferError) && !unreadable) throw err;
    forget(plan, state);
    io.err.write(`${unreadable ?? (err as Error).message}\n${resumeHint(plan, state)}`);
    return stop();
  }
  progress.finish();
  if (plan.statePath) clearState(plan.statePath);
  const seconds = (performance.now() - started) / 1000;
  const rate = Math.round(run.rows / Math.max(seconds, 0.001));
  const words = plan.words ?? { task: 'import', done: 'imported', dry: 'would import', to: 'into' };
  io.out.write(
    `${plan.dryRun ? words.dry : words.done} ${run.rows} rows ${words.to} ${collection.name} in ${seconds.toFixed(1)} s (${rate} rows/s)` +
      `${run.failures ? `; ${run.failures} rows ${plan.dryRun ? 'would fail' : 'skipped'}` : ''}` +
      `${plan.dryRun ? '; nothing was written' : ''}\n`,
  );
  return { code: plan.dryRun && run.failures ? 1 : 0, rows: run.rows, failures: run.failures };
}

/**
 * Writes one batch and records how far the import got. Answers false when the import must stop: a row
 * failed (and `--skip-invalid` is off) or the error limit is reached.
 */
async function commitBatch(
  app: App,
  plan: ImportPlan,
  run: { state: ImportState; failures: number; rows: number },
  batch: PendingRow[],
): Promise<boolean> {
  if (!batch.length) return true;
  const { state } = run;
  const toLine = batch.at(-1)!.line;
  const save = () => plan.statePath && writeState(plan.statePath, state);
  const result = await writeBatch(app, plan.collection, batch, {
    dryRun: plan.dryRun,
    keepGoing: plan.keepGoing,
    write: plan.write,
    async beforeAttempt(rows, refused) {
      if (!plan.statePath) return;
      // An id that exists already cannot tell whether this batch committed (and dooms the batch anyway).
      const last = String(rows.at(-1)?.body.id ?? '');
      const probeId = last && !(await app.records.find(plan.collection, last)) ? last : '';
      state.pending = { toLine, probeId, rows: rows.length, skipped: refused };
      save();
    },
  });
  state.pending = null;
  // A row refused only for a value the dry run had to leave out would have gone in: it counts as written.
  const ignored = plan.ignore ? result.failures.filter(plan.ignore).length : 0;
  if (ignored) result.failures = result.failures.filter((f) => !plan.ignore!(f));
  for (const f of result.failures.slice(0, Math.max(0, plan.maxErrors - run.failures)))
    plan.io.err.write(`${describeFailure(f)}\n`);
  run.failures += result.failures.length;
  if (!plan.keepGoing && result.failures.length) {
    forget(plan, state);
    const from = batch[0]!.line;
    plan.io.err.write(
      `nothing of lines ${from}-${toLine} was written (the batch is one transaction).\n${resumeHint(plan, state)}`,
    );
    return false;
  }
  state.committedLine = toLine;
  state.imported += result.written.length + ignored;
  state.skipped += result.failures.length;
  run.rows += result.written.length + ignored;
  save();
  if (run.failures >= plan.maxErrors) {
    plan.io.err.write(
      `stopped after ${run.failures} refused rows (--max-errors ${plan.maxErrors}).\n${resumeHint(plan, state)}`,
    );
    return false;
  }
  return true;
}

/** Gives a row without an id one now, as the API would: the resume probe needs to know it in advance. */
function withId(collection: Collection, body: Record<string, unknown>): Record<string, unknown> {
  if (body.id !== undefined && body.id !== null && body.id !== '') return body;
  const pattern = collection.fields.find((f) => f.name === 'id')?.autogeneratePattern;
  const custom = typeof pattern === 'string' && pattern && pattern !== '[a-z0-9]{15}';
  return { ...body, id: custom ? randomStringMatching(pattern) : newRecordId() };
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch (err) {
    throw new TransferError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

function intFlag(flag: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1 || n > max)
    throw new TransferError(`${flag} must be a whole number from 1 to ${max}`);
  return n;
}
