import { defineConfig } from 'vitest/config';

// Two cores: run test files in two forked workers; integration tests start real processes.
export default defineConfig({
  test: {
    include: ['services/**/*.test.ts', 'clients/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default'],
  },
});
