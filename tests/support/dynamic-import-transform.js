/**
 * Jest transform for PGlite's CommonJS build: it loads Node built-ins with `import("fs")` etc.,
 * which Jest's CommonJS sandbox cannot run without --experimental-vm-modules (and that flag
 * breaks ESM-only dependencies such as jose). Rewrites those calls to `require`, which is what
 * Node does for built-ins anyway. Tests only; the server runs PGlite untouched.
 */
const crypto = require('node:crypto');

module.exports = {
  process(source) {
    return {
      code:
        'const __builtinRequire = require;\n' +
        source.replace(/\bimport\(\s*["']((?:node:)?[a-z_/]+)["']\s*\)/g, 'Promise.resolve().then(() => __builtinRequire("$1"))'),
    };
  },
  getCacheKey(source, path) {
    return crypto.createHash('sha1').update('dynamic-import-v2').update(path).update(source).digest('hex');
  },
};
