import assert from 'node:assert/strict';
import { ClientResponseError } from 'pocketbase';

/** The SDK call fails with `status`; returns the error for further checks. */
export async function sdkError(promise: Promise<unknown>, status: number): Promise<ClientResponseError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ClientResponseError, String(err));
    assert.equal(err.status, status, JSON.stringify(err.response));
    return err;
  }
  assert.fail(`expected a ${status} error`);
}

/** A 4xx (or exactly `status`) with PocketBase's error JSON: `status`, `message`, an object `data`. */
// biome-ignore lint/suspicious/noExplicitAny: error bodies are arbitrary JSON.
export function assertApiError(res: { status: number; body: any }, label: string, status?: number): void {
  assert.ok(res.status >= 400 && res.status < 500, `${label}: ${res.status} ${JSON.stringify(res.body)}`);
  if (status !== undefined) assert.equal(res.status, status, `${label}: ${JSON.stringify(res.body)}`);
  assert.equal(typeof res.body, 'object', `${label}: ${JSON.stringify(res.body)}`);
  assert.equal(res.body.status, res.status, label);
  assert.equal(typeof res.body.message, 'string', label);
  assert.ok(res.body.data && typeof res.body.data === 'object' && !Array.isArray(res.body.data), label);
}
