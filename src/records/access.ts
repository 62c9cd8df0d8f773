import { badRequest, forbidden } from '../errors/index.ts';
import type { Collection, RuleName } from '../schema/index.ts';
import type { AuthContext } from './types.ts';

/** The text of one of a collection's rules (auth rules live in options). */
export function ruleOf(collection: Collection, rule: RuleName): string | null {
  if (rule === 'mfaRule') {
    const value = (collection.options.mfa as { rule?: unknown } | undefined)?.rule;
    return typeof value === 'string' ? value : '';
  }
  if (rule === 'authRule' || rule === 'manageRule') {
    const value = collection.options[rule];
    // A missing authRule is PocketBase's default `""`; an explicit null lets nobody sign in.
    return typeof value === 'string' ? value : rule === 'authRule' && value === undefined ? '' : null;
  }
  return collection[rule];
}

/**
 * Throws PocketBase's 403 when the rule is `null` (superusers only). An expression rule passes here and is
 * applied to the records by `ruleScope` (rules.ts).
 */
export function requireRule(collection: Collection, rule: RuleName, auth: AuthContext): void {
  if (!auth.isSuperuser && ruleOf(collection, rule) === null)
    throw forbidden('Only superusers can perform this action.');
}

/** Views hold no records of their own: every write to one is PocketBase's 400, before any rule check. */
export function requireWritable(collection: Collection): void {
  if (collection.type === 'view') throw badRequest('Unsupported collection type.');
}

/** True if the caller may manage other auth records of this collection (email, password, verified). */
export function canManage(collection: Collection, auth: AuthContext): boolean {
  return auth.isSuperuser || (collection.type === 'auth' && ruleOf(collection, 'manageRule') === '');
}
