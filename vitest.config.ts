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
    // One file at a time. Files that write to the shared gateway `a` while others read it have,
    // with two or three at once, left it with a saved change waiting for a restart (and once
    // restarting) under the readers' assertions; the cause is not understood yet (see the
    // closing note of issues 3–4).
    maxWorkers: 1,
  },
});
