/** What a progress report counts: rows (import, export) or bytes (backup, verify, restore). */
export type ProgressUnit = 'rows' | 'bytes';

/** Reports how far a long job is. */
export interface Progress {
  /**
   * `done` of `total` (the share the bar shows; `total` defaults to the one given at creation, and a job
   * that learns it as it goes passes it here); `count`, in the report's unit, defaults to `done` (an import
   * shows the share of its file read, in bytes, but counts rows). Cheap to call often: it draws at most 10/s.
   */
  update(done: number, total?: number, count?: number): void;
  /** Clears the bar (on a terminal) so the summary that follows starts on a clean line. */
  finish(): void;
}

export interface ProgressOptions {
  unit: ProgressUnit;
  total?: number;
  quiet?: boolean;
  out?: NodeJS.WritableStream & { isTTY?: boolean };
}

const QUIET: Progress = { update() {}, finish() {} };
const WIDTH = 30;

/**
 * One progress report for every long command: a bar on stderr when it is a terminal (redrawn in place),
 * else a plain line every few seconds (a log file gets a record of the pace without a flood of carriage
 * returns).
 */
export function createProgress(label: string, options: ProgressOptions): Progress {
  if (options.quiet) return QUIET;
  const out = options.out ?? process.stderr;
  const tty = out.isTTY === true;
  const started = performance.now();
  const every = tty ? 100 : 5000;
  let last = started;
  let drawn = false;
  return {
    update(done, total = options.total, count = done) {
      const now = performance.now();
      if (now - last < every) return;
      last = now;
      const share = total ? Math.min(1, done / total) : undefined;
      const head = `${label} ${amount(options.unit, count, total, (count / (now - started)) * 1000)}`;
      const percent = share === undefined ? '' : `${Math.floor(share * 100)}%`;
      if (!tty) {
        out.write(`${head}${percent && ` (${percent})`}\n`);
        return;
      }
      const bar =
        share === undefined
          ? ''
          : `[${'#'.repeat(Math.round(share * WIDTH)).padEnd(WIDTH, '-')}] ${percent} `;
      out.write(`\r\x1b[2K${bar}${head}`);
      drawn = true;
    },
    finish() {
      if (drawn) out.write('\r\x1b[2K');
    },
  };
}

/** "40 rows, 12 rows/s" or "12.0 of 45.6 MB, 3.4 MB/s". */
function amount(unit: ProgressUnit, count: number, total: number | undefined, perSecond: number): string {
  if (unit === 'rows') return `${count} rows, ${Math.round(perSecond)} rows/s`;
  const of = total ? ` of ${mb(total)}` : '';
  return `${mb(count)}${of} MB, ${mb(perSecond)} MB/s`;
}

const mb = (bytes: number) => (bytes / 1048576).toFixed(1);
