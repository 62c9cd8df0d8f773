/** A damaged, foreign or hostile archive: the message says what is wrong, for a 400 or the CLI. */
export class ArchiveError extends Error {}
