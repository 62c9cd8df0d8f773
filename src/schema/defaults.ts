import { checksumId } from '../lib/index.ts';
import type { FieldDef } from './fields/index.ts';

/** Fixed ids of the system collections, as PocketBase has them (the SDK knows `_superusers`' id). */
export const SUPERUSERS_ID = 'pbc_3142635823';
export const USERS_ID = '_pb_users_auth_';

/** A field definition; without an explicit id it gets PocketBase's default one, `type` + crc32(name). */
export function field(type: string, name: string, options: Partial<FieldDef> = {}): FieldDef {
  return {
    id: options.id ?? checksumId(type, name),
    name,
    type,
    system: false,
    hidden: false,
    presentable: false,
    required: false,
    ...options,
  };
}

export function idField(): FieldDef {
  return field('text', 'id', {
    id: 'text3208210256',
    system: true,
    required: true,
    primaryKey: true,
    min: 15,
    max: 15,
    pattern: '^[a-z0-9]+$',
    autogeneratePattern: '[a-z0-9]{15}',
  });
}

/** The fields every auth collection has, in PocketBase's order (after `id`). */
export function authSystemFields(): FieldDef[] {
  return [
    field('password', 'password', {
      id: 'password901924565',
      system: true,
      hidden: true,
      required: true,
      min: 8,
    }),
    field('text', 'tokenKey', {
      id: 'text2504183744',
      system: true,
      hidden: true,
      required: true,
      min: 30,
      max: 60,
      autogeneratePattern: '[a-zA-Z0-9]{50}',
    }),
    field('email', 'email', { id: 'email3885137012', system: true, required: true }),
    field('bool', 'emailVisibility', { id: 'bool1547992806', system: true }),
    field('bool', 'verified', { id: 'bool256245529', system: true }),
  ];
}

export const AUTH_SYSTEM_FIELD_NAMES = ['password', 'tokenKey', 'email', 'emailVisibility', 'verified'];

export function autodateFields(): FieldDef[] {
  return [
    field('autodate', 'created', { onCreate: true, onUpdate: false }),
    field('autodate', 'updated', { onCreate: true, onUpdate: true }),
  ];
}

function template(subject: string, body: string) {
  return { subject, body };
}

/** Auth options with PocketBase's defaults; the auth issue gives them behaviour. */
export function defaultAuthOptions(isSuperusers = false): Record<string, unknown> {
  return {
    authRule: '',
    manageRule: null,
    authAlert: {
      enabled: true,
      emailTemplate: template(
        'Login from a new location',
        '<p>Hello,</p><p>We noticed new activity on your {APP_NAME} account: {ALERT_INFO}.</p><p>If this was you, you can ignore this email. If it was not, reset your password now: that signs out every device and removes linked sign-ins.</p>',
      ),
    },
    oauth2: {
      mappedFields: { id: '', name: '', username: '', avatarURL: '' },
      enabled: false,
      providers: [],
    },
    passwordAuth: { enabled: true, identityFields: ['email'] },
    mfa: { enabled: false, duration: 1800, rule: '' },
    otp: {
      enabled: false,
      duration: 180,
      length: 8,
      emailTemplate: template(
        'OTP for {APP_NAME}',
        '<p>Hello,</p><p>Your one-time password is: <strong>{OTP}</strong></p>',
      ),
    },
    authToken: { duration: isSuperusers ? 86400 : 432000 },
    passwordResetToken: { duration: 1800 },
    emailChangeToken: { duration: 1800 },
    verificationToken: { duration: 259200 },
    fileToken: { duration: 180 },
    verificationTemplate: template(
      'Verify your {APP_NAME} email',
      '<p>Click the link to verify your email: {APP_URL}/_/#/auth/confirm-verification/{TOKEN}</p>',
    ),
    resetPasswordTemplate: template(
      'Reset your {APP_NAME} password',
      '<p>Click the link to reset your password: {APP_URL}/_/#/auth/confirm-password-reset/{TOKEN}</p>',
    ),
    confirmEmailChangeTemplate: template(
      'Confirm your {APP_NAME} new email address',
      '<p>Click the link to confirm: {APP_URL}/_/#/auth/confirm-email-change/{TOKEN}</p>',
    ),
  };
}

export const AUTH_OPTION_KEYS = Object.keys(defaultAuthOptions());

/** Indexes every auth collection needs: unique token keys and unique (non-empty) emails. */
export function authSystemIndexes(table: string, idSuffix: string): string[] {
  return [
    `CREATE UNIQUE INDEX \`idx_tokenKey_${idSuffix}\` ON \`${table}\` (\`tokenKey\`)`,
    `CREATE UNIQUE INDEX \`idx_email_${idSuffix}\` ON \`${table}\` (\`email\` COLLATE NOCASE) WHERE \`email\` != ''`,
  ];
}
