/**
 * `clawops reconcile --once` end to end on the bundled example fleet (examples/fleet) against two
 * real OpenClaw gateways (fleet/harness), with its policies (the baseline pack and its own
 * guardrails) in force. A temp copy of the example points its two Gateways at the gateways, which
 * start with the example's own token (its `gateway-token` secret, decrypted with
 * examples/demo-age-identity.txt). One change to the copy: prod-eu's drift mode is `revert`
 * instead of `propose`, so the loop has a drift to put back (without GitHub, `propose` is
 * reported as an alert and nothing is written).
 *
 * Untimed set-up: under baseline, creating the example's agents waits for approval, so the fleet
 * is bootstrapped once with `clawops apply --auto-approve --break-glass --reason bench` (as an
 * operator would), then one reconcile writes last-applied everywhere. Timed, each in a fresh
 * reconciler process (bench/reconcile-child.ts, Node's start-up excluded), the example's own
 * parallelism (defaults.parallelism: 4):
 * (a) a no-op reconcile: both gateways converged, nothing written (checked);
 * (b) a reconcile that reverts one field changed by hand on prod-eu with the openclaw CLI
 *     (`openclaw config set agents.entries.triage.description …`): exactly that gateway written,
 *     one drifted field reverted (checked, and the live value read back afterwards).
 * No targets: two gateways; these are measurements.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openclaw } from '../fleet/harness/openclaw-cli.ts';
import { startGateways, type RealGateway } from '../fleet/harness/real-gateway.ts';
import { packageRoot } from '../reconciler/package-root.ts';
import { Redactor } from '../reconciler/redact/redactor.ts';
import { parseIdentities, readSecret } from '../reconciler/secrets/age-store.ts';
import { clawopsInProcess } from './in-process-cli.ts';
import { reconcileInChild, type ReconcileSample } from './reconcile-child.ts';
import { formatTable, type BenchMetric, type BenchResult } from './report.ts';
import { median } from './stats.ts';

export const RUNS = 3;
/** Per gateway connect: two real gateways on 2 busy cores can be slow to answer. */
const TIMEOUT_S = 30;
const DRIFT_AGENT = 'triage';
const DRIFT_PATH = `agents.entries.${DRIFT_AGENT}.description`;

const EXAMPLE = join(packageRoot(), 'examples', 'fleet');
const DEMO_IDENTITY = join(packageRoot(), 'examples', 'demo-age-identity.txt');

/** The example's shared gateway token, as its demo identity decrypts it. */
async function exampleToken(): Promise<string> {
  const identities = parseIdentities(readFileSync(DEMO_IDENTITY, 'utf8'), DEMO_IDENTITY);
  return readSecret(EXAMPLE, 'gateway-token', identities, new Redactor());
}

/** A temp copy of examples/fleet aimed at the two gateways; prod-eu reverts drift. */
function exampleCopy(eu: RealGateway, us: RealGateway): { dir: string; env: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), 'clawops-bench-example-'));
  cpSync(EXAMPLE, dir, { recursive: true });
  const edit = (file: string, from: string, to: string) => {
    const text = readFileSync(join(dir, file), 'utf8');
    if (!text.includes(from)) throw new Error(`${file} no longer contains "${from}": update the benchmark`);
    writeFileSync(join(dir, file), text.replace(from, to));
  };
  edit('gateways/prod-eu.yaml', 'url: ws://127.0.0.1:18789', `url: ${eu.url}`);
  edit('gateways/prod-eu.yaml', 'drift: { mode: propose }', 'drift: { mode: revert }');
  edit('gateways/prod-us.yaml', 'url: ws://127.0.0.1:18790', `url: ${us.url}`);
  return { dir, env: { CLAWOPS_AGE_IDENTITY: DEMO_IDENTITY, CLAWOPS_STATE_DIR: join(dir, '.state'), CLAWOPS_ACTOR: 'bench' } };
}

function check(what: string, s: ReconcileSample, expect: { applied: string[]; reverted: number }): void {
  const problems: string[] = [];
  if (s.errors.length) problems.push(`run errors: ${s.errors.join('; ')}`);
  if (s.exitCode !== 0) problems.push(`exit code ${s.exitCode}`);
  const got = s.touched.map((t) => `${t.gateway}:${t.status}:${t.driftReverted}`).sort();
  const want = expect.applied.map((g) => `${g}:applied:${expect.reverted}`).sort();
  if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`gateways not converged ${JSON.stringify(s.touched)}, expected ${want.join(', ') || 'none'}`);
  if (s.totals.driftReverted !== expect.reverted || s.totals.converged !== 2 - expect.applied.length) problems.push(`totals ${JSON.stringify(s.totals)}`);
  if (problems.length) throw new Error(`${what}: ${problems.join('; ')}`);
}

