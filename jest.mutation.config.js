/**
 * Jest for mutation testing (`npm run test:mutation`, stryker.config.mjs): the fast unit tests
 * of the mutated modules only (tests/unit: policies, text, usernames, passwords, pagination,
 * errors, mentions, file references). No server, no database: every mutant is tested in
 * milliseconds. Integration tests exercise the same rules end to end but take minutes a run.
 * ts-jest transpiles each file without type-checking (tsconfig.json sets isolatedModules), so a
 * mutant that is not type-correct still runs; the typescript-checker plugin drops those first.
 */
const base = require('./jest.config.js');

module.exports = {
  ...base,
  roots: ['<rootDir>/tests/unit'],
  testMatch: ['**/*.test.ts'],
  // Unit tests of modules that are not mutated (configuration, event bus, PGlite statement counter).
  testPathIgnorePatterns: ['/node_modules/', '/tests/unit/(config|event-bus|pglite-statements)\\.test\\.ts$'],
  maxWorkers: 1,
};
