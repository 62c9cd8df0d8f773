/** Reports how far a long import or export is. */
export interface Progress {
  /** `done` of `total` units (bytes or rows); `rows` so far. Cheap to call often: it draws at most 10/s. */
  update(done: number, rows: number): void;
  /** Clears the bar (on a terminal) so the summary that follows starts on a clean line. */
  finish(): void;
}

const QUIET: Progress = { update() {}, finish() {} };

/**
 * A progress bar on stderr when it is a terminal (redrawn in place), else a plain line every few seconds
 * (a log file gets a record of the pace without a flood of carriage returns).
 */
export function createProgress(
  label: string,
  total: number | undefined,
  quiet: boolean,
  out: NodeJS.WritableStream & { isTTY?: boolean },
): Progress {
  if (quiet) return QUIET;
  const tty = out.isTTY === true;
  const started = performance.now();
  const every = tty ? 100 : 5000;
  let last = started;
  let drawn = false;
  return {
    update(done, rows) {
      const now = performance.now();
      if (now - last < every) return;
      last = now;
      const rate = Math.round(rows / ((now - started) / 1000));
      const share = total ? Math.min(1, done / total) : undefined;
      const head = `${label} ${rows} rows, ${rate} rows/s`;
      if (!tty) {
        out.write(`${head}${share === undefined ? '' : ` (${Math.floor(share * 100)}%)`}\n`);
        return;
      }
      const width = 30;
      const bar =
        share === undefined
          ? ''
          : `[${'#'.repeat(Math.round(share * width)).padEnd(width, '-')}] ${Math.floor(share * 100)}% `;
      out.write(`\r\x1b[2K${bar}${head}`);
      drawn = true;
    },
    finish() {
      if (drawn) out.write('\r\x1b[2K');
    },
  };
}
