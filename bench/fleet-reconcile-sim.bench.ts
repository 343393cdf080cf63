/**
 * `clawops reconcile --once` on a large fleet against the gateway simulator: N simulated gateways
 * × 20 agents, for N = 100 and N = 1,000 (bench/sim-fleet.ts: the simulator in its own process,
 * every measured run a fresh reconciler process (bench/reconcile-child.ts), Node's start-up not
 * timed).
 *
 * - No-op: live already equals desired on every gateway and last-applied state exists, so the
 *   loop reads, plans and finds nothing to write. Built honestly: the simulator starts with the
 *   20 desired agents and one untimed reconcile first writes the state (it also creates the 1%
 *   gateways' own agent, below).
 * - 1% changes: 1% of the gateways (1 of 100, 10 of 1,000, spread across the fleet) each have
 *   their own Agent (`tuned-<gateway>`, agent id `tuned`, `gateway: <name>`); between runs its
 *   `thinkingDefault` flips in git, as a merged pull request would. Each run must write exactly
 *   those gateways, one change each, and leave every other converged (checked: a benchmark that
 *   silently applies nothing proves nothing).
 *
 * Runs with `--parallel 32`, what an operator of a thousand gateways would set (the default, 8,
 * is for small fleets). The reconcile is `reconcileOnce`, what `clawops reconcile --once
 * --no-pull` runs: load and validate the repo, open the state, take the lease, plan/gate/apply/
 * verify each gateway, one audit commit, give the lease back. Targets (issue 8, set for the full
 * plan): N = 1,000 in ≤ 5 s and ≤ 400 MB peak RSS; a miss is reported, not an error.
 */
import { rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { reconcileInChild, type ReconcileSample } from './reconcile-child.ts';
import { formatTable, type BenchMetric, type BenchResult } from './report.ts';
import { AGENTS_PER_GATEWAY, API, desiredConfig, startSimProcess, stopSimProcess, writeFleetRepo, type FleetRepoDir } from './sim-fleet.ts';
import { median } from './stats.ts';

export const SIZES = [
  { gateways: 100, runs: 3 },
  { gateways: 1_000, runs: 3 },
] as const;
/** One gateway in a hundred gets a change in git between runs. */
export const CHANGED_EVERY = 100;
export const PARALLEL = 32;
export const TARGET_MS = 5_000;
export const TARGET_MB = 400;
/** Connect timeout per gateway: 1,000 handshakes on 2 busy cores queue behind each other. */
const TIMEOUT_S = 60;

/** The gateways that get a change: every CHANGED_EVERY-th, so they are spread over the fleet (and over the run's order). */
export const changedGateways = (names: readonly string[]): string[] => names.filter((_, i) => i % CHANGED_EVERY === 0);

function tunedAgentYaml(gateway: string, thinking: string): string {
  return `${API}
kind: Agent
metadata:
  name: tuned-${gateway}
spec:
  id: tuned
  gateway: ${gateway}
  config:
    name: Tuned for ${gateway}
    model: { primary: anthropic/claude-sonnet-4-6 }
    thinkingDefault: ${thinking}
`;
}

const writeTunedAgents = (repo: FleetRepoDir, gateways: readonly string[], thinking: string) =>
  Promise.all(gateways.map((g) => writeFile(join(repo.dir, 'agents', `tuned-${g}.yaml`), tunedAgentYaml(g, thinking))));

const reconcile = (repo: FleetRepoDir): Promise<ReconcileSample> => reconcileInChild(repo.dir, repo.env, { parallel: PARALLEL, timeoutS: TIMEOUT_S });

/** Exactly `applied` gateways written, one change each, every other one converged, nothing failed. */
function check(what: string, s: ReconcileSample, gateways: number, applied: readonly string[]): void {
  const problems: string[] = [];
  if (s.errors.length) problems.push(`run errors: ${s.errors.join('; ')}`);
  if (s.exitCode !== 0) problems.push(`exit code ${s.exitCode}`);
  const got = s.touched.map((t) => `${t.gateway}:${t.status}:${t.applied}`).sort();
  const want = applied.map((g) => `${g}:applied:1`).sort();
  if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`gateways not converged: ${got.slice(0, 10).join(', ') || 'none'} (${s.touched.find((t) => t.message)?.message ?? ''}); expected ${want.join(', ') || 'none'}`);
  const t = s.totals;
  if (t.converged !== gateways - applied.length || t.applied !== applied.length || t.applied_changes !== applied.length || t.error || t.pending) problems.push(`totals ${JSON.stringify(t)}`);
  if (problems.length) throw new Error(`${what}: ${problems.join('; ')}`);
}

