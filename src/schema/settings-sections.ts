import { checkExcludedIps, checkRateLimitRules, defaultRateLimits, type RateLimits } from './rate-limits.ts';
import { bool, type Check, int, oneOf, str, strList } from './settings-checks.ts';

const DAY = 86_400;
const YEAR = 365 * DAY;

/** PocketBase's S3 settings (`s3` for files, `backups.s3` for backups). `secret` is a secret setting. */
export interface S3Settings {
  enabled: boolean;
  bucket: string;
  region: string;
  endpoint: string;
  accessKey: string;
  secret: string;
  forcePathStyle: boolean;
}

/**
 * Runtime settings, kept as one JSON row in `_params` and edited by superusers (`/api/settings`). Every
 * section of PocketBase's settings, with its keys and defaults, plus Plinth's own `sessions` and
 * `authThrottle`. Sections Plinth does not act on yet are stored and returned as they are (docs/api.md).
 */
export interface Settings {
  /** Only these IPs and CIDR subnets may act as a superuser (empty: any). */
  superuserIPs: string[];
  meta: {
    appName: string;
    appURL: string;
    senderName: string;
    senderAddress: string;
    /** Dashboard only: its accent color and whether it hides the schema editing controls. */
    accentColor: string;
    hideControls: boolean;
  };
  smtp: {
    enabled: boolean;
    host: string;
    port: number;
    username: string;
    password: string;
    /** `''` is PocketBase's "not set" and means PLAIN. */
    authMethod: '' | 'PLAIN' | 'LOGIN';
    tls: boolean;
    localName: string;
  };
  s3: S3Settings;
  backups: { cron: string; cronMaxKeep: number; s3: S3Settings };
  batch: { enabled: boolean; maxRequests: number; timeout: number; maxBodySize: number };
  logs: { maxDays: number; minLevel: number; logIP: boolean; logAuthId: boolean };
  /** Headers that carry the client's IP when behind a proxy (PocketBase's; see docs/operations.md). */
  trustedProxy: { headers: string[]; useLeftmostIP: boolean };
  /** PocketBase's request rate limits per client IP (src/schema/rate-limits.ts). */
  rateLimits: RateLimits;
  /** Session lifetimes in seconds: idle = unused for that long; absolute = since sign-in. */
  sessions: {
    idleTimeout: number;
    absoluteTimeout: number;
    superuserIdleTimeout: number;
    superuserAbsoluteTimeout: number;
  };
  /** Failed sign-ins allowed per window (seconds) for one identity and for one client IP. */
  authThrottle: { enabled: boolean; identityMax: number; ipMax: number; window: number };
}

const defaultS3 = (): S3Settings => ({
  enabled: false,
  bucket: '',
  region: '',
  endpoint: '',
  accessKey: '',
  secret: '',
  forcePathStyle: false,
});

/** PocketBase's defaults, except the app name, the app URL (from the boot config) and rate limits (on). */
export function defaultSettings(appURL: string): Settings {
  return {
    superuserIPs: [],
    meta: {
      appName: 'Plinth',
      appURL,
      senderName: 'Support',
      senderAddress: 'support@example.com',
      accentColor: '#1055c9',
      hideControls: false,
    },
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
    s3: defaultS3(),
    backups: { cron: '', cronMaxKeep: 3, s3: defaultS3() },
    batch: { enabled: false, maxRequests: 50, timeout: 3, maxBodySize: 0 },
    logs: { maxDays: 5, minLevel: 0, logIP: true, logAuthId: false },
    trustedProxy: { headers: [], useLeftmostIP: false },
    rateLimits: defaultRateLimits(),
    sessions: {
      idleTimeout: 14 * DAY,
      absoluteTimeout: 90 * DAY,
      superuserIdleTimeout: 30 * 60,
      superuserAbsoluteTimeout: 12 * 3600,
    },
    authThrottle: { enabled: true, identityMax: 10, ipMax: 100, window: 15 * 60 },
  };
}

/** The shape of the settings: a check per key, nested for sections. A key not in it is refused. */
export interface SettingsShape {
  [key: string]: Check | SettingsShape;
}

// PocketBase's integers are 64-bit; Plinth keeps them to safe integers (JSON numbers it can hold exactly).
const anyInt = int(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
const text = str(2048);

const S3_SHAPE: SettingsShape = {
  enabled: bool,
  bucket: text,
  region: text,
  endpoint: text,
  accessKey: text,
  secret: str(4096),
  forcePathStyle: bool,
};

/** At most `max` items, then `check`: a settings row stays small whatever a client sends. */
const capped =
  (max: number, check: Check): Check =>
  (v) =>
    Array.isArray(v) && v.length > max ? `Must be an array of at most ${max} items.` : check(v);

export const SETTINGS_SHAPE: SettingsShape = {
  superuserIPs: capped(1000, checkExcludedIps),
  meta: {
    appName: text,
    appURL: text,
    senderName: text,
    senderAddress: text,
    accentColor: str(64),
    hideControls: bool,
  },
  smtp: {
    enabled: bool,
    host: str(255),
    port: int(0, 65535),
    username: str(255),
    password: str(1024),
    authMethod: oneOf('', 'PLAIN', 'LOGIN'),
    tls: bool,
    localName: str(255),
  },
  s3: S3_SHAPE,
  backups: { cron: str(255), cronMaxKeep: anyInt, s3: S3_SHAPE },
  batch: { enabled: bool, maxRequests: anyInt, timeout: anyInt, maxBodySize: anyInt },
  logs: { maxDays: anyInt, minLevel: anyInt, logIP: bool, logAuthId: bool },
  trustedProxy: { headers: strList(32, str(256)), useLeftmostIP: bool },
  rateLimits: {
    rules: capped(1000, checkRateLimitRules),
    excludedIPs: capped(1000, checkExcludedIps),
    enabled: bool,
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
};
