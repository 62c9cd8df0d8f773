/** Redraws at most this often: a bar must not cost more than the work it shows. */
const FRAME_MS = 100;
const WIDTH = 30;

/**
 * A progress bar on stderr for long work (backup, restore, verify), drawn only on a terminal: piped or
 * logged output gets the final line alone, not hundreds of carriage returns.
 */
export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr) {
  let last = 0;
  let shown = false;
  const draw = (done: number, total: number) => {
    const share = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(share * WIDTH);
    stream.write(
      `\r${label} [${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${(share * 100).toFixed(0).padStart(3)}% ${mb(done)}/${mb(total)} MB`,
    );
    shown = true;
  };
  return {
    update(done: number, total: number) {
      if (!stream.isTTY) return;
      const now = performance.now();
      if (now - last < FRAME_MS && done < total) return;
      last = now;
      draw(done, total);
    },
    done() {
      if (shown) stream.write('\n');
    },
  };
}

const mb = (bytes: number) => (bytes / 1048576).toFixed(1);
