#!/usr/bin/env node
'use strict';
/**
 * Runs a compiled entry point (e.g. `dist/src/main.js`) after bringing dist/ up to date with the
 * sources (scripts/ensure-built.js: compiles only what is missing or stale), so `npm start` on an
 * unchanged checkout starts at once instead of running tsc for several seconds (issue 12).
 * `npm ci` builds once (the `prepare` script). Without src/ (the container image: compiled code
 * only) it runs dist/ as it is.
 * The npm scripts run it with `exec` (`exec node scripts/run-built.js ...`): npm passes a SIGTERM
 * sent to its process id on to its child, and without `exec` that child is a `sh -c` shell that
 * dies without passing it on, leaving the server running as an orphan (issue 30).
 * Usage: node scripts/run-built.js <compiled entry> [args...]
 */
const { resolve } = require('node:path');
const { ensureBuilt } = require('./ensure-built');

const root = resolve(__dirname, '..');
const [entry, ...rest] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node scripts/run-built.js <compiled entry> [args...]');
  process.exit(2);
}
ensureBuilt();
// Run it as the main module (require.main === module), as `node <entry>` would.
process.argv = [process.argv[0], resolve(root, entry), ...rest];
require('node:module').runMain();
