/**
 * `clawops reconcile`: the loop that keeps a fleet honest (cron, CI schedule, or a long-running
 * `--interval`/`--watch` process). Exit 0 converged, 1 errors (or denied changes), 2 drift or held
 * changes remain; a run that found its shard leased to another run exits 0 and says so.
 */
import { InvalidArgumentError, type Command, type Option } from 'commander';
import { ClawopsError, UsageError } from '../../errors.ts';
import type { ExitCode, Ports } from '../../ports.ts';
import { formatDuration, parseDuration } from '../../reconcile/duration.ts';
import { reconcileLoop } from '../../reconcile/loop.ts';
import { DEFAULT_LEASE_TTL_MS, reconcileOnce, type ReconcileOptions } from '../../reconcile/run-once.ts';
import { renderRun, type RunReport } from '../../reconcile/summary.ts';
import type { CommandContext } from '../program.ts';
import { addLiveOptions } from './plan-context.ts';

interface ReconcileCliOptions extends Omit<ReconcileOptions, 'leaseTtlMs'> {
  readonly once?: boolean;
  readonly interval?: number;
  readonly watch?: boolean;
  readonly json: boolean;
  readonly leaseTtl?: number;
}

const durationArg = (min: number) => (value: string): number => {
  const ms = parseDuration(value);
  if (ms === undefined || ms < min) throw new InvalidArgumentError(`expected a duration of at least ${formatDuration(min)}, like 90s, 5m or 1h.`);
  return ms;
};

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new InvalidArgumentError('expected a whole number from 1 to 256.');
  return n;
}

export async function runReconcile(o: ReconcileCliOptions, ports: Ports, signal?: AbortSignal): Promise<ExitCode> {
  const modes = [o.once, o.interval !== undefined, o.watch].filter(Boolean).length;
  if (modes > 1 && !(o.watch && o.interval !== undefined && !o.once)) throw new UsageError('choose one of --once, --interval DUR and --watch (--watch may take an --interval as its fallback)', {});
  const opts: ReconcileOptions = { ...o, leaseTtlMs: o.leaseTtl ?? DEFAULT_LEASE_TTL_MS };
  // A long-running loop prints one JSON line per run (a log shipper reads them as they come).
  const show = (r: RunReport) => ports.out.write(o.json ? JSON.stringify(r) + '\n' : renderRun(r));
  if (!o.interval && !o.watch) {
    const report = await reconcileOnce(opts, ports);
    if (o.json) ports.out.write(JSON.stringify(report, null, 2) + '\n');
    else ports.out.write(renderRun(report));
    return report.exitCode;
  }
  const controller = new AbortController();
  const stop = () => controller.abort();
  signal?.addEventListener('abort', stop, { once: true });
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await reconcileLoop({ ...opts, intervalMs: o.interval ?? 5 * 60_000, watch: Boolean(o.watch) }, ports, {
      signal: controller.signal,
      onReport: show,
      onError: (e) => {
        if (!(e instanceof ClawopsError)) throw e;
        ports.err.write(`error: ${e.message}\n`);
        return 1;
      },
    });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

export function registerReconcile(program: Command, ctx: CommandContext, repoOption: () => Option, jsonOption: () => Option): void {
  addLiveOptions(
    program
      .command('reconcile')
      .description('pull the fleet repo, plan every gateway of the shard, apply what policy and approvals allow, handle drift, open PRs, record audit (exit 0 converged, 1 errors, 2 drift or held changes remain)'),
    repoOption,
  )
    .addOption(jsonOption())
    .option('--once', 'one run, then exit (the default; for cron and CI)')
    .option('--interval <duration>', 'run again this long after each run ends (e.g. 5m), until SIGINT/SIGTERM', durationArg(1000))
    .option('--watch', "also run within seconds of a gateway's config.changed event (falls back to --interval, default 5m)")
    .option('--parallel <n>', 'gateways worked on at once (default: clawops.yaml defaults.parallelism, else 8)', positiveInt)
    .option('--no-pull', 'do not fetch and fast-forward the fleet checkout first')
    .option('--lease-ttl <duration>', 'how long the shard lease lasts without renewal; a crashed run blocks its shard this long (default 15m)', durationArg(1000))
    .action(async (o: ReconcileCliOptions) => {
      ctx.exitCode = await runReconcile(o, ctx.ports);
    });
}
