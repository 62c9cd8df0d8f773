import type { Database } from '../db/index.ts';
import { badRequest, type ErrorData, fieldError } from '../errors/index.ts';
import { isPlainObject, type SecretBox } from '../lib/index.ts';
import { readParam, writeParam } from './params.ts';
import {
  checkExcludedIps,
  checkRateLimitRules,
  defaultRateLimits,
  finishRateLimits,
  type RateLimits,
} from './rate-limits.ts';
import { openSettings, resealSettings, sealSettings } from './settings-secrets.ts';

const DAY = 86_400;

/** Runtime settings, kept as one JSON row in `_params` and edited by superusers (`/api/settings`). */
export interface Settings {
  meta: { appName: string; appURL: string; senderName: string; senderAddress: string };
  smtp: {
    enabled: boolean;
    host: string;
    port: number;
    username: string;
    password: string;
    authMethod: 'PLAIN' | 'LOGIN';
    tls: boolean;
    localName: string;
  };
  /** Session lifetimes in seconds: idle = unused for that long; absolute = since sign-in. */
  sessions: {
    idleTimeout: number;
    absoluteTimeout: number;
    superuserIdleTimeout: number;
    superuserAbsoluteTimeout: number;
  };
  /** Failed sign-ins allowed per window (seconds) for one identity and for one client IP. */
  authThrottle: {
    enabled: boolean;
    identityMax: number;
    ipMax: number;
    window: number;
  };
  /** PocketBase's request rate limits per client IP (src/schema/rate-limits.ts). */
  rateLimits: RateLimits;
}

export function defaultSettings(appURL: string): Settings {
  return {
    meta: { appName: 'Plinth', appURL, senderName: 'Support', senderAddress: 'support@example.com' },
    smtp: {
      enabled: false,
      host: 'smtp.example.com',
      port: 587,
      username: '',
      password: '',
      authMethod: 'PLAIN',
      tls: false,
      localName: '',
    },
    sessions: {
      idleTimeout: 14 * DAY,
      absoluteTimeout: 90 * DAY,
      superuserIdleTimeout: 30 * 60,
      superuserAbsoluteTimeout: 12 * 3600,
    },
    authThrottle: { enabled: true, identityMax: 10, ipMax: 100, window: 15 * 60 },
    rateLimits: defaultRateLimits(),
  };
}

export interface SettingsStore {
  /** The current settings (cached; the SMTP password included: for the mailer, never for responses). */
  get(): Settings;
  /** Merges a superuser's patch, validating every field; a bad one is a 400 naming it. */
  update(patch: unknown): Promise<Settings>;
  /** The JSON a superuser sees: secrets left out. */
  toJson(settings?: Settings): Record<string, unknown>;
  reload(): Promise<void>;
}

const ROW_ID = 'settings';

/** A problem as a message, or as nested field errors (a list's items). */
type Check = (value: unknown) => string | ErrorData | undefined;
const str =
  (max: number, pattern?: RegExp): Check =>
  (v) =>
    typeof v !== 'string' || v.length > max || v.includes('\u0000')
      ? `Must be a string of at most ${max} characters.`
      : pattern && v !== '' && !pattern.test(v)
        ? 'Invalid format.'
        : undefined;
const int =
  (min: number, max: number): Check =>
  (v) =>
    typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max
      ? `Must be a whole number between ${min} and ${max}.`
      : undefined;
const bool: Check = (v) => (typeof v === 'boolean' ? undefined : 'Must be true or false.');
const oneOf =
  (...values: string[]): Check =>
  (v) =>
    values.includes(v as string) ? undefined : `Must be one of ${values.join(', ')}.`;

const EMAIL = /^[^\s@]+@[^\s@]+$/;
const URL_LIKE = /^https?:\/\/[^\s]+$/;
const YEAR = 365 * DAY;

