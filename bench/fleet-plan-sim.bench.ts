/**
 * A full plan of a large fleet against the gateway simulator (fleet/sim): N simulated gateways
 * with 20 agents each, for N = 100 and N = 1,000. Three processes: this one writes the repo and
 * collects results; the simulator runs in a child (this file with `--sim N`); every plan runs in a
 * fresh planner child (this file with `--plan REPO N`), so each sample is one cold plan, as one
 * `clawops plan` would run it, and its peak RSS is the plan's own. Node's start-up is not timed.
 *
 * The repo: N Gateways (`fleet: sim` label, each with its own age-encrypted token) and 20 Agents
 * selecting every gateway by that label, so each gateway's desired state is the same 20 agents.
 * Live is pre-seeded (`initialConfig`): 15 agents as desired, 3 with another `thinkingDefault`,
 * 2 missing, so every gateway's plan has 5 changes (checked). A full plan is what `clawops plan`
 * does before rendering: load and validate the repo, open the state, then `makePlan` (decrypt,
 * connect, read live, fetch the schema, diff) on every gateway. Targets (issue 8): N = 1,000 in
 * ≤ 5 s and ≤ 400 MB peak RSS; a miss is reported, not an error.
 */
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { exportDeviceKey, generateDeviceIdentity } from '../fleet/openclaw/device-identity.ts';
import { startSimulatedGateways } from '../fleet/sim/server.ts';
import type { JsonRecord } from '../fleet/sim/json.ts';
import { planContext } from '../reconciler/cli/commands/plan-context.ts';
import { DEVICE_KEY_SECRET } from '../reconciler/live/gateway-access.ts';
import { makePlan } from '../reconciler/plan/make-plan.ts';
import type { Plan } from '../reconciler/plan/plan.ts';
import { encryptSecret } from '../reconciler/secrets/age-store.ts';
import { capturingPorts } from './in-process-cli.ts';
import { formatTable, type BenchMetric, type BenchResult } from './report.ts';
import { median } from './stats.ts';

export const AGENTS_PER_GATEWAY = 20;
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

const API = 'apiVersion: clawops.dev/v1';
const pad = (n: number, w: number) => String(n).padStart(w, '0');
const agentId = (k: number) => `agent-${pad(k, 2)}`;
const MODELS = ['anthropic/claude-sonnet-4-6', 'openai/gpt-5.4', 'anthropic/claude-haiku-4-5'] as const;
const PROFILES = ['messaging', 'coding', 'minimal'] as const;

/** `agents.entries.<id>` exactly as the Agent's YAML declares it (the simulator's strict slice of the schema). */
function agentEntry(k: number): JsonRecord {
  return {
    name: `Sim Agent ${k}`,
    model: { primary: MODELS[k % MODELS.length]!, fallbacks: [MODELS[(k + 1) % MODELS.length]!] },
    thinkingDefault: k % 2 ? 'low' : 'high',
    skills: ['kb-search', `skill-${k % 7}`],
    tools: { profile: PROFILES[k % PROFILES.length]!, deny: ['exec', 'browser'] },
  };
}

/** What every simulated gateway holds before the plan: the last MISSING agents absent, CHANGED before them drifted. */
export function seededConfig(): JsonRecord {
  const entries: JsonRecord = {};
  const present = AGENTS_PER_GATEWAY - MISSING;
  for (let k = 0; k < present; k++) {
    const e = agentEntry(k);
    entries[agentId(k)] = k >= present - CHANGED ? { ...e, thinkingDefault: 'medium' } : e;
  }
  return { agents: { ownership: 'explicit', entries } };
}

function agentYaml(k: number): string {
  const e = agentEntry(k) as { name: string; model: { primary: string; fallbacks: string[] }; thinkingDefault: string; skills: string[]; tools: { profile: string; deny: string[] } };
  return `${API}
kind: Agent
metadata:
  name: ${agentId(k)}
  labels: { team: team-${k % 4} }
spec:
  gateways: { matchLabels: { fleet: sim } }
  config:
    name: ${e.name}
    model:
      primary: ${e.model.primary}
      fallbacks: [${e.model.fallbacks.join(', ')}]
    thinkingDefault: ${e.thinkingDefault}
    skills: [${e.skills.join(', ')}]
    tools:
      profile: ${e.tools.profile}
      deny: [${e.tools.deny.join(', ')}]
`;
}

interface SimInfo {
  readonly port: number;
  readonly gateways: ReadonlyArray<{ readonly url: string; readonly token: string }>;
}

/** The child: starts the simulator, prints its URLs and tokens as one JSON line, waits to be killed. */
async function simChild(count: number): Promise<void> {
  const seed = seededConfig();
  const sim = await startSimulatedGateways(count, { initialConfig: () => structuredClone(seed) });
  const info: SimInfo = { port: sim.port, gateways: sim.gateways.map((g) => ({ url: g.url, token: g.token })) };
  process.stdout.write(`${JSON.stringify(info)}\n`);
  // Kept alive by the listening server until the parent kills it; a parent that died without doing so closes our stdin.
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
}