export async function run(): Promise<BenchResult> {
  const metrics: BenchMetric[] = [];
  const notes: string[] = [];
  const peak = new Map<number, number>();
  for (const { gateways, runs } of SIZES) {
    const { child, info } = await startSimProcess(gateways, desiredConfig());
    let repo: FleetRepoDir | undefined;
    try {
      repo = await writeFleetRepo(info);
      const changed = changedGateways(repo.gateways);
      await writeTunedAgents(repo, changed, 'low');
      // Untimed: creates the 1% gateways' own agent and writes last-applied for every gateway.
      const setup = await reconcile(repo);
      check(`N=${gateways} setup run`, setup, gateways, changed);
      process.stdout.write(`N=${gateways} setup run: ${Math.round(setup.ms)} ms, created ${setup.totals.applied_changes} agents, reconciler peak RSS ${setup.peakRssMb} MB\n`);

      const noop: ReconcileSample[] = [];
      for (let r = 0; r < runs; r++) {
        const s = await reconcile(repo);
        check(`N=${gateways} no-op run ${r + 1}`, s, gateways, []);
        noop.push(s);
        process.stdout.write(`N=${gateways} no-op ${r + 1}/${runs}: ${Math.round(s.ms)} ms, ${s.totals.converged} converged, reconciler peak RSS ${s.peakRssMb} MB\n`);
      }
      const onePct: ReconcileSample[] = [];
      for (let r = 0; r < runs; r++) {
        await writeTunedAgents(repo, changed, r % 2 ? 'low' : 'high');
        const s = await reconcile(repo);
        check(`N=${gateways} 1% run ${r + 1}`, s, gateways, changed);
        onePct.push(s);
        process.stdout.write(`N=${gateways} 1% ${r + 1}/${runs}: ${Math.round(s.ms)} ms, applied ${s.totals.applied_changes} change(s) on ${s.totals.applied} gateway(s), ${s.totals.converged} converged, reconciler peak RSS ${s.peakRssMb} MB\n`);
      }

      const big = gateways === Math.max(...SIZES.map((z) => z.gateways));
      const n = gateways.toLocaleString('en-US');
      const ms = (xs: readonly ReconcileSample[]) => Math.round(median(xs.map((s) => s.ms)));
      const rss = (xs: readonly ReconcileSample[]) => median(xs.map((s) => s.peakRssMb));
      const cpu = (xs: readonly ReconcileSample[]) => Math.round(median(xs.map((s) => s.cpuMs)));
      metrics.push(
        { label: `N=${n}: no-op reconcile, median of ${runs}`, value: ms(noop), unit: 'ms', ...(big ? { max: TARGET_MS } : {}) },
        { label: `N=${n}: no-op reconcile peak RSS, median`, value: rss(noop), unit: 'MB', ...(big ? { max: TARGET_MB } : {}) },
        { label: `N=${n}: reconcile applying 1% (${changed.length} gateway${changed.length > 1 ? 's' : ''}), median of ${runs}`, value: ms(onePct), unit: 'ms', ...(big ? { max: TARGET_MS } : {}) },
        { label: `N=${n}: reconcile applying 1% peak RSS, median`, value: rss(onePct), unit: 'MB', ...(big ? { max: TARGET_MB } : {}) },
        { label: `N=${n}: slowest run of either`, value: Math.round(Math.max(...[...noop, ...onePct].map((s) => s.ms))), unit: 'ms' },
        { label: `N=${n}: no-op reconcile CPU time, median`, value: cpu(noop), unit: 'ms' },
        { label: `N=${n}: reconcile applying 1% CPU time, median`, value: cpu(onePct), unit: 'ms' },
      );
      peak.set(gateways, Math.max(...[...noop, ...onePct].map((s) => s.peakRssMb)));
      notes.push(`N=${n}: ${gateways * AGENTS_PER_GATEWAY} agents, ${changed.length} written per 1% run (checked: exactly those, 1 change each), load average ${loadavg()[0]!.toFixed(1)} after`);
    } finally {
      await stopSimProcess(child);
      if (repo) await rm(repo.base, { recursive: true, force: true });
    }
  }
  const [small, large] = SIZES.map((z) => peak.get(z.gateways)!);
  metrics.push({ label: `peak RSS ratio N=${SIZES[1].gateways.toLocaleString('en-US')} / N=${SIZES[0].gateways} (fleet ×${SIZES[1].gateways / SIZES[0].gateways})`, value: Math.round((large! / small!) * 10) / 10, unit: '×' });
  const result: BenchResult = {
    name: `fleet reconcile on the simulator (reconcile --once --no-pull --parallel ${PARALLEL}): N gateways × ${AGENTS_PER_GATEWAY} agents, last-applied state present; each run a fresh reconciler process (Node start-up excluded), simulator in another\n  ${notes.join('; ')}`,
    metrics,
  };
  console.log(formatTable(result));
  return result;
}

