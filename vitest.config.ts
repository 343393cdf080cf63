import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'reconciler/**/*.test.ts', 'fleet/**/*.test.ts'],
    // Also starts the shared real gateways (no time limit applies to global setup itself).
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Global teardown stops the real gateways: up to 10 s of grace each before SIGKILL.
    teardownTimeout: 30_000,
    pool: 'forks',
    // Most tests wait on real gateways rather than the CPU, and the two slowest files (apply and
    // apply under faults) must overlap: on a 2-core machine the default runs one file at a time.
    // Not more than two: several files writing to the shared gateway `a` at once have made it
    // supersede writes and restart under the tests.
    maxWorkers: 2,
  },
});
