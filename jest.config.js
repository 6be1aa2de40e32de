/** Jest runs the TypeScript sources directly as ESM (ts-jest, transpile only: `npm test` type-checks first). */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  reporters: ['default', '<rootDir>/test/helpers/summary-reporter.cjs'],
  testTimeout: 30000,
};
