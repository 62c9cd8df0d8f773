// The types of entry-rows.js (plain JavaScript: the SQLite writer thread imports it).

/** Slots per entry in a batch. */
export declare const FIELDS: number;
/** One entry as written: time (ms), level, message, and its data as JSON text. */
export type QueuedEntry = [time: number, level: number, message: string, data: string];
/** A maker of rows: the entry at `at` of a flat batch as a row's values. */
export declare function entryRows(): (batch: readonly unknown[], at: number) => QueuedEntry;
/** U+0000 (and its JSON escape) as U+FFFD. */
export declare function noNul(value: string): string;
/** A maker of the `created` column for entries made at `time`, in time order. */
export declare function createdDates(): (time: number) => string;
/** A maker of time-ordered log ids. */
export declare function orderedIds(): (time: number) => string;
/** The id prefix of an entry made at `time`. */
export declare function idBefore(time: number): string;
