/** Limits on what we accept from an identity provider (a slow or hostile one must not hold us up). */
const TIMEOUT_MS = 10_000;
const MAX_BODY_BYTES = 1_000_000;

export class ProviderError extends Error {}

/**
 * One request to a provider: a deadline, no redirects (a token endpoint that redirects is misconfigured
 * or hostile), a capped body, and JSON or form-encoded answers (GitHub's token endpoint sends the latter
 * unless asked). Throws ProviderError with a reason safe to log (never the body: it may hold tokens).
 */
export async function providerRequest(
  url: string,
  init: RequestInit,
): Promise<Record<string, unknown> | unknown[]> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    throw new ProviderError(`request to ${new URL(url).host} failed: ${(err as Error).name}`);
  }
  const text = await readCapped(res);
  if (!res.ok) throw new ProviderError(`${new URL(url).host} answered ${res.status}`);
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('application/x-www-form-urlencoded'))
    return Object.fromEntries(new URLSearchParams(text));
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === 'object') return value as Record<string, unknown> | unknown[];
  } catch {}
  throw new ProviderError(`${new URL(url).host} did not answer with JSON`);
}

async function readCapped(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      throw new ProviderError('the provider answered with an oversized body');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
