import { forbidden } from '../errors/index.ts';
import type { Collection, RuleName } from '../schema/index.ts';
import type { AuthContext } from './types.ts';

/** The text of one of a collection's rules (auth rules live in options). */
export function ruleOf(collection: Collection, rule: RuleName): string | null {
  if (rule === 'authRule' || rule === 'manageRule') {
    const value = collection.options[rule];
    return typeof value === 'string' ? value : rule === 'authRule' ? '' : null;
  }
  return collection[rule];
}

/**
 * Decides a rule for the caller. Until the rules engine lands, an expression rule is treated like
 * `null` (superusers only): deny by default, never allow by accident.
 */
export function allows(collection: Collection, rule: RuleName, auth: AuthContext): boolean {
  if (auth.isSuperuser) return true;
  return ruleOf(collection, rule) === '';
}

/** Throws PocketBase's 403 when only superusers may act. */
export function requireRule(collection: Collection, rule: RuleName, auth: AuthContext): void {
  if (!allows(collection, rule, auth)) throw forbidden('Only superusers can perform this action.');
}

/** True if the caller may manage other auth records of this collection (email, password, verified). */
export function canManage(collection: Collection, auth: AuthContext): boolean {
  return auth.isSuperuser || (collection.type === 'auth' && ruleOf(collection, 'manageRule') === '');
}
