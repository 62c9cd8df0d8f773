import { formatDate } from '../lib/index.ts';

const DAY = 24 * 60 * 60 * 1000;

/** The datetime macros (`@now`, `@todayStart`, `@hour`...), in UTC, for one instant. */
export function macroValue(name: string, now: Date): string | number | undefined {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const d = now.getUTCDate();
  const at = (year: number, month: number, day: number, end: boolean) =>
    formatDate(new Date(Date.UTC(year, month, day, end ? 23 : 0, end ? 59 : 0, end ? 59 : 0, end ? 999 : 0)));
  switch (name) {
    case '@now':
      return formatDate(now);
    case '@yesterday':
      return formatDate(new Date(now.getTime() - DAY));
    case '@tomorrow':
      return formatDate(new Date(now.getTime() + DAY));
    case '@todayStart':
      return at(y, m, d, false);
    case '@todayEnd':
      return at(y, m, d, true);
    case '@monthStart':
      return at(y, m, 1, false);
    case '@monthEnd':
      return at(y, m + 1, 0, true);
    case '@yearStart':
      return at(y, 0, 1, false);
    case '@yearEnd':
      return at(y, 11, 31, true);
    case '@second':
      return now.getUTCSeconds();
    case '@minute':
      return now.getUTCMinutes();
    case '@hour':
      return now.getUTCHours();
    case '@weekday':
      return now.getUTCDay();
    case '@day':
      return d;
    case '@month':
      return m + 1;
    case '@year':
      return y;
    default:
      return undefined;
  }
}
