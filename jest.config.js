/**
 * Jest: ts-jest compiles TypeScript (emitting decorator metadata). jose is ESM-only and is
 * compiled to CommonJS too; PGlite's dynamic imports of Node built-ins become requires.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '@electric-sql/pglite/dist/.+\\.cjs$': '<rootDir>/tests/support/dynamic-import-transform.js',
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
    '^.+\\.m?js$': ['ts-jest', { tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2022', isolatedModules: true } }],
  },
  // ESM-only packages compiled to CommonJS for jest (Node itself loads them with require(esm)).
  transformIgnorePatterns: ['/node_modules/(?!(jose|@electric-sql/pglite|file-type|strtok3|token-types|@tokenizer|uint8array-extras|@borewit)/)'],
  testTimeout: 30000,
  maxWorkers: 2,
  // Each test file starts its own servers, on PGlite an in-memory PostgreSQL in WASM each, whose
  // memory a worker does not all give back: a worker that ran 45 files held 11.8 GB and the kernel
  // killed it (CI, this stop). jest measures a worker by its JS heap, which does not count WASM
  // memory, so the limit is set below any worker's heap: every file gets a fresh worker.
  workerIdleMemoryLimit: '1MB',
};
