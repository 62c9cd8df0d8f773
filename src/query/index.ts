export type { SortKey } from './sort.ts';
export { parseSort } from './sort.ts';
