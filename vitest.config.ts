import { defineConfig } from 'vitest/config';

// Two cores: run test files in two forked workers; integration tests start real processes.
export default defineConfig({
  test: {
    include: ['services/**/*.test.ts', 'clients/**/*.test.ts', 'wire/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    // Budgets that hold at 3x the normal time: a test that times out under load is broken.
    testTimeout: 120_000,
    hookTimeout: 90_000,
    reporters: ['default'],
    // One real PostgreSQL server for the run (the coordinator-replica tests).
    globalSetup: ['test/global-postgres.ts'],
  },
});
