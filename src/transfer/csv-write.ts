const NEEDS_QUOTES = /[",\r\n]|^\s|\s$/;

/** One CSV cell, RFC 4180: quoted when it holds a comma, quote or line break (or edge white space). */
export function csvCell(text: string): string {
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One CSV line (CRLF-terminated, as RFC 4180 writes it). */
export function csvLine(cells: readonly string[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}
