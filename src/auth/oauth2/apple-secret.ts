import { type CryptoKey, importPKCS8, SignJWT } from 'jose';
import { badRequest, type ErrorData, fieldError } from '../../errors/index.ts';
import { isPlainObject } from '../../lib/index.ts';

/** Apple refuses client secrets that live longer than about six months. */
const MAX_SECONDS = 15_777_000;

/**
 * Apple's OAuth2 client secret is a short-lived ES256 JWT signed with the developer's private key
 * (`POST /api/settings/apple/generate-client-secret`, PocketBase's route). The key is used once, here,
 * and not stored.
 */
export async function appleClientSecret(input: unknown): Promise<{ secret: string }> {
  if (!isPlainObject(input)) throw badRequest('Invalid request body.');
  const errors: ErrorData = {};
  const text = (key: string, max = 255) => {
    const v = input[key];
    if (typeof v !== 'string' || v.trim() === '' || v.length > max)
      errors[key] = fieldError('validation_required', 'Cannot be blank.');
    return typeof v === 'string' ? v.trim() : '';
  };
  const clientId = text('clientId');
  const teamId = text('teamId');
  const keyId = text('keyId');
  const privateKey = text('privateKey', 10_000);
  const duration = input.duration;
  if (typeof duration !== 'number' || !Number.isInteger(duration) || duration < 1 || duration > MAX_SECONDS)
    errors.duration = fieldError('validation_invalid_duration', `Must be 1 to ${MAX_SECONDS} seconds.`);
  if (Object.keys(errors).length)
    throw badRequest('An error occurred while validating the submitted data.', errors);
  let key: CryptoKey;
  try {
    key = (await importPKCS8(privateKey, 'ES256')) as CryptoKey;
  } catch {
    throw badRequest('An error occurred while validating the submitted data.', {
      privateKey: fieldError(
        'validation_invalid_private_key',
        'Must be an ES256 (P-256) private key in PKCS #8 PEM.',
      ),
    });
  }
  const now = Math.floor(Date.now() / 1000);
  const secret = await new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: keyId })
    .setIssuer(teamId)
    .setSubject(clientId)
    .setAudience('https://appleid.apple.com')
    .setIssuedAt(now)
    .setExpirationTime(now + (duration as number))
    .sign(key);
  return { secret };
}
