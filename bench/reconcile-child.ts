/**
 * One `clawops reconcile --once --no-pull` in a fresh Node process, as cron would start it: the
 * child (this file, `node bench/reconcile-child.ts REPO PARALLEL TIMEOUT_S`) runs `reconcileOnce`,
 * the loop the CLI runs, and prints its wall and CPU time (Node's start-up excluded), its peak
 * RSS and what the run did as one JSON line. Converged gateways are only counted, so the report stays
 * small for a thousand of them.
 */
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { DEFAULT_LEASE_TTL_MS, reconcileOnce } from '../reconciler/reconcile/run-once.ts';
import type { RunReport } from '../reconciler/reconcile/summary.ts';
import { capturingPorts } from './in-process-cli.ts';
import { mb, runJsonChild } from './sim-fleet.ts';

export interface ReconcileSample {
  readonly ms: number;
  /** User + system CPU time of the reconciler over the same span: less sensitive than wall time to other processes on the machine. */
  readonly cpuMs: number;
  readonly peakRssMb: number;
  readonly exitCode: number;
  readonly totals: RunReport['totals'];
  /** Every gateway the run did not find converged. */
  readonly touched: ReadonlyArray<{ readonly gateway: string; readonly status: string; readonly applied: number; readonly driftReverted: number; readonly message?: string }>;
  /** Run-level errors, and a lease that was not ours. */
  readonly errors: readonly string[];
}

export interface ReconcileRunOptions {
  /** `--parallel`; 0 for clawops.yaml's defaults.parallelism. */
  readonly parallel: number;
  /** `--timeout`, seconds per gateway connect. */
  readonly timeoutS: number;
}

/** Runs the reconcile in a fresh process with `env` (age identity, state dir) added to this one's. */
export const reconcileInChild = (repo: string, env: Readonly<Record<string, string>>, opts: ReconcileRunOptions): Promise<ReconcileSample> =>
  runJsonChild<ReconcileSample>(fileURLToPath(import.meta.url), [repo, String(opts.parallel), String(opts.timeoutS)], env);

async function child(repo: string, opts: ReconcileRunOptions): Promise<void> {
  const env: Record<string, string> = {};
  for (const k of ['CLAWOPS_AGE_IDENTITY', 'CLAWOPS_STATE_DIR', 'CLAWOPS_ACTOR']) if (process.env[k]) env[k] = process.env[k]!;
  const { ports } = capturingPorts(env);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const report = await reconcileOnce({ repo, timeout: opts.timeoutS, pull: false, leaseTtlMs: DEFAULT_LEASE_TTL_MS, ...(opts.parallel ? { parallel: opts.parallel } : {}) }, ports);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const sample: ReconcileSample = {
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    peakRssMb: mb(process.resourceUsage().maxRSS),
    exitCode: report.exitCode,
    totals: report.totals,
    touched: report.gateways
      .filter((g) => g.status !== 'converged')
      .map((g) => ({ gateway: g.gateway, status: g.status, applied: g.applied, driftReverted: g.drift.reverted, ...(g.message ? { message: g.message } : {}) })),
    errors: [...(report.errors ?? []), ...(report.lease.status === 'acquired' ? [] : [`lease ${report.lease.status}`])],
  };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [repo, parallel, timeout] = process.argv.slice(2);
  if (repo && Number.isInteger(Number(parallel)) && Number(timeout) > 0) await child(repo, { parallel: Number(parallel), timeoutS: Number(timeout) });
  else throw new Error('usage: node bench/reconcile-child.ts REPO PARALLEL TIMEOUT_S (started by the reconcile benchmarks)');
}
