import { createRequire } from 'node:module';
import type { FastifyServerOptions } from 'fastify';

// Resolved from Fastify's own location: they are its dependencies, not Plinth's.
const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'));

type Factories = Required<
  NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>
>;
// The factories' own types are overloaded (ajv or JTD); these pass their arguments through unchanged.
type Factory = (...args: unknown[]) => unknown;

/**
 * Fastify's own schema compilers (ajv and fast-json-stringify), loaded when a route first declares a schema
 * instead of when the server is built. Plinth's routes declare none: by default Fastify required both at
 * construction, some 65 ms of CPU and 3 MB in every server process (docs/benchmarks.md, "Start and idle
 * memory"). One difference from Fastify's defaults, for a route with a headers schema only: Fastify takes
 * any factory given here for a custom compiler, and passes such a schema on without lower-casing its
 * property names.
 */
export function lazySchemaCompilers(): Factories {
  const loaded = (name: string): Factory => {
    let factory: Factory | undefined;
    return (...args) => {
      factory ??= (fromFastify(name) as () => Factory)();
      return factory(...args);
    };
  };
  return {
    buildValidator: loaded('@fastify/ajv-compiler'),
    buildSerializer: loaded('@fastify/fast-json-stringify-compiler'),
  } as Factories;
}
