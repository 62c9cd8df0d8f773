/** The filter language's syntax tree: what the parser produces and the compiler (and rules) consume. */

export type CmpOp = '=' | '!=' | '>' | '>=' | '<' | '<=' | '~' | '!~';

export type Expr =
  | { kind: 'and' | 'or'; left: Expr; right: Expr }
  /** `any` is the `?` form: at least one item of a multi-valued operand must match. */
  | { kind: 'cmp'; op: CmpOp; any: boolean; left: Operand; right: Operand; pos: number };

export type Operand =
  /** `author.name:lower` → path ['author', 'name'], modifier 'lower'. `@request.x` paths start with '@request'. */
  | { kind: 'path'; path: string[]; modifier?: string; raw: string; pos: number }
  | { kind: 'text'; value: string; pos: number }
  | { kind: 'number'; value: number; pos: number }
  | { kind: 'bool'; value: boolean; pos: number }
  | { kind: 'null'; pos: number }
  | { kind: 'macro'; name: string; pos: number }
  | { kind: 'call'; name: string; args: Operand[]; pos: number };

export type Literal = Extract<Operand, { kind: 'text' | 'number' | 'bool' | 'null' }>;

export const isLiteral = (o: Operand): o is Literal =>
  o.kind === 'text' || o.kind === 'number' || o.kind === 'bool' || o.kind === 'null';