/** Node's flags for the children, minus an `--eval`/`--print` script: a child that re-ran it would start this benchmark again, recursively. */
function childExecArgv(): string[] {
  const out: string[] = [];
  const args = process.execArgv;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-e' || a === '--eval' || a === '-p' || a === '--print') i++;
    else if (!/^(--eval|--print)=/.test(a)) out.push(a);
  }
  return out;
}

function startSimProcess(count: number): Promise<{ child: ChildProcess; info: SimInfo }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [...childExecArgv(), fileURLToPath(import.meta.url), '--sim', String(count)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout! });
    const onExit = (code: number | null) => fail(new Error(`the simulator process exited (${code}) before printing its gateways`));
    child.once('exit', onExit);
    child.once('error', fail);
    lines.once('line', (line) => {
      child.off('exit', onExit);
      lines.close();
      try {
        done({ child, info: JSON.parse(line) as SimInfo });
      } catch (e) {
        child.kill();
        fail(e);
      }
    });
  });
}

function stopSimProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    child.once('exit', () => done());
    process.kill(child.pid!, 'SIGTERM');
  });
}

interface FleetRepoDir {
  readonly base: string;
  readonly dir: string;
  readonly env: Record<string, string>;
}

async function writeFleetRepo(info: SimInfo): Promise<FleetRepoDir> {
  const base = await mkdtemp(join(tmpdir(), 'clawops-bench-fleet-sim-'));
  const dir = join(base, 'repo');
  const stateDir = join(base, 'state');
  await Promise.all(['gateways', 'agents', 'secrets'].map((d) => mkdir(join(dir, d), { recursive: true })));
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  await writeFile(join(dir, 'clawops.yaml'), `${API}\nkind: Repository\nspec:\n  secrets:\n    recipients: [${recipient}]\n`);
  await writeFile(join(dir, 'secrets', `${DEVICE_KEY_SECRET}.age`), await encryptSecret(exportDeviceKey(generateDeviceIdentity()), [recipient]));
  const width = String(info.gateways.length - 1).length;
  for (let i = 0; i < info.gateways.length; i += 100) {
    await Promise.all(
      info.gateways.slice(i, i + 100).map(async (g, j) => {
        const name = `sim-${pad(i + j, width)}`;
        await writeFile(
          join(dir, 'gateways', `${name}.yaml`),
          `${API}\nkind: Gateway\nmetadata:\n  name: ${name}\n  labels: { fleet: sim, region: r${(i + j) % 4} }\nspec:\n  url: ${g.url}\n  auth: { token: { secretRef: ${name}-token } }\n`,
        );
        await writeFile(join(dir, 'secrets', `${name}-token.age`), await encryptSecret(g.token, [recipient]));
      }),
    );
  }
  for (let k = 0; k < AGENTS_PER_GATEWAY; k++) await writeFile(join(dir, 'agents', `${agentId(k)}.yaml`), agentYaml(k));
  return { base, dir, env: { CLAWOPS_AGE_IDENTITY: identity, CLAWOPS_STATE_DIR: stateDir } };
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
async function fullPlan(repo: FleetRepoDir, gateways: number): Promise<PlanRun> {
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

const mb = (kib: number) => Math.round((kib * 1024) / 1e6);

interface PlannerReport extends PlanRun {
  /** The planner process's `maxRSS`, in MB. */
  readonly peakRssMb: number;
}

/** The planner child: one full plan in a fresh process, as one `clawops plan` would run; prints its timings and peak RSS as JSON. */
async function plannerChild(dir: string, gateways: number): Promise<void> {
  const env = { CLAWOPS_AGE_IDENTITY: process.env.CLAWOPS_AGE_IDENTITY ?? '', CLAWOPS_STATE_DIR: process.env.CLAWOPS_STATE_DIR ?? '' };
  const planned = await fullPlan({ base: dir, dir, env }, gateways);
  const report: PlannerReport = { ...planned, peakRssMb: mb(process.resourceUsage().maxRSS) };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

function planInChild(repo: FleetRepoDir, gateways: number): Promise<PlannerReport> {
  return new Promise((done, fail) => {
    let out = '';
    const child = spawn(process.execPath, [...childExecArgv(), fileURLToPath(import.meta.url), '--plan', repo.dir, String(gateways)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...repo.env },
    });
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.once('error', fail);
    child.once('exit', (code) => {
      if (code !== 0) return fail(new Error(`the planner process exited ${code}`));
      try {
        done(JSON.parse(out.trim().split('\n').pop() ?? '') as PlannerReport);
      } catch (e) {
        fail(e);
      }
    });
  });
}

export async function run(): Promise<BenchResult> {
  const metrics: BenchMetric[] = [];
  const notes: string[] = [];
  for (const { gateways, runs } of SIZES) {
    const { child, info } = await startSimProcess(gateways);
    let repo: FleetRepoDir | undefined;
    try {
      if (info.gateways.length !== gateways) throw new Error(`the simulator started ${info.gateways.length} gateways, expected ${gateways}`);
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
  if (mode === '--sim' && Number.isInteger(Number(a)) && Number(a) > 0) await simChild(Number(a));
  else if (mode === '--plan' && a && Number.isInteger(Number(b))) await plannerChild(a, Number(b));
  else throw new Error('usage: node bench/fleet-plan-sim.bench.ts --sim COUNT | --plan REPO GATEWAYS (both started by run())');
}
