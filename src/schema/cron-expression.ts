/**
 * Checks a cron expression as PocketBase's scheduler reads it (the `backups.cron` setting): five fields
 * (minute, hour, day of month, month, day of week) of `*`, numbers, ranges `a-b`, steps `/n` and lists
 * `a,b`, or one of the macros. src/backups/cron.ts runs what this accepts; the check keeps what is stored valid for
 * the day it does, and answers with PocketBase's code today.
 */
const MACROS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);
const RANGES: readonly (readonly [min: number, max: number])[] = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 6],
];

/** The problem with `expression` as a sentence, or undefined when it is valid. */
export function cronProblem(expression: string): string | undefined {
  if (MACROS.has(expression)) return undefined;
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) return 'Invalid cron expression: it must have exactly 5 fields.';
  for (const [i, field] of fields.entries()) {
    const [min, max] = RANGES[i]!;
    for (const part of field.split(',')) {
      if (!validPart(part, min, max)) return `Invalid cron expression: "${part}" is out of ${min}-${max}.`;
    }
  }
  return undefined;
}

function validPart(part: string, min: number, max: number): boolean {
  const match = /^(\*|\d{1,2}(?:-\d{1,2})?)(?:\/(\d{1,2}))?$/.exec(part);
  if (!match) return false;
  const [, range = '', step] = match;
  if (step !== undefined && (Number(step) < 1 || Number(step) > max)) return false;
  if (range === '*') return true;
  const [from, to = from] = range.split('-').map(Number) as [number, number?];
  return from >= min && (to as number) <= max && from <= (to as number);
}
