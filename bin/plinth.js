#!/usr/bin/env node
// The `plinth` command. Plinth's sources are TypeScript run by Node's type stripping (Node ≥ 22.18).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `Plinth needs Node.js 22.18 or newer (found ${process.versions.node}). In the repository, run it through npm (npm start) or npx plinth, which use the Node 24 devDependency.\n`,
  );
  process.exit(1);
}
// Node's compile cache keeps the stripped and compiled modules on disk: a start takes about a third less.
const { enableCompileCache } = await import('node:module');
enableCompileCache?.();
// A server, and each of its worker processes, gives its heap's free memory back once quiet (idle-heap.ts).
if (process.argv[2] === 'serve') {
  const { compactHeapWhenIdle } = await import('../src/lib/index.ts');
  compactHeapWhenIdle();
}
const { main } = await import('../src/cli/index.ts');
process.exitCode = await main(process.argv.slice(2));
