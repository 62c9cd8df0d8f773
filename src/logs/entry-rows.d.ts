// The types of entry-rows.js (plain JavaScript: the SQLite writer thread imports it).

/** Values per entry (entry-rows.js lists its slots). */
export declare const FIELDS: number;
/** One entry as written: time (ms), level, message, and its data as JSON text. */
export type QueuedEntry = [time: number, level: number, message: string, data: string];
/**
 * A maker of rows: an entry's FIELDS values as a row's values. With `messageFromData`, a request entry's
 * message is null when its data's method and URL make it.
 */
export declare function entryRows(): (slots: readonly unknown[]) => QueuedEntry;
export declare function entryRows(options: {
  messageFromData: true;
}): (slots: readonly unknown[]) => [time: number, level: number, message: string | null, data: string];
/** U+0000 (and its JSON escape) as U+FFFD. */
export declare function noNul(value: string): string;
/** A maker of the `created` column for entries made at `time`, in time order. */
export declare function createdDates(): (time: number) => string;
/** A maker of time-ordered log ids. */
export declare function orderedIds(): (time: number) => string;
/** The id prefix of an entry made at `time`. */
export declare function idBefore(time: number): string;
