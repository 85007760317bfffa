#!/usr/bin/env node
'use strict';
/**
 * Runs a compiled entry point (e.g. `dist/src/main.js`), compiling first only when the build is
 * missing or older than any of its inputs (src/, migrations/, bench/, tsconfig*.json,
 * package-lock.json): `npm start` on an unchanged checkout starts at once instead of running tsc
 * for several seconds (issue 12). `npm ci` builds once (the `prepare` script).
 * Without src/ (the container image: compiled code only) it runs dist/ as it is.
 * Usage: node scripts/run-built.js <compiled entry> [args...]
 */
const { execFileSync } = require('node:child_process');
const { readdirSync, statSync } = require('node:fs');
const { join, resolve } = require('node:path');

const root = resolve(__dirname, '..');
const [entry, ...rest] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node scripts/run-built.js <compiled entry> [args...]');
  process.exit(2);
}

/** The newest modification time (ms) of the files under `path` (0 when it does not exist). */
function newest(path) {
  let stat;
  try { stat = statSync(path); } catch { return 0; }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let max = stat.mtimeMs;
  for (const name of readdirSync(path)) max = Math.max(max, newest(join(path, name)));
  return max;
}

const stamp = newest(join(root, 'dist', 'src', 'main.js'));
const inputs = ['src', 'migrations', 'bench', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];
// A deployed image holds dist/ without src/ or a compiler: run what is there.
const hasSources = newest(join(root, 'src')) > 0;
if (hasSources && (!stamp || inputs.some((p) => newest(join(root, p)) > stamp))) {
  console.error('compiling (sources changed since the last build)...');
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
}
// The GraphiQL bundle (scripts/build-graphiql.js) is rebuilt when its browser entry changed.
const bundle = newest(join(root, 'dist', 'graphiql', 'graphiql.js'));
if (hasSources && (!bundle || newest(join(root, 'src', 'graphiql')) > bundle)) {
  console.error('bundling GraphiQL (its sources changed since the last build)...');
  execFileSync(process.execPath, [join(root, 'scripts', 'build-graphiql.js')], { cwd: root, stdio: 'inherit' });
}
// Run it as the main module (require.main === module), as `node <entry>` would.
process.argv = [process.argv[0], resolve(root, entry), ...rest];
require('node:module').runMain();