export async function run(): Promise<BenchResult> {
  const token = await exampleToken();
  const t0 = performance.now();
  const [eu, us] = await startGateways([
    { name: 'bench-example-eu', token },
    { name: 'bench-example-us', token },
  ]);
  if (!eu || !us) throw new Error('the gateways did not start');
  process.stdout.write(`two gateways (openclaw ${eu.version}) ready in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  let dir: string | undefined;
  try {
    const copy = exampleCopy(eu, us);
    dir = copy.dir;
    const { env } = copy;
    const reconcile = () => reconcileInChild(copy.dir, env, { parallel: 0, timeoutS: TIMEOUT_S });

    const boot = await clawopsInProcess(['apply', '--repo', copy.dir, '--auto-approve', '--break-glass', '--reason', 'bench', '--timeout', String(TIMEOUT_S), '--json'], env);
    if (boot.code !== 0) throw new Error(`bootstrap apply exited ${boot.code}: ${boot.stderr.trim()}\n${boot.stdout.slice(0, 2000)}`);
    const first = await reconcile();
    check('first reconcile after the bootstrap', first, { applied: [], reverted: 0 });
    process.stdout.write(`bootstrapped (apply --break-glass), first reconcile ${Math.round(first.ms)} ms: ${first.totals.converged} converged\n`);

    const noop: ReconcileSample[] = [];
    for (let r = 0; r < RUNS; r++) {
      const s = await reconcile();
      check(`no-op run ${r + 1}`, s, { applied: [], reverted: 0 });
      noop.push(s);
      process.stdout.write(`no-op ${r + 1}/${RUNS}: ${Math.round(s.ms)} ms, reconciler peak RSS ${s.peakRssMb} MB\n`);
    }
    const revert: ReconcileSample[] = [];
    const desired = (await openclaw(eu.home, ['config', 'get', DRIFT_PATH])).trim();
    for (let r = 0; r < RUNS; r++) {
      await openclaw(eu.home, ['config', 'set', DRIFT_PATH, `edited by hand, round ${r + 1}`]);
      const s = await reconcile();
      check(`drift run ${r + 1}`, s, { applied: ['prod-eu'], reverted: 1 });
      const live = (await openclaw(eu.home, ['config', 'get', DRIFT_PATH])).trim();
      if (live !== desired) throw new Error(`drift run ${r + 1}: ${DRIFT_PATH} is "${live}" after the reconcile, expected "${desired}"`);
      revert.push(s);
      process.stdout.write(`drift revert ${r + 1}/${RUNS}: ${Math.round(s.ms)} ms, reverted ${s.totals.driftReverted} field on ${s.touched.map((t) => t.gateway).join(', ')}, reconciler peak RSS ${s.peakRssMb} MB\n`);
    }

    const ms = (xs: readonly ReconcileSample[]) => Math.round(median(xs.map((s) => s.ms)));
    const rss = (xs: readonly ReconcileSample[]) => median(xs.map((s) => s.peakRssMb));
    const cpu = (xs: readonly ReconcileSample[]) => Math.round(median(xs.map((s) => s.cpuMs)));
    const metrics: BenchMetric[] = [
      { label: `no-op reconcile, median of ${RUNS}`, value: ms(noop), unit: 'ms' },
      { label: 'no-op reconcile peak RSS, median', value: rss(noop), unit: 'MB' },
      { label: `reconcile reverting 1 drifted field, median of ${RUNS}`, value: ms(revert), unit: 'ms' },
      { label: 'reconcile reverting drift peak RSS, median', value: rss(revert), unit: 'MB' },
      { label: 'no-op reconcile CPU time, median', value: cpu(noop), unit: 'ms' },
      { label: 'reconcile reverting drift CPU time, median', value: cpu(revert), unit: 'ms' },
    ];
    const result: BenchResult = {
      name: `examples/fleet reconcile on 2 real gateways (openclaw ${eu.version}; baseline + the example's guardrails; prod-eu drift mode revert); each run a fresh reconciler process, Node start-up excluded; load average ${loadavg()[0]!.toFixed(1)} after`,
      metrics,
    };
    console.log(formatTable(result));
    return result;
  } finally {
    await Promise.all([eu.stop(), us.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
