import { isIP } from 'node:net';

/** A list setting given as an array (config file) or a comma-separated string (env, flag). */
export const listOf = (value: unknown): string[] =>
  (Array.isArray(value) ? value.map(String) : String(value ?? '').split(','))
    .map((a) => a.trim())
    .filter(Boolean);

/** An IP address, or one with a prefix length its family allows (`10.0.0.0/8`, `fd00::/8`). */
export function isRange(text: string): boolean {
  const [address = '', bits, extra] = text.split('/');
  const family = isIP(address);
  if (!family || extra !== undefined) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}
