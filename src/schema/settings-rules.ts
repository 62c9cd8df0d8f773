import { type ErrorData, type FieldError, fieldError } from '../errors/index.ts';
import { cronProblem } from './cron-expression.ts';
import { finishRateLimits } from './rate-limits.ts';
import {
  isEmail,
  isHexColor,
  isHost,
  isUrl,
  lengthOutOfRange,
  minError,
  notEmail,
  notHexColor,
  notHost,
  notIn,
  notUrl,
  required,
} from './settings-checks.ts';
import type { S3Settings, Settings } from './settings-sections.ts';

type Errors = Record<string, FieldError | ErrorData>;

/** Adds `errors` under `key` when there are any. */
function put(into: ErrorData, key: string, errors: Errors): void {
  if (Object.keys(errors).length) into[key] = errors;
}

/** A string rule in PocketBase's order: required (when asked), then length, then format. */
function text(
  value: string,
  opts: {
    required?: boolean;
    length?: [number, number];
    format?: [(v: string) => boolean, () => FieldError];
  },
): FieldError | undefined {
  if (value === '') return opts.required ? required() : undefined;
  const [min, max] = opts.length ?? [0, Infinity];
  if (value.length < min || value.length > max) return lengthOutOfRange(min, max);
  if (opts.format && !opts.format[0](value)) return opts.format[1]();
  return undefined;
}

/** A number rule: required (when asked; 0 is blank), then a minimum that, as in PocketBase, 0 passes. */
function number(value: number, opts: { required?: boolean; min?: number }): FieldError | undefined {
  if (value === 0) return opts.required ? required() : undefined;
  if (opts.min !== undefined && value < opts.min) return minError(opts.min);
  return undefined;
}

function collect(checks: Record<string, FieldError | ErrorData | undefined>): Errors {
  const out: Errors = {};
  for (const [key, problem] of Object.entries(checks)) if (problem) out[key] = problem;
  return out;
}

function checkS3(s3: S3Settings): Errors {
  const on = s3.enabled;
  return collect({
    endpoint: text(s3.endpoint, { required: on, format: [isUrl, notUrl] }),
    bucket: text(s3.bucket, { required: on }),
    region: text(s3.region, { required: on }),
    accessKey: text(s3.accessKey, { required: on }),
    secret: text(s3.secret, { required: on }),
  });
}

/**
 * PocketBase's validation of the whole settings (core/settings_model.go), on the merged result of a patch:
 * field errors by section, with its codes. Plus Plinth's own cross-checks (session timeouts) and the
 * rate-limit rules' finishing step, which also trims each rule to its four keys.
 */
export function validateSettings(s: Settings): ErrorData {
  const errors: ErrorData = {};
  const ips: Errors = {};
  for (const [i, ip] of s.superuserIPs.entries()) if (ip === '') ips[i] = required();
  put(errors, 'superuserIPs', ips);

  const m = s.meta;
  put(
    errors,
    'meta',
    collect({
      accentColor: text(m.accentColor, { length: [7, 7], format: [isHexColor, notHexColor] }),
      appName: text(m.appName, { required: true, length: [1, 255] }),
      appURL: text(m.appURL, { required: true, format: [isUrl, notUrl] }),
      senderName: text(m.senderName, { required: true, length: [1, 255] }),
      senderAddress: text(m.senderAddress, { required: true, format: [isEmail, notEmail] }),
    }),
  );

  put(errors, 'logs', collect({ maxDays: number(s.logs.maxDays, { min: 0 }) }));

  const smtp = s.smtp;
  put(
    errors,
    'smtp',
    collect({
      host: text(smtp.host, { required: smtp.enabled, format: [isHost, notHost] }),
      port: number(smtp.port, { required: smtp.enabled, min: 0 }),
      authMethod: ['', 'PLAIN', 'LOGIN'].includes(smtp.authMethod) ? undefined : notIn(),
      localName: text(smtp.localName, { format: [isHost, notHost] }),
    }),
  );

  put(errors, 's3', checkS3(s.s3));

  const b = s.backups;
  const s3Errors = checkS3(b.s3);
  const cron = b.cron === '' ? undefined : cronProblem(b.cron);
  put(
    errors,
    'backups',
    collect({
      s3: Object.keys(s3Errors).length ? s3Errors : undefined,
      cron: cron ? fieldError('validation_invalid_cron', cron) : undefined,
      cronMaxKeep: number(b.cronMaxKeep, { required: b.cron !== '', min: 1 }),
    }),
  );

  const batch = s.batch;
  put(
    errors,
    'batch',
    collect({
      maxRequests: number(batch.maxRequests, { required: batch.enabled, min: 0 }),
      timeout: number(batch.timeout, { required: batch.enabled, min: 0 }),
      maxBodySize: number(batch.maxBodySize, { min: 0 }),
    }),
  );

  const rateLimits = finishRateLimits(s.rateLimits);
  if (rateLimits) errors.rateLimits = rateLimits;

  const t = s.sessions;
  if (t.idleTimeout > t.absoluteTimeout || t.superuserIdleTimeout > t.superuserAbsoluteTimeout)
    errors.sessions = {
      idleTimeout: fieldError('validation_invalid_value', 'The idle timeout cannot exceed the absolute one.'),
    };
  return errors;
}
