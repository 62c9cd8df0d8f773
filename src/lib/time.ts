/** PocketBase's datetime text form: `2006-01-02 15:04:05.000Z` (UTC). */
export function formatDate(d: Date): string {
  return d.toISOString().replace('T', ' ');
}

let lastMs = Number.NaN;
let lastText = '';

/** Now in that form. The last millisecond's text is kept: under load many writes share one. */
export function nowString(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastText = formatDate(new Date(ms));
  }
  return lastText;
}

/**
 * Parses the date forms clients send (ISO 8601, PocketBase's space-separated form, epoch is not
 * accepted) into PocketBase's text form. Returns undefined for anything that is not a date.
 */
export function normalizeDate(value: unknown): string | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : formatDate(value);
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (!/^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(text))
    return undefined;
  // JS Date rolls impossible dates over (Feb 30 → Mar 1, 24:00 → next day); Go's parser rejects them.
  const [year, month, day] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
  if (day < 1 || day > monthDays || Number(text.slice(11, 13) || 0) > 23) return undefined;
  let iso = text.replace(' ', 'T');
  if (iso.length === 10) iso += 'T00:00:00';
  if (!/(Z|[+-]\d{2}:?\d{2})$/.test(iso)) iso += 'Z';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? undefined : formatDate(d);
}
