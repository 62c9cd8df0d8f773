import { createReadStream, statSync } from 'node:fs';
import type { App } from '../app.ts';
import { newRecordId, randomStringMatching } from '../lib/index.ts';
import type { Collection } from '../schema/index.ts';
import { createRowMapper, formatOf, parseTransforms, readRecords, TransferError } from '../transfer/index.ts';
import { describeFailure, type PendingRow, writeBatch } from './import-batch.ts';
import {
  clearState,
  defaultStatePath,
  forget,
  type ImportPlan,
  type ImportState,
  resumeHint,
  startState,
  writeState,
} from './import-state.ts';
import { createProgress } from './progress.ts';
import { type Io, parseImportArgs, STDIO } from './transfer-args.ts';

/** The longest record read, in characters: bounds memory on a file with a runaway quote or line. */
const MAX_RECORD_CHARS = 32 * 1024 * 1024;

/**
 * `plinth import COLLECTION FILE|-`: each row goes through the records service's create as a superuser,
 * a batch at a time in one transaction, so validation, hooks and unique checks are the API's.
 */
export async function importCommand(app: App, args: string[], io: Io = STDIO): Promise<number> {
  const { values, positionals } = parseImportArgs(args);
  if (positionals.length !== 2) throw new TransferError('usage: plinth import COLLECTION FILE|- [options]');
  const [name, file] = positionals as [string, string];
  const collection = app.collections.find(name);
  if (!collection) throw new TransferError(`no collection "${name}"`);
  if (collection.type === 'view')
    throw new TransferError(`${name} is a view collection: it has no records to import into`);
  const format = formatOf(values.format, file);
  const dryRun = values['dry-run'] === true;
  const plan: ImportPlan = {
    collection,
    file,
    dryRun,
    keepGoing: dryRun || values['skip-invalid'] === true,
    batchSize: intFlag('--batch', values.batch, 500, 10_000),
    maxErrors: intFlag('--max-errors', values['max-errors'], 100, Number.MAX_SAFE_INTEGER),
    statePath: dryRun ? undefined : (values.state ?? defaultStatePath(file)),
    quiet: values.quiet === true,
    io,
  };
  // Flags are checked before the file is opened or any state read.
  const mapper = createRowMapper(collection, parseTransforms(values), (m) => io.err.write(`${m}\n`));
  const size = file === '-' ? undefined : fileSize(file);
  const state = await startState(app, plan, values.resume === true);
  const bytes = file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 256 * 1024 });
  const counter = { bytes: 0 };
  const records = readRecords(bytes, format, MAX_RECORD_CHARS, counter, mapper.check);
  const progress = createProgress(`import ${collection.name}:`, size, plan.quiet, io.err);
  const started = performance.now();
  const run = { state, failures: 0, rows: 0 };
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
      else batch.push({ line, body: withId(collection, mapped.body) });
      if (batch.length >= plan.batchSize && !(await flush())) return 1;
      progress.update(counter.bytes, run.rows);
    }
    if (!(await flush())) return 1;
  } catch (err) {
    progress.finish();
    const unreadable = (err as NodeJS.ErrnoException).syscall
      ? `cannot read ${file}: ${(err as Error).message}`
      : undefined;
    if (!(err instanceof TransferError) && !unreadable) throw err;
    forget(plan, state);
    io.err.write(`${unreadable ?? (err as Error).message}\n${resumeHint(plan, state)}`);
    return 1;
  }
  progress.finish();
  if (plan.statePath) clearState(plan.statePath);
  const seconds = (performance.now() - started) / 1000;
  const rate = Math.round(run.rows / Math.max(seconds, 0.001));
  const verb = dryRun ? 'would import' : 'imported';
  io.out.write(
    `${verb} ${run.rows} rows into ${collection.name} in ${seconds.toFixed(1)} s (${rate} rows/s)` +
      `${run.failures ? `; ${run.failures} rows ${dryRun ? 'would fail' : 'skipped'}` : ''}` +
      `${dryRun ? '; nothing was written' : ''}\n`,
  );
  return dryRun && run.failures ? 1 : 0;
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
  state.imported += result.written.length;
  state.skipped += result.failures.length;
  run.rows += result.written.length;
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
