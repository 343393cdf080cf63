/**
 * Plan and apply on one real OpenClaw gateway holding 50 agents applied by clawops
 * (bench/fleet-fixture.ts: varied config, routes, cron jobs, workspace files, an exec allowlist).
 *
 * 1. Plan, 15 samples each of: the plan's own work after the session is open (what `planOne`
 *    does, minus the connect), the connect + handshake alone, the whole `makePlan` and the
 *    whole in-process `clawops plan` (repo load and validation, connect, plan, render); first
 *    with nothing to change, then with all 50 descriptions changed in the YAML.
 * 2. One field on 20 agents: clawops (edit 20 YAML files, then `apply --auto-approve`, which
 *    plans, re-plans against live, writes one guarded config patch and verifies; median of 3)
 *    against a script of 20 `openclaw config set` processes (one run: it takes minutes), each
 *    edit checked on the gateway with `config.get` afterwards.
 *
 * Reports medians and p95 (2 busy cores make single numbers noisy) and the load average at each
 * phase. No targets: these are measurements, not limits.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { ensureOpenClaw } from '../fleet/harness/install.ts';
import { startGateways, type RealGateway } from '../fleet/harness/real-gateway.ts';
import { GatewayClient } from '../fleet/openclaw/client.ts';
import { generateDeviceIdentity } from '../fleet/openclaw/device-identity.ts';
import { OpenClawGateway, type JsonObject } from '../fleet/openclaw/gateway-api.ts';
import type { GatewayApplyResult } from '../reconciler/apply/apply-gateway.ts';
import { planContext } from '../reconciler/cli/commands/plan-context.ts';
import { effectiveDesired } from '../reconciler/desired/effective-state.ts';
import { openGatewayWithin } from '../reconciler/live/connect-within.ts';
import { gatewayClientOptions } from '../reconciler/live/gateway-access.ts';
import type { LoadedOf } from '../reconciler/load/resource.ts';
import { makePlan, PLAN_SCOPES, secretHasher, type PlanContext } from '../reconciler/plan/make-plan.ts';
import type { GatewayPlan } from '../reconciler/plan/plan.ts';
import { planGateway } from '../reconciler/plan/planner.ts';
import { readLive } from '../reconciler/plan/read-live.ts';
import { makeBenchFleet, type BenchFleet } from './fleet-fixture.ts';
import { capturingPorts, clawopsInProcess } from './in-process-cli.ts';
import { openclawCli } from '../fleet/harness/openclaw-cli.ts';
import { formatTable, type BenchMetric, type BenchResult } from './report.ts';
import { median, percentile } from './stats.ts';

export const AGENTS = 50;
export const PLAN_SAMPLES = 15;
export const CHANGED_AGENTS = 20;
export const CLAWOPS_RUNS = 3;
/** Per gateway connect in the library calls; the CLI's default (10 s) is tight on 2 busy cores. */
const TIMEOUT_S = 30;

const ms = (v: number) => Math.round(v * 10) / 10;
const s1 = (v: number) => (v / 1000).toFixed(1);

interface PlanSample {
  /** effectiveDesired + readLive + state + planGateway on an open session. */
  readonly afterConnect: number;
  readonly connect: number;
  /** makePlan: everything above, connect included, plus closing the session. */
  readonly makePlan: number;
  /** In-process `clawops plan`: load + validate the repo, decrypt, connect, plan, render. */
  readonly cli: number;
}

/**
 * What `planOne` (reconciler/plan/make-plan.ts) does, split at the connect: makePlan opens its
 * own session and takes none, so the plan's own cost can only be isolated by calling the same
 * steps. The result is checked against makePlan's in the caller.
 */
