// @ts-check
/**
 * Mutation testing (issue 20): `npm run test:mutation`. Stryker plants one small bug (a mutant)
 * at a time in the policies and the pure domain modules below, in a copy of the project under
 * .stryker-tmp/, and runs the unit tests that cover it (jest.mutation.config.js: tests/unit
 * only, no server or database). A mutant no test notices "survives". The report goes to
 * reports/mutation/ (HTML and JSON); the score is printed at the end.
 *
 * Not mutated: modules that need a database or a server (the services); their rules are
 * exercised by the integration tests, which are too slow to run once per mutant.
 * Concurrency 2 (one type-checker process, one jest process): the machine it was tuned on has 2
 * shared cores (override: --concurrency N). A run there takes 5 to 7 minutes, most of it the ~80
 * static mutants (module-level constants: each reloads the test files); `--ignoreStatic` skips
 * them for a quick look, but they are real rules (SQLSTATE codes, MIME types), so the score
 * counts them. Not in CI (.ci/run): too slow for it.
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'jest',
  jest: { projectType: 'custom', configFile: 'jest.mutation.config.js', enableFindRelatedTests: true },
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.stryker.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: 'perTest',
  mutate: [
    'src/domain/**/*.policy.ts',
    'src/domain/shared/text.ts',
    'src/domain/shared/pagination.ts',
    'src/domain/shared/errors.ts',
    'src/domain/shared/validate.ts',
    'src/domain/user/username.ts',
    // All of password.ts: the argon2 calls are real in its unit tests (a few hashes, a second or two).
    'src/domain/auth/password.ts',
    'src/domain/message/mentions.ts',
    'src/domain/attachment/file-reference.ts',
  ],
  // Only what the unit tests need is copied into the sandbox.
  ignorePatterns: [
    '/dist',
    '/data',
    '/coverage',
    '/.test-build',
    '/reports',
    '/bench',
    '/docs',
    '/examples',
    '/deploy',
    '/migrations',
    '/schema',
    '/scripts',
    '/tests/integration',
    '/tests/fixtures',
    '*.log',
  ],
  concurrency: 2,
  timeoutMS: 10000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowEmojis: false, logTests: false, reportScoreTable: true },
  thresholds: { high: 90, low: 75, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
