/** Jest: ts-jest compiles TypeScript (with decorator metadata); jose is ESM-only and is compiled to CommonJS too. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: 'tsconfig.json', isolatedModules: true }],
    '^.+\\.m?js$': ['ts-jest', { tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2022' }, isolatedModules: true }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(jose)/)'],
  testTimeout: 30000,
  maxWorkers: 2,
};
