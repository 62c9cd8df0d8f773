// Turns the request path's raw facts into `_logs` rows. Plain JavaScript because the SQLite writer thread
// (log-writer-worker.js) imports it too, and a worker loading TypeScript pays for its own copy of Node's
// type stripper; its types are in entry-rows.d.ts.
//
// Why raw facts: on the get-by-id bench, building each entry's data object and JSON on the event loop,
// and keeping those objects until the batch was written, cost more than the row itself (docs/benchmarks.md,
// "Request logs"). The request path now only copies a few values it already has into a batch's bytes
// (entry-pack.js); everything made of them (message, data JSON, redaction, id, date) is made here, in the
// writer.
import { randomBytes } from 'node:crypto';

/** Values per entry: its slots, below (entry-pack.js packs them; `entryRows` reads them from an array). */
export const FIELDS = 12;
// A request entry's slots: 0 time (ms), 1 status, 2 execTime (ms), 3 method, 4 url (as received),
// 5 referer, 6 user agent, 7 auth collection name, 8 auth id ('' when not logged), 9 user IP and
// 10 remote IP (undefined when not logged), 11 the error part of the data as JSON text (`"error":…,
// "details":…`) or undefined. Any other entry (`add`) has status -1, the level in slot 2, the message in 3
// and the data as JSON text in 4.

/** slog's levels, as PocketBase stores them. */
const INFO = 0;
const ERROR = 8;

const cut = (text, max) => (text.length > max ? `${text.slice(0, max)}...` : text);
const finite = (n) => (Number.isFinite(n) ? n : 0);
const text = (value) => (typeof value === 'string' ? value : '');

/** File tokens travel in `?token=`: never kept in a log that outlives them. */
const redacted = (url) => (url.includes('token=') ? url.replace(/([?&]token=)[^&#]*/gi, '$1***') : url);

function decoded(url) {
  if (!url.includes('%')) return url;
  try {
    return decodeURI(url);
  } catch {
    return url;
  }
}

/** Upper case as PocketBase logs it: most methods already are, and then no new string is made. */
const upper = (method) => (method === 'GET' || method === 'POST' ? method : method.toUpperCase());

/**
 * The JSON text of a value cut to `max`, kept for the next call: the referer, user agent, caller and
 * addresses of most entries are the last one's, and comparing two short strings costs less than writing one.
 */
function lastJson(max) {
  let last;
  let json = '""';
  return (value) => {
    if (value !== last) {
      last = value;
      json = JSON.stringify(cut(text(value), max));
    }
    return json;
  };
}

/**
 * A maker of rows: each call turns an entry's FIELDS values (the slots above) into
 * [time, level, message, data JSON], PocketBase's request entry (`type: "request"`, URL, method, status,
 * time, caller, addresses as the settings allowed). One per writer: it keeps the last entry's texts.
 * `messageFromData`: a request entry's message is null when it is its data's method, a space and its
 * data's URL (no `%` to decode): SQLite's log table stores no such message (table.ts, logs_0003).
 */
export function entryRows({ messageFromData = false } = {}) {
  const methodJson = lastJson(50);
  const refererJson = lastJson(2000);
  const agentJson = lastJson(2000);
  const authJson = lastJson(Number.POSITIVE_INFINITY);
  const userIPJson = lastJson(Number.POSITIVE_INFINITY);
  const remoteIPJson = lastJson(Number.POSITIVE_INFINITY);
  return (slots) => {
    const time = slots[0];
    const status = slots[1];
    if (status === -1) return [time, slots[2], slots[3], slots[4]];
    const method = upper(text(slots[3]));
    const url = redacted(cut(text(slots[4]), 3000));
    const authId = slots[8];
    const userIP = slots[9];
    const error = slots[11];
    const data =
      `{"type":"request","execTime":${finite(slots[2])},"url":${JSON.stringify(url)},"method":${methodJson(method)},"status":${status}` +
      `,"referer":${refererJson(slots[5])},"userAgent":${agentJson(slots[6])},"auth":${authJson(slots[7])}` +
      `${error === undefined ? '' : `,${error}`}${authId ? `,"authId":${JSON.stringify(authId)}` : ''}` +
      `${userIP === undefined ? '' : `,"userIP":${userIPJson(userIP)},"remoteIP":${remoteIPJson(slots[10])}`}}`;
    const shown = decoded(url);
    const message = messageFromData && shown === url ? null : `${cut(method, 50)} ${shown}`;
    return [time, status >= 400 ? ERROR : INFO, message, data];
  };
}

/**
 * U+0000 (and its JSON escape) as U+FFFD: PostgreSQL stores neither, and a URL with `%00` in it must still
 * be logged.
 */
export const noNul = (value) =>
  value.includes('\u0000') || value.includes('\\u0000')
    ? value.replaceAll('\u0000', '\ufffd').replaceAll('\\u0000', '\\ufffd')
    : value;

/**
 * The `created` column (PocketBase's date format) of each entry in turn. Entries come in time order, many
 * within the same millisecond, so the last one's is kept: formatting a date cost more than the rest of
 * the row's values together (docs/benchmarks.md, "Request logs").
 */
export function createdDates() {
  let last = Number.NaN;
  let text = '';
  return (time) => {
    if (time !== last) {
      last = time;
      text = new Date(time).toISOString().replace('T', ' ');
    }
    return text;
  };
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/**
 * Log ids: 15 characters of a–z, 0–9 like record ids, in the order they are made (the time in 9 base-36
 * digits, a counter within the millisecond, 4 random characters), so that each entry goes at the end of
 * the id index. With random ids every insert went to a random page of a growing index: on SQLite 12.2 µs
 * a row at 300,000 rows, against 3.7 µs in order. Retention deletes by id range for the same reason
 * (`idBefore`). Random bytes are drawn 4 KiB at a time: one call per id cost more than the rest of it.
 */
export function orderedIds() {
  let last = 0;
  let counter = 0;
  let pool = randomBytes(4096);
  let used = 0;
  const randomChar = () => {
    for (;;) {
      if (used === pool.length) {
        pool = randomBytes(4096);
        used = 0;
      }
      const byte = pool[used++];
      // 252 = 7 × 36: bytes past it are skipped, so every character is as likely.
      if (byte < 252) return ALPHABET[byte % 36];
    }
  };
  let prefix = '';
  return (time) => {
    if (time === last) counter++;
    else {
      counter = 0;
      last = time;
      prefix = idBefore(time);
    }
    return `${prefix}${(counter % 1296).toString(36).padStart(2, '0')}${randomChar()}${randomChar()}${randomChar()}${randomChar()}`;
  };
}

/** The id prefix of an entry made at `time`: every id made earlier sorts before it. */
export const idBefore = (time) => Math.max(0, Math.floor(time)).toString(36).padStart(9, '0');