async function planSplit(gw: LoadedOf<'Gateway'>, ctx: PlanContext): Promise<{ plan: GatewayPlan; afterConnect: number; connect: number }> {
  const t0 = performance.now();
  const desired = await effectiveDesired(ctx.repo, gw);
  const options = await gatewayClientOptions(gw, ctx.access, { scopes: PLAN_SCOPES, device: ctx.device, requestTimeoutMs: Math.max(ctx.timeoutMs, 30_000) });
  const t1 = performance.now();
  const session = await openGatewayWithin(options, ctx.timeoutMs);
  const t2 = performance.now();
  try {
    const files = [...desired.agents.values()].flatMap((a) => a.files.map((f) => ({ agentId: a.id, name: f.name })));
    const [live, lastApplied] = await Promise.all([readLive(session, files), ctx.store.lastApplied(gw.name)]);
    const plan = await planGateway({ desired, live, lastApplied, secretHash: await secretHasher(ctx) });
    const t3 = performance.now();
    return { plan, afterConnect: t1 - t0 + (t3 - t2), connect: t2 - t1 };
  } finally {
    await session.client.close();
  }
}

async function samplePlans(fleet: BenchFleet, expectUpdates: number, samples: number): Promise<PlanSample[]> {
  const { ports } = capturingPorts(fleet.env);
  const { gateways, ctx } = await planContext({ repo: fleet.dir, timeout: TIMEOUT_S }, ports, 'plan');
  const gw = gateways[0];
  if (!gw || gateways.length !== 1) throw new Error(`expected one Gateway in the bench repo, found ${gateways.length}`);
  const check = (what: string, p: GatewayPlan) => {
    if (p.status === 'error') throw new Error(`${what}: plan failed: ${p.errors.map((e) => e.message).join('; ')}`);
    const updates = p.changes.filter((c) => c.action === 'update').length;
    if (p.changes.length !== expectUpdates || updates !== expectUpdates) {
      throw new Error(`${what}: expected ${expectUpdates} update(s), got ${p.changes.length} change(s): ${p.changes.slice(0, 5).map((c) => `${c.action} ${c.agentId} ${c.path}`).join(', ')}`);
    }
  };
  // Warm-up (not measured): JIT, the schema compile, the lazily loaded code of the gateway.
  check('warm-up', (await planSplit(gw, ctx)).plan);
  await makePlan(gateways, ctx);

  const out: PlanSample[] = [];
  for (let i = 0; i < samples; i++) {
    // Interleaved, so a burst of load from elsewhere hits all four measures alike.
    const split = await planSplit(gw, ctx);
    check(`sample ${i} (split)`, split.plan);
    const t0 = performance.now();
    const whole = await makePlan(gateways, ctx);
    const tMake = performance.now() - t0;
    check(`sample ${i} (makePlan)`, whole.gateways[0]!);
    const t1 = performance.now();
    const cli = await clawopsInProcess(['plan', '--repo', fleet.dir, '--detailed-exitcode', '--timeout', String(TIMEOUT_S)], fleet.env);
    const tCli = performance.now() - t1;
    if (cli.code !== (expectUpdates ? 2 : 0)) throw new Error(`clawops plan exited ${cli.code}: ${cli.stderr}${cli.stdout.slice(-2000)}`);
    out.push({ afterConnect: split.afterConnect, connect: split.connect, makePlan: tMake, cli: tCli });
  }
  return out;
}

async function liveDescriptions(gw: RealGateway): Promise<Record<string, unknown>> {
  const api = new OpenClawGateway(await GatewayClient.connect({ url: gw.url, token: gw.token, device: generateDeviceIdentity(), scopes: ['operator.admin'] }));
  try {
    const entries = ((await api.configGet()).sourceConfig.agents as { entries?: Record<string, JsonObject> } | undefined)?.entries ?? {};
    return Object.fromEntries(Object.entries(entries).map(([id, e]) => [id, e.description]));
  } finally {
    await api.client.close();
  }
}

/** Which of `want` (id → description) the gateway does not hold; polled briefly, since the CLI writes the file and the gateway reloads it. */
async function missingOnGateway(gw: RealGateway, want: ReadonlyMap<string, string>, waitMs: number): Promise<string[]> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const live = await liveDescriptions(gw);
    const missing = [...want].filter(([id, d]) => live[id] !== d).map(([id]) => id);
    if (!missing.length || Date.now() >= deadline) return missing;
    await new Promise((r) => setTimeout(r, 500));
  }
}

