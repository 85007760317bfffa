#!/usr/bin/env node
'use strict';
/**
 * Bundles the GraphiQL page's browser code (src/graphiql/app.tsx: React, GraphiQL, graphql-ws)
 * and GraphiQL's CSS (its fonts inlined as data: URLs) into dist/graphiql/graphiql.js and
 * dist/graphiql/graphiql.css, minified, for src/graphiql/route.ts to serve on GET /graphql.
 * Everything comes from node_modules: no network, about a second. Part of `npm run build`.
 * Usage: node scripts/build-graphiql.js   (exits 1 with esbuild's messages when bundling fails)
 */
const { mkdirSync, statSync } = require('node:fs');
const { join, relative, resolve } = require('node:path');

const root = resolve(__dirname, '..');
const entry = join(root, 'src', 'graphiql', 'app.tsx');
const outdir = join(root, 'dist', 'graphiql');

/**
 * Builds the bundle into `outdir` (overwriting the two files in place: a running server keeps serving).
 * @returns {Promise<string[]>} the files written
 * @throws esbuild's error when the entry or a module it imports does not compile or resolve
 */
async function buildGraphiQL() {
  const esbuild = require('esbuild');
  mkdirSync(outdir, { recursive: true });
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: { graphiql: entry },
    outdir,
    bundle: true,
    minify: true,
    format: 'iife',
    platform: 'browser',
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    jsx: 'automatic',
    loader: { '.woff': 'dataurl', '.woff2': 'dataurl', '.ttf': 'dataurl', '.svg': 'dataurl', '.png': 'dataurl' },
    define: { 'process.env.NODE_ENV': '"production"' },
    // License comments of the bundled packages stay, at the end of each file.
    legalComments: 'eof',
    logLevel: 'warning',
  });
  return ['graphiql.js', 'graphiql.css'].map((name) => join(outdir, name));
}

if (require.main === module) {
  const started = Date.now();
  buildGraphiQL().then(
    (files) => {
      const sizes = files.map((f) => `${relative(root, f)} (${Math.round(statSync(f).size / 1024)} KiB)`);
      console.log(`GraphiQL bundle: ${sizes.join(', ')} in ${Date.now() - started} ms`);
    },
    (err) => {
      // esbuild has printed its messages already (logLevel); others get theirs here.
      if (!err || !Array.isArray(err.errors)) console.error(err);
      console.error('GraphiQL bundle failed');
      process.exit(1);
    },
  );
}

module.exports = { buildGraphiQL };
