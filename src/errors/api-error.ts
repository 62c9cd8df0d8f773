/** One field's validation failure, in PocketBase's shape. */
export interface FieldError {
  code: string;
  message: string;
  params?: Record<string, unknown>;
}

/** Field errors may nest (e.g. `data.requests.0.title`). */
export type ErrorData = { [key: string]: FieldError | ErrorData };

const DEFAULT_MESSAGES: Record<number, string> = {
  400: 'Something went wrong while processing your request.',
  401: 'Missing or invalid authentication.',
  403: 'You are not allowed to perform this request.',
  404: "The requested resource wasn't found.",
  405: 'Method not allowed.',
  413: 'Request entity too large.',
  415: 'Unsupported media type.',
  429: 'Too Many Requests.',
  500: 'Something went wrong while processing your request.',
  503: 'Service unavailable.',
};

/**
 * The only error type the API answers with. Everything else thrown is turned into a generic 500 by the
 * HTTP layer, with its cause logged and never sent.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly data: ErrorData;
  /** Response headers that belong to the error (`Retry-After` on a 429). */
  readonly headers: Record<string, string> = {};

  constructor(status: number, message?: string, data: ErrorData = {}) {
    super(sentence(message || DEFAULT_MESSAGES[status] || DEFAULT_MESSAGES[400]!));
    this.status = status;
    this.data = data;
  }

  toJSON(): { status: number; message: string; data: ErrorData } {
    return { status: this.status, message: this.message, data: this.data };
  }
}

/** Capitalized, ending with a period: PocketBase's message style. */
function sentence(text: string): string {
  const t = text.trim();
  if (!t) return t;
  const first = t[0]!.toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

export const badRequest = (message?: string, data?: ErrorData) => new ApiError(400, message, data);
export const unauthorized = (message?: string) => new ApiError(401, message);
export const forbidden = (message?: string) => new ApiError(403, message);
export const notFound = (message?: string) => new ApiError(404, message);

/** A 429 telling the client how many seconds to wait. */
export function tooManyRequests(retryAfterSeconds: number, message?: string): ApiError {
  const err = new ApiError(429, message);
  err.headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  return err;
}

/** A 503 telling the client when to try again: overload, a database outage, shutdown. */
export function serviceUnavailable(retryAfterSeconds: number, message?: string): ApiError {
  const err = new ApiError(503, message);
  err.headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  return err;
}

export function fieldError(code: string, message: string, params?: Record<string, unknown>): FieldError {
  return params ? { code, message, params } : { code, message };
}

/** True if the error-data object holds at least one entry. */
export function hasErrors(data: ErrorData): boolean {
  for (const _ in data) return true;
  return false;
}
