#!/usr/bin/env node
'use strict';
/**
 * Compiles only what is missing or older than its inputs, so that running the compiled code of a
 * checkout never runs stale code and an unchanged checkout starts at once (issue 12):
 * - dist/ (tsc) when src/, migrations/, bench/, tsconfig*.json or package-lock.json changed;
 * - the GraphiQL bundle when src/graphiql changed (scripts/build-graphiql.js);
 * - the embedded database's template when migrations/ changed (scripts/build-pglite-template.js).
 * Without src/ (the container image: compiled code only) it does nothing.
 * Usage: node scripts/ensure-built.js, or require('./ensure-built').ensureBuilt() (scripts/run-built.js).
 */
const { execFileSync } = require('node:child_process');
const { readdirSync, statSync } = require('node:fs');
const { join, resolve } = require('node:path');

const root = resolve(__dirname, '..');

/** The newest modification time (ms) of the files under `path` (0 when it does not exist). */
function newest(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let max = stat.mtimeMs;
  for (const name of readdirSync(path)) max = Math.max(max, newest(join(path, name)));
  return max;
}

/** Brings dist/ up to date with the sources (see the file's comment); messages go to stderr. */
function ensureBuilt() {
  // A deployed image holds dist/ without src/ or a compiler: run what is there.
  if (newest(join(root, 'src')) === 0) return;
  const run = (why, args) => {
    console.error(why);
    execFileSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  };
  const stamp = newest(join(root, 'dist', 'src', 'main.js'));
  const inputs = ['src', 'migrations', 'bench', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];
  if (!stamp || inputs.some((p) => newest(join(root, p)) > stamp)) {
    run('compiling (sources changed since the last build)...', [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')]);
  }
  const bundle = newest(join(root, 'dist', 'graphiql', 'graphiql.js'));
  if (!bundle || newest(join(root, 'src', 'graphiql')) > bundle) {
    run('bundling GraphiQL (its sources changed since the last build)...', [join(root, 'scripts', 'build-graphiql.js')]);
  }
  const template = newest(join(root, 'dist', 'pglite-template', 'manifest.json'));
  if (!template || newest(join(root, 'migrations')) > template) {
    run('making the embedded database template (migrations changed since the last build)...', [join(root, 'scripts', 'build-pglite-template.js')]);
  }
}

module.exports = { ensureBuilt, newest };
if (require.main === module) ensureBuilt();
