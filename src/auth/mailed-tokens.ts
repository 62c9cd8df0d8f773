import { decodeJwt } from 'jose';
import { type FieldError, fieldError } from '../errors/index.ts';
import type { RecordValues } from '../records/index.ts';
import { type Collection, tokenSecret } from '../schema/index.ts';
import { type AuthDeps, sendInBackground, templateOf, tokenSeconds } from './context.ts';
import {
  inSeconds,
  signToken,
  type TokenClaims,
  type TokenType,
  tokenKeyFingerprint,
  verifyToken,
} from './tokens.ts';

/**
 * The signed, short-lived tokens that verification, password reset and email change mail to an address.
 * Each is bound to what it may change, so it works once: the email it was sent for (verification, email
 * change) or the tokenKey, which a new password replaces (reset).
 */

/** Signs a token for the record and mails it with the collection's template, after the answer has gone. */
export async function mailToken(
  deps: AuthDeps,
  collection: Collection,
  record: RecordValues,
  type: TokenType,
  to: string,
  extra: { email?: string; newEmail?: string },
  template: string,
  duration: [string, number],
): Promise<void> {
  const token = await signToken(
    deps.keys,
    {
      id: String(record.id),
      type,
      collectionId: collection.id,
      refreshable: false,
      tk: tokenKeyFingerprint(String(record.tokenKey), tokenSecret(collection.options, duration[0])),
      ...extra,
    },
    inSeconds(tokenSeconds(collection, duration[0], duration[1])),
  );
  sendInBackground(deps, templateOf(collection, template), to, { TOKEN: token }, record, type);
}

/** The collection option that holds each mailed token's duration and secret. */
const OPTION_OF: Partial<Record<TokenType, string>> = {
  verification: 'verificationToken',
  passwordReset: 'passwordResetToken',
  emailChange: 'emailChangeToken',
};

const invalid = () => fieldError('validation_invalid_token', 'Invalid or expired token.');

/**
 * The record a mailed token names, or the field error PocketBase gives for it: invalid or expired (or
 * spent), issued for another auth collection, or (verification) for an address the record no longer has.
 */
export async function tokenRecord(
  deps: AuthDeps,
  collection: Collection,
  token: string,
  type: TokenType,
): Promise<{ record: RecordValues; claims: TokenClaims } | { error: FieldError }> {
  if (type === 'emailChange' && !newEmailClaim(token))
    return {
      error: fieldError('validation_invalid_token_payload', 'Invalid token payload - newEmail must be set.'),
    };
  const claims = await verifyToken(deps.keys, token, type);
  if (!claims) return { error: invalid() };
  if (claims.collectionId !== collection.id)
    return {
      error: fieldError(
        'validation_token_collection_mismatch',
        'The provided token is for different auth collection.',
      ),
    };
  const record = await deps.records.find(collection, claims.id);
  const secret = tokenSecret(collection.options, OPTION_OF[type] ?? '');
  if (!record || claims.tk !== tokenKeyFingerprint(String(record.tokenKey), secret))
    return { error: invalid() };
  if (claims.email !== undefined && String(record.email).toLowerCase() !== claims.email.toLowerCase())
    return {
      error:
        type === 'verification'
          ? fieldError(
              'validation_token_email_mismatch',
              "The record email doesn't match with the requested token claims.",
            )
          : invalid(),
    };
  return { record, claims };
}

/** The `newEmail` an email-change token claims, read before verifying it to name what is wrong with it. */
function newEmailClaim(token: string): string {
  try {
    const value = decodeJwt(token).newEmail;
    return typeof value === 'string' ? value : '';
  } catch {
    return '';
  }
}