export async function run(): Promise<BenchResult> {
  const loads: Array<{ at: string; avg: readonly number[] }> = [];
  const markLoad = (at: string) => {
    const avg = loadavg();
    loads.push({ at, avg });
    process.stdout.write(`load average ${avg.map((v) => v.toFixed(2)).join(', ')} (${at})\n`);
  };
  markLoad('start');
  const [gw] = await startGateways([{ name: 'bench-plan' }]);
  if (!gw) throw new Error('no gateway started');
  let fleet: BenchFleet | undefined;
  try {
    fleet = await makeBenchFleet(gw, AGENTS);
    const env = fleet.env;
    const apply = async () => {
      const r = await clawopsInProcess(['apply', '--repo', fleet!.dir, '--auto-approve', '--json', '--timeout', String(TIMEOUT_S)], env);
      const results = r.stdout ? (JSON.parse(r.stdout) as { results: GatewayApplyResult[] }).results : [];
      if (r.code !== 0 || results[0]?.status !== 'applied') throw new Error(`clawops apply exited ${r.code}: ${r.stderr.slice(-2000)}${r.stdout.slice(-2000)}`);
      return results[0];
    };

    // The first apply creates everything; from then on a plan has a populated gateway to read.
    const tCreate = performance.now();
    const created = await apply();
    const createMs = performance.now() - tCreate;
    process.stdout.write(`first apply: ${created.changes} change(s) in ${created.writes} write(s), ${s1(createMs)} s\n`);

    // 1. Plans.
    markLoad('before the no-op plans');
    const noop = await samplePlans(fleet, 0, PLAN_SAMPLES);
    const originals = new Map(fleet.agentIds.map((id) => [id, fleet!.description(id)]));
    fleet.setDescriptions(fleet.agentIds, (id) => `Changed ${id} for the plan benchmark`);
    const changed = await samplePlans(fleet, AGENTS, PLAN_SAMPLES);
    fleet.setDescriptions(fleet.agentIds, (id) => originals.get(id)!);
    markLoad('after the plans');

    // 2a. clawops: edit 20 YAML files, then apply (which plans first).
    const target = fleet.agentIds.slice(0, CHANGED_AGENTS);
    const clawopsRuns: number[] = [];
    for (let r = 0; r < CLAWOPS_RUNS; r++) {
      const text = (id: string) => `Edited by clawops in round ${r} for ${id}`;
      const t0 = performance.now();
      fleet.setDescriptions(target, text);
      const res = await apply();
      clawopsRuns.push(performance.now() - t0);
      if (res.changes !== CHANGED_AGENTS) throw new Error(`clawops apply made ${res.changes} change(s), expected ${CHANGED_AGENTS}`);
      const missing = await missingOnGateway(gw, new Map(target.map((id) => [id, text(id)])), 0);
      if (missing.length) throw new Error(`after clawops apply round ${r}, the gateway lacks the new description of ${missing.join(', ')}`);
    }
    process.stdout.write(`clawops, ${CHANGED_AGENTS} agents: ${clawopsRuns.map((v) => `${s1(v)} s`).join(', ')}\n`);
    markLoad('after clawops apply');

    // 2b. The real openclaw CLI, one process per edit, as a script would run it.
    const { entry } = await ensureOpenClaw();
    const cliText = (id: string) => `Edited by the openclaw CLI for ${id}`;
    const perProcess: number[] = [];
    const tCli = performance.now();
    for (const id of target) perProcess.push((await openclawCli(entry, gw.home, ['config', 'set', `agents.entries.${id}.description`, cliText(id)])).ms);
    const cliMs = performance.now() - tCli;
    process.stdout.write(`openclaw config set × ${CHANGED_AGENTS}: ${s1(cliMs)} s (per process ${perProcess.map((v) => s1(v)).join(', ')} s)\n`);
    markLoad('after the openclaw CLI');
    const missing = await missingOnGateway(gw, new Map(target.map((id) => [id, cliText(id)])), 30_000);
    if (missing.length) throw new Error(`after the openclaw CLI run, config.get lacks the new description of ${missing.join(', ')}`);

    const clawopsMs = median(clawopsRuns);
    const col = <K extends keyof PlanSample>(xs: readonly PlanSample[], k: K) => xs.map((x) => x[k]);
    const metric = (label: string, value: number, unit = 'ms'): BenchMetric => ({ label, value: ms(value), unit });
    const load1 = loads.map((l) => l.avg[0]!);
    const metrics: BenchMetric[] = [
      metric('gateway spawn → hello-ok (context)', gw.startedToHelloMs),
      metric(`first apply: create ${AGENTS} agents (one run)`, createMs),
      metric('no-op plan after connect, median', median(col(noop, 'afterConnect'))),
      metric('no-op plan after connect, p95', percentile(col(noop, 'afterConnect'), 95)),
      metric('connect + handshake, median', median(col(noop, 'connect'))),
      metric('connect + handshake, p95', percentile(col(noop, 'connect'), 95)),
      metric('no-op makePlan (connect included), median', median(col(noop, 'makePlan'))),
      metric('no-op makePlan (connect included), p95', percentile(col(noop, 'makePlan'), 95)),
      metric('no-op `clawops plan` in-process, median', median(col(noop, 'cli'))),
      metric('no-op `clawops plan` in-process, p95', percentile(col(noop, 'cli'), 95)),
      metric(`plan with ${AGENTS} changes after connect, median`, median(col(changed, 'afterConnect'))),
      metric(`plan with ${AGENTS} changes, makePlan, median`, median(col(changed, 'makePlan'))),
      metric(`plan with ${AGENTS} changes, \`clawops plan\`, median`, median(col(changed, 'cli'))),
      metric(`${CHANGED_AGENTS} agents: clawops edit + apply, median of ${CLAWOPS_RUNS}`, clawopsMs),
      metric(`${CHANGED_AGENTS} agents: openclaw config set × ${CHANGED_AGENTS} (one run)`, cliMs),
      metric('openclaw config set, one process, median', median(perProcess)),
      { label: `${CHANGED_AGENTS} agents: ratio openclaw CLI / clawops`, value: Math.round((cliMs / clawopsMs) * 10) / 10, unit: '×' },
      { label: 'load average (1 min), lowest seen', value: Math.round(Math.min(...load1) * 100) / 100, unit: '' },
      { label: 'load average (1 min), highest seen', value: Math.round(Math.max(...load1) * 100) / 100, unit: '' },
    ];
    const summary =
      `On one real openclaw ${gw.version} gateway holding ${AGENTS} clawops-applied agents, a no-op plan takes a median ${ms(median(col(noop, 'afterConnect')))} ms ` +
      `once the session is open (p95 ${ms(percentile(col(noop, 'afterConnect'), 95))} ms), plus ${ms(median(col(noop, 'connect')))} ms to connect; the whole in-process ` +
      `\`clawops plan\` takes ${ms(median(col(noop, 'cli')))} ms, and ${ms(median(col(changed, 'cli')))} ms with all ${AGENTS} descriptions changed. ` +
      `Changing one field on ${CHANGED_AGENTS} agents takes clawops ${s1(clawopsMs)} s (edit + plan + guarded apply + verify, median of ${CLAWOPS_RUNS}) ` +
      `against ${s1(cliMs)} s for ${CHANGED_AGENTS} sequential \`openclaw config set\` processes (${s1(median(perProcess))} s each): ` +
      `${(cliMs / clawopsMs).toFixed(1)}× faster, on 2 cores with a 1-minute load average between ${Math.min(...load1).toFixed(1)} and ${Math.max(...load1).toFixed(1)}.`;
    const result: BenchResult = { name: `plan/apply: ${AGENTS} agents on one real openclaw ${gw.version} gateway, ${PLAN_SAMPLES} plan samples\n  ${summary}`, metrics };
    console.log(formatTable(result));
    return result;
  } finally {
    fleet?.remove();
    await gw.stop();
  }
}
