/**
 * A full plan of a large fleet against the gateway simulator (fleet/sim): N simulated gateways
 * with 20 agents each, for N = 100 and N = 1,000. Three processes (bench/sim-fleet.ts): this one
 * writes the repo and collects results; the simulator runs in a child; every plan runs in a fresh
 * planner child (this file with `--plan REPO N`), so each sample is one cold plan, as one
 * `clawops plan` would run it, and its peak RSS is the plan's own. Node's start-up is not timed.
 *
 * The repo is bench/sim-fleet.ts's: N Gateways × the same 20 Agents. Live is pre-seeded (`initialConfig`): 15 agents as desired, 3 with another `thinkingDefault`,
 * 2 missing, so every gateway's plan has 5 changes (checked). A full plan is what `clawops plan`
 * does before rendering: load and validate the repo, open the state, then `makePlan` (decrypt,
 * connect, read live, fetch the schema, diff) on every gateway. Targets (issue 8): N = 1,000 in
 * ≤ 5 s and ≤ 400 MB peak RSS; a miss is reported, not an error.
 */
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { JsonRecord } from '../fleet/sim/json.ts';
import { planContext } from '../reconciler/cli/commands/plan-context.ts';
import { makePlan } from '../reconciler/plan/make-plan.ts';
import type { Plan } from '../reconciler/plan/plan.ts';
import { capturingPorts } from './in-process-cli.ts';
import { formatTable, type BenchMetric, type BenchResult } from './report.ts';
import { AGENTS_PER_GATEWAY, agentEntry, agentId, configWith, mb, runJsonChild, startSimProcess, stopSimProcess, writeFleetRepo, type FleetRepoDir } from './sim-fleet.ts';
import { median } from './stats.ts';

/** Per gateway: 3 updated agents (thinkingDefault) and 2 created. */
export const CHANGED = 3;
export const MISSING = 2;
export const SIZES = [
  { gateways: 100, runs: 3 },
  { gateways: 1_000, runs: 3 },
] as const;
export const TARGET_MS = 5_000;
export const TARGET_MB = 400;
/** Connect timeout per gateway: 1,000 handshakes on 2 busy cores queue behind each other. */
const TIMEOUT_S = 60;

/** What every simulated gateway holds before the plan: the last MISSING agents absent, CHANGED before them drifted. */
export function seededConfig(): JsonRecord {
  const entries: JsonRecord = {};
  const present = AGENTS_PER_GATEWAY - MISSING;
  for (let k = 0; k < present; k++) {
    const e = agentEntry(k);
    entries[agentId(k)] = k >= present - CHANGED ? { ...e, thinkingDefault: 'medium' } : e;
  }
  return configWith(entries);
}

interface PlanRun {
  readonly total: number;
  /** planContext: load and validate the repo, identities, device key, state store. */
  readonly context: number;
  /** makePlan on every gateway. */
  readonly plan: number;
  readonly parallelism: number;
}

/** One full plan, checked: a benchmark of a plan with errors or the wrong changes is meaningless. */
async function fullPlan(repo: Pick<FleetRepoDir, 'dir' | 'env'>, gateways: number): Promise<PlanRun> {
  const { ports } = capturingPorts(repo.env);
  const t0 = performance.now();
  const { gateways: selected, ctx } = await planContext({ repo: repo.dir, timeout: TIMEOUT_S }, ports, 'plan');
  const t1 = performance.now();
  const plan = await makePlan(selected, ctx);
  const t2 = performance.now();
  check(plan, gateways);
  return { total: t2 - t0, context: t1 - t0, plan: t2 - t1, parallelism: ctx.parallelism };
}

function check(plan: Plan, gateways: number): void {
  const broken = plan.gateways.filter((g) => g.status === 'error');
  if (broken.length) throw new Error(`${broken.length} gateway plan(s) failed, e.g. ${broken[0]!.gateway}: ${broken[0]!.errors.map((e) => e.message).join('; ')}`);
  const { summary } = plan;
  const want = { gateways, gatewaysWithChanges: gateways, create: gateways * MISSING, update: gateways * CHANGED };
  const got = { gateways: summary.gateways, gatewaysWithChanges: summary.gatewaysWithChanges, create: summary.create, update: summary.update };
  if (JSON.stringify(got) !== JSON.stringify(want) || summary.delete !== 0) {
    const first = plan.gateways[0];
    const sample = first?.changes.slice(0, 8).map((c) => `${c.action} ${c.agentId} ${c.path}`).join(', ');
    throw new Error(`unexpected plan: ${JSON.stringify(summary)}, expected ${JSON.stringify(want)}; first gateway: ${sample}`);
  }
}

