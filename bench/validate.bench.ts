/**
 * How long `loadRepo()` (everything `clawops validate` does) takes on a large fleet repo:
 * 10,000 resources in 1,000 files. One warm-up run (it also compiles the schemas), then five
 * measured runs; reports the median wall time, documents per second and the process's peak RSS.
 * Target: ≤ 2 s.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadRepo, type FleetRepo } from '../reconciler/load/load-repo.ts';
import { snapshotProcessEnv } from '../reconciler/cli/process-env.ts';
import { formatDiagnostic } from '../reconciler/diagnostics/diagnostic.ts';
import { generateRepo } from './generate-repo.ts';
import { formatTable, type BenchResult } from './report.ts';
import { median } from './stats.ts';

// Measure what the `clawops` process does: its entry snapshots the environment first.
snapshotProcessEnv();

export const RESOURCES = 10_000;
export const FILES = 1_000;
export const RUNS = 5;
export const TARGET_MS = 2_000;


/** A benchmark of a failing validation is meaningless: stop at the first error diagnostic. */
function assertClean(repo: FleetRepo, expectedResources: number): void {
  const errors = repo.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) {
    const shown = errors.slice(0, 5).map(formatDiagnostic).join('\n');
    throw new Error(`the generated repo does not validate: ${errors.length} error(s), e.g.\n${shown}`);
  }
  if (repo.resources.length !== expectedResources) {
    throw new Error(`loadRepo returned ${repo.resources.length} resources, expected ${expectedResources}`);
  }
}

async function timed(root: string, expectedResources: number): Promise<number> {
  const start = performance.now();
  const repo = await loadRepo(root);
  const ms = performance.now() - start;
  assertClean(repo, expectedResources);
  return ms;
}

export async function run(): Promise<BenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'clawops-bench-validate-'));
  try {
    const generated = await generateRepo(dir, { resources: RESOURCES, files: FILES });
    const coldMs = await timed(dir, generated.resources);
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) times.push(await timed(dir, generated.resources));
    const ms = median(times);
    const result: BenchResult = {
      name: `validate: loadRepo() on ${generated.resources.toLocaleString('en-US')} resources in ${generated.files.toLocaleString('en-US')} files (${(generated.bytes / 1024 / 1024).toFixed(1)} MiB), median of ${RUNS} after 1 warm-up`,
      metrics: [
        { label: 'median wall time', value: Math.round(ms), unit: 'ms', max: TARGET_MS },
        { label: 'fastest run', value: Math.round(Math.min(...times)), unit: 'ms' },
        { label: 'slowest run', value: Math.round(Math.max(...times)), unit: 'ms' },
        { label: 'first (cold) run', value: Math.round(coldMs), unit: 'ms' },
        { label: 'documents per second', value: Math.round(generated.resources / (ms / 1000)), unit: 'docs/s' },
        { label: 'peak RSS', value: Math.round(process.resourceUsage().maxRSS / 1024), unit: 'MiB' },
      ],
    };
    console.log(formatTable(result));
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
