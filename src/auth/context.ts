import type { Database } from '../db/index.ts';
import { badRequest, fieldError } from '../errors/index.ts';
import type { SecretBox } from '../lib/index.ts';
import type { Logger } from '../log/index.ts';
import { type EmailTemplate, type Mailer, renderTemplate } from '../mail/index.ts';
import type { AuthContext, RecordService, RecordValues, RequestDetails } from '../records/index.ts';
import { type Collection, type CollectionStore, type Settings, SUPERUSERS_ID } from '../schema/index.ts';
import type { KeyRing } from './keys.ts';
import type { AvatarDownloads } from './oauth2/avatar.ts';
import type { Passwords } from './passwords.ts';
import type { SessionStore } from './sessions.ts';
import type { Throttle, ThrottleKey } from './throttle.ts';

/** Where a request comes from: sessions record it, throttling counts by it. */
export interface Client {
  ip: string;
  userAgent: string;
  /** The MFA session a second sign-in method continues (PocketBase's SDK sends it as `?mfaId=`). */
  mfaId?: string;
  /** What rules may read about the request (`@request.headers`...), for authRule and mfa.rule. */
  request?: RequestDetails;
}

/** What the auth use cases share; built once in the service. */
export interface AuthDeps {
  db: Database;
  collections: CollectionStore;
  records: RecordService;
  passwords: Passwords;
  keys: KeyRing;
  sessions: SessionStore;
  throttle: Throttle;
  mailer: Mailer;
  settings: () => Settings;
  log: Logger;
  /** The key kept outside the database: one-time codes are stored as HMACs under it. */
  secrets: SecretBox;
  /** How OAuth2 avatars are downloaded (src/auth/oauth2/avatar.ts). */
  avatars: AvatarDownloads;
}

/** The caller the auth layer acts as when it writes its own records (no rules apply). */
export const SYSTEM: AuthContext = Object.freeze({ collection: null, record: null, isSuperuser: true });

export const ownerOf = (collection: Collection, record: RecordValues): AuthContext => ({
  collection,
  record,
  isSuperuser: collection.id === SUPERUSERS_ID,
});

/**
 * The record as `@request.auth` while it signs in, for the authRule and `mfa.rule`: not a superuser
 * (the rules apply to `_superusers` too), with the request's details and `@request.context` set to the
 * method (`password`, `otp`, `oauth2`...), as PocketBase sets it.
 */
export function signingIn(
  collection: Collection,
  record: RecordValues,
  client: Partial<Client>,
  method: string,
): AuthContext {
  const request = client.request ?? { method: 'POST', headers: {}, query: {}, context: 'default' };
  return { collection, record, isSuperuser: false, request: { ...request, context: method } };
}

/** One auth option group with PocketBase's defaults filled in. */
export function option<T extends object>(collection: Collection, name: string, defaults: T): T {
  const value = collection.options[name];
  return { ...defaults, ...(value && typeof value === 'object' ? (value as Partial<T>) : {}) };
}

export const tokenSeconds = (collection: Collection, name: string, fallback: number) =>
  Number(option(collection, name, { duration: fallback }).duration) || fallback;

/** Per-identity and per-IP throttle keys for failed sign-ins (and for mails a client asks for). */
export function throttleKeys(deps: AuthDeps, scope: string, identity: string, client: Client): ThrottleKey[] {
  const t = deps.settings().authThrottle;
  if (!t.enabled) return [];
  return [
    { key: `${scope}:${identity.toLowerCase()}`, max: t.identityMax, windowSeconds: t.window },
    // Per scope too: a burst of mail requests from an office's shared address must not block its sign-ins.
    { key: `${scope}:ip:${clientNetwork(client.ip)}`, max: t.ipMax, windowSeconds: t.window },
  ];
}

/**
 * What the per-IP throttle counts by: an IPv4 address (IPv4-mapped IPv6 included), or an IPv6 /64 —
 * one host usually holds a whole /64, so counting single IPv6 addresses would give it billions of budgets.
 */
export function clientNetwork(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!ip.includes(':')) return ip;
  const [head = '', tail] = ip.toLowerCase().split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/**
 * Runs per-account work (signing a mailed token, storing a code, sending) after the answer has gone:
 * a request-* endpoint must take as long for an unknown address as for a known one.
 */
export function afterReply(deps: AuthDeps, what: string, work: () => Promise<void>): void {
  setImmediate(() => {
    work().catch((err: Error) => deps.log.warn({ reason: err.message }, `could not ${what}`));
  });
}

/**
 * Sends a templated mail without making the request wait for it: the answer and its timing must not
 * depend on whether the address belongs to an account. Failures are logged without the message (it
 * carries links and codes).
 */
export function sendInBackground(
  deps: AuthDeps,
  template: EmailTemplate,
  to: string,
  values: Record<string, string>,
  record: RecordValues,
  kind: string,
): void {
  const { meta } = deps.settings();
  const mail = renderTemplate(
    template,
    { APP_NAME: meta.appName, APP_URL: meta.appURL.replace(/\/+$/, ''), ...values },
    record,
  );
  deps.mailer
    .send({ to, subject: mail.subject, html: mail.body })
    .catch((err: Error) => deps.log.warn({ kind, reason: err.message }, 'could not send an auth email'));
}

/** A template from the collection's options: a top-level one (`verificationTemplate`) or nested (`otp.emailTemplate`). */
export function templateOf(collection: Collection, name: string, nested?: string): EmailTemplate {
  const group = collection.options[name] as Record<string, unknown> | undefined;
  const t = (nested ? group?.[nested] : group) as Partial<EmailTemplate> | undefined;
  return { subject: String(t?.subject ?? ''), body: String(t?.body ?? '') };
}

/** Reads a required email field from a body; a 400 naming the field otherwise. */
export function emailFrom(body: Record<string, unknown>, key: string): string {
  const value = body[key];
  if (
    typeof value !== 'string' ||
    value === '' ||
    value.length > 255 ||
    !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value) ||
    // Control characters: mail libraries drop some (NUL), so the mail would reach another mailbox.
    /\p{Cc}/u.test(value)
  )
    throw badRequest('An error occurred while validating the submitted data.', {
      [key]: fieldError(
        value === undefined || value === '' ? 'validation_required' : 'validation_is_email',
        value === undefined || value === '' ? 'Cannot be blank.' : 'Must be a valid email address.',
      ),
    });
  return value;
}
