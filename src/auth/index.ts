export type { AuthService } from './auth.ts';
export { createAuthService } from './auth.ts';
export type { Client } from './context.ts';
export type { KeyAlg, KeyRing } from './keys.ts';
export { loadKeyRing } from './keys.ts';
export { appleClientSecret } from './oauth2/apple-secret.ts';
export type { Passwords } from './passwords.ts';
export { ARGON2_OPTIONS, createPasswords } from './passwords.ts';
export type { AuthResponse } from './service.ts';