interface PlannerReport extends PlanRun {
  /** The planner process's `maxRSS`, in MB. */
  readonly peakRssMb: number;
}

/** The planner child: one full plan in a fresh process, as one `clawops plan` would run; prints its timings and peak RSS as JSON. */
async function plannerChild(dir: string, gateways: number): Promise<void> {
  const env = { CLAWOPS_AGE_IDENTITY: process.env.CLAWOPS_AGE_IDENTITY ?? '', CLAWOPS_STATE_DIR: process.env.CLAWOPS_STATE_DIR ?? '' };
  const planned = await fullPlan({ dir, env }, gateways);
  const report: PlannerReport = { ...planned, peakRssMb: mb(process.resourceUsage().maxRSS) };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

function planInChild(repo: FleetRepoDir, gateways: number): Promise<PlannerReport> {
  return runJsonChild<PlannerReport>(fileURLToPath(import.meta.url), ['--plan', repo.dir, String(gateways)], repo.env);
}

export async function run(): Promise<BenchResult> {
  const metrics: BenchMetric[] = [];
  const notes: string[] = [];
  for (const { gateways, runs } of SIZES) {
    const { child, info } = await startSimProcess(gateways, seededConfig());
    let repo: FleetRepoDir | undefined;
    try {
      repo = await writeFleetRepo(info);
      const samples: PlannerReport[] = [];
      for (let r = 0; r < runs; r++) {
        const s = await planInChild(repo, gateways);
        samples.push(s);
        process.stdout.write(`N=${gateways} run ${r + 1}/${runs}: ${Math.round(s.total)} ms (context ${Math.round(s.context)} ms, makePlan ${Math.round(s.plan)} ms), planner peak RSS ${s.peakRssMb} MB\n`);
      }
      const big = gateways === Math.max(...SIZES.map((z) => z.gateways));
      const n = gateways.toLocaleString('en-US');
      const col = (k: keyof PlannerReport) => samples.map((s) => s[k]);
      metrics.push(
        { label: `N=${n}: full plan, median of ${runs}`, value: Math.round(median(col('total'))), unit: 'ms', ...(big ? { max: TARGET_MS } : {}) },
        { label: `N=${n}: fastest run`, value: Math.round(Math.min(...col('total'))), unit: 'ms' },
        { label: `N=${n}: slowest run`, value: Math.round(Math.max(...col('total'))), unit: 'ms' },
        { label: `N=${n}: load repo + context, median`, value: Math.round(median(col('context'))), unit: 'ms' },
        { label: `N=${n}: makePlan, median`, value: Math.round(median(col('plan'))), unit: 'ms' },
        { label: `N=${n}: planner peak RSS, median`, value: median(col('peakRssMb')), unit: 'MB', ...(big ? { max: TARGET_MB } : {}) },
        { label: `N=${n}: planner peak RSS, highest`, value: Math.max(...col('peakRssMb')), unit: 'MB' },
      );
      notes.push(`N=${n}: ${gateways * AGENTS_PER_GATEWAY} agents, ${gateways * (CHANGED + MISSING)} changes, parallelism ${samples[0]!.parallelism}`);
    } finally {
      await stopSimProcess(child);
      if (repo) await rm(repo.base, { recursive: true, force: true });
    }
  }
  const result: BenchResult = {
    name: `fleet plan on the simulator: N gateways × ${AGENTS_PER_GATEWAY} agents, ${CHANGED} updated + ${MISSING} created per gateway; each run a fresh planner process (one cold plan, Node start-up excluded), simulator in another\n  ${notes.join('; ')}`,
    metrics,
  };
  console.log(formatTable(result));
  return result;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [mode, a, b] = process.argv.slice(2);
  if (mode === '--plan' && a && Number.isInteger(Number(b))) await plannerChild(a, Number(b));
  else throw new Error('usage: node bench/fleet-plan-sim.bench.ts --plan REPO GATEWAYS (started by run())');
}
