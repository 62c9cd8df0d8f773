// The types of log-file-writer.js (plain JavaScript: the SQLite writer thread imports it).
import type { PackedBatch } from './entry-pack.js';

/** SQLite's log file opened for writing. */
export interface LogFile {
  /**
   * Writes a batch (entry-pack.js) in one transaction; answers how many entries could not be written, or
   * undefined (nothing written) when opened with `wait: false` and another connection is writing.
   */
  write(batch: PackedBatch): number | undefined;
  close(): void;
}
/** Opens the log file (its `_logs` table made by the log migrations) with a connection of its own. */
export declare function openLogFile(file: string, options?: { wait?: boolean }): LogFile;
