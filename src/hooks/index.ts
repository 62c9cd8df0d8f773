export type { HookHandler } from './hook.ts';
export { Hook } from './hook.ts';
