/**
 * A problem with the input or the command line that the user can fix: printed as one line (no stack) and
 * the command exits 1. `line` is the 1-based line of the input it was found on, when there is one.
 */
export class TransferError extends Error {
  readonly line: number | undefined;
  constructor(message: string, line?: number) {
    super(line === undefined ? message : `line ${line}: ${message}`);
    this.line = line;
  }
}
