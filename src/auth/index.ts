export type { SigningKeys } from './keys.ts';
export { loadSigningKeys } from './keys.ts';
export type { Passwords } from './passwords.ts';
export { ARGON2_OPTIONS, createPasswords } from './passwords.ts';
export type { AuthResponse, AuthService } from './service.ts';
export { createAuthService } from './service.ts';