const RULES: { [G in keyof Settings]: { [K in keyof Settings[G]]: Check } } = {
  meta: {
    appName: str(255),
    appURL: str(2048, URL_LIKE),
    senderName: str(255),
    senderAddress: str(255, EMAIL),
  },
  smtp: {
    enabled: bool,
    host: str(255),
    port: int(1, 65535),
    username: str(255),
    password: str(1024),
    authMethod: oneOf('PLAIN', 'LOGIN'),
    tls: bool,
    localName: str(255),
  },
  sessions: {
    idleTimeout: int(60, YEAR),
    absoluteTimeout: int(60, 5 * YEAR),
    superuserIdleTimeout: int(60, YEAR),
    superuserAbsoluteTimeout: int(60, 5 * YEAR),
  },
  authThrottle: {
    enabled: bool,
    identityMax: int(1, 1_000_000),
    ipMax: int(1, 1_000_000),
    window: int(1, DAY),
  },
  rateLimits: { rules: checkRateLimitRules, excludedIPs: checkExcludedIps, enabled: bool },
};

/** Merges `patch` into `base` group by group; unknown groups and keys are ignored, as PocketBase does. */
function merge(base: Settings, patch: Record<string, unknown>): { settings: Settings; errors: ErrorData } {
  const settings = structuredClone(base);
  const errors: ErrorData = {};
  for (const group of Object.keys(RULES) as (keyof Settings)[]) {
    const input = patch[group];
    if (input === undefined) continue;
    if (!isPlainObject(input)) {
      errors[group] = fieldError('validation_invalid_value', 'Must be an object.');
      continue;
    }
    const rules = RULES[group] as Record<string, Check>;
    const target = settings[group] as unknown as Record<string, unknown>;
    const groupErrors: ErrorData = {};
    for (const [key, check] of Object.entries(rules)) {
      if (!(key in input)) continue;
      // An empty password in a patch keeps the stored one: the GET answer never shows it.
      if (group === 'smtp' && key === 'password' && input[key] === '') continue;
      const problem = check(input[key]);
      if (typeof problem === 'string') groupErrors[key] = fieldError('validation_invalid_value', problem);
      else if (problem) groupErrors[key] = problem;
      else target[key] = input[key];
    }
    if (Object.keys(groupErrors).length) errors[group] = groupErrors;
  }
  const s = settings.sessions;
  if (
    !errors.sessions &&
    (s.idleTimeout > s.absoluteTimeout || s.superuserIdleTimeout > s.superuserAbsoluteTimeout)
  )
    errors.sessions = {
      idleTimeout: fieldError('validation_invalid_value', 'The idle timeout cannot exceed the absolute one.'),
    };
  const rateLimits = errors.rateLimits ? undefined : finishRateLimits(settings.rateLimits);
  if (rateLimits) errors.rateLimits = rateLimits;
  return { settings, errors };
}

/** `secrets` encrypts the secret settings (SMTP password) in the database with a key kept outside it. */
export async function createSettingsStore(
  db: Database,
  appURL: string,
  secrets?: SecretBox,
): Promise<SettingsStore> {
  let current = defaultSettings(appURL);

  async function read(): Promise<Settings> {
    const stored = openSettings((await readParam<Record<string, unknown>>(db, ROW_ID)) ?? {}, secrets);
    // Stored values were validated on the way in; a newer default fills what an older row lacks.
    const base = defaultSettings(appURL);
    for (const group of Object.keys(base) as (keyof Settings)[]) {
      if (isPlainObject(stored[group])) Object.assign(base[group], stored[group]);
    }
    return base;
  }

  const store: SettingsStore = {
    get: () => current,
    async reload() {
      current = await read();
    },
    async update(patch) {
      if (!isPlainObject(patch)) throw badRequest('Invalid settings data.');
      const { settings, errors } = merge(await read(), patch);
      if (Object.keys(errors).length)
        throw badRequest('An error occurred while validating the submitted data.', errors);
      await writeParam(db, ROW_ID, sealSettings(settings, secrets));
      current = settings;
      return settings;
    },
    toJson(settings = current) {
      const { password: _secret, ...smtp } = settings.smtp;
      return { ...settings, smtp };
    },
  };
  if (secrets) await resealSettings(db, ROW_ID, secrets);
  await store.reload();
  return store;
}
