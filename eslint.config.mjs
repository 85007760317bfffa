// ESLint (flat config): typescript-eslint's recommended rules over the TypeScript sources, tests,
// migrations, benchmarks and examples; formatting is Prettier's (eslint-config-prettier turns off
// the rules it owns). `npm run lint` runs both; CI runs it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'data/**',
      'coverage/**',
      'reports/**',
      'test-artifacts/**',
      '.stryker-tmp/**',
      'examples/gql/**',
      'schema/**',
      '.test-build/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // Unused names are errors, except the `_`-prefixed ones kept for a signature's shape.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
    },
  },
  {
    // Tests, benchmarks and migrations read JSON answers and rows whose shape the assertion checks.
    files: ['tests/**', 'bench/**', 'migrations/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['examples/web/**/*.{ts,tsx}', 'src/graphiql/**/*.tsx'],
    languageOptions: { globals: { ...globals.browser } },
  },
  prettier,
);
