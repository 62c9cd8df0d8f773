const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};
const RANGES = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 6],
] as const;

/**
 * True when the cron expression (the `backups.cron` setting, already checked by the schema's
 * cron-expression.ts) names the minute of `date`, in UTC like PocketBase's scheduler. All five fields must
 * match (day of month and day of week both, as PocketBase's own parser reads them).
 */
export function cronMatches(expression: string, date: Date): boolean {
  const fields = (MACROS[expression] ?? expression).trim().split(/\s+/);
  if (fields.length !== 5) return false;
  const values = [
    date.getUTCMinutes(),
    date.getUTCHours(),
    date.getUTCDate(),
    date.getUTCMonth() + 1,
    date.getUTCDay(),
  ];
  return fields.every((field, i) =>
    field.split(',').some((part) => partMatches(part, values[i]!, RANGES[i]!)),
  );
}

function partMatches(part: string, value: number, [min, max]: readonly [number, number]): boolean {
  const match = /^(\*|\d{1,2}(?:-\d{1,2})?)(?:\/(\d{1,2}))?$/.exec(part);
  if (!match) return false;
  const [, range = '', stepText] = match;
  const step = stepText ? Number(stepText) : 1;
  let from = min;
  let to = max;
  if (range !== '*') {
    const [a, b] = range.split('-').map(Number) as [number, number | undefined];
    from = a;
    // `5/15` means 5, 20, 35, 50: a start with a step runs to the end of the range.
    to = b ?? (stepText ? max : a);
  }
  return value >= from && value <= to && (value - from) % step === 0;
}
