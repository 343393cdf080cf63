/**
 * Apply under faults, on a real gateway of this file's own (it is restarted and killed) behind the
 * fault proxy: one trial for every protocol point of the apply × every kind of fault (27, in an
 * order the seed shuffles) — a write that never arrives, an answer that never returns, a frame cut
 * in half, a gateway that vanishes for a while. Every trial must end fully applied or untouched, be
 * reported as such, and the next apply must converge. Then the real process is restarted and
 * killed (SIGKILL) in the middle of an apply, and a verification failure must restore the exact
 * pre-apply config (same hash).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFaultProxy, type FaultHandle, type FaultProxy, type FaultTrigger } from '../fleet/harness/fault-proxy.ts';
import { startGateways, type RealGateway, type RestartResult } from '../fleet/harness/real-gateway.ts';
import { GatewayClient } from '../fleet/openclaw/client.ts';
import { exportDeviceKey, generateDeviceIdentity } from '../fleet/openclaw/device-identity.ts';
import { OpenClawGateway, type JsonObject } from '../fleet/openclaw/gateway-api.ts';
import type { GatewayApplyResult } from '../reconciler/apply/apply-gateway.ts';
import { clawops } from './helpers/cli.ts';
import { liveRepos, type LiveRepo } from './helpers/live-repo.ts';

const token = inject('canary');
let gateway: RealGateway;
let proxy: FaultProxy;
let repo: LiveRepo;
let observer: OpenClawGateway;
const makeRepo = liveRepos();

beforeAll(async () => {
  [gateway] = (await startGateways([{ name: 'faults', token }])) as [RealGateway];
  proxy = await startFaultProxy(gateway);
  repo = await makeRepo([{ name: 'gw', url: proxy.url, token }]);
  // Reads past the proxy; patient, because a killed gateway takes its time to come back.
  observer = new OpenClawGateway(
    await GatewayClient.connect({ url: gateway.url, token, device: generateDeviceIdentity(), scopes: ['operator.admin'], requestTimeoutMs: 180_000, reconnect: { giveUpAfterMs: 240_000 } }),
  );
}, 240_000);

afterAll(async () => {
  await observer?.client.close();
  await proxy?.close();
  await gateway?.stop();
}, 60_000);

/** The desired fleet for trial `n`: every kind of write changes each time (config, exec, cron, file). */
function writeFleet(n: number): void {
  mkdirSync(join(repo.dir, 'agents'), { recursive: true });
  writeFileSync(join(repo.dir, 'agents', 'SOUL.md'), `Trial ${n}: be precise.\n`);
  writeFileSync(
    join(repo.dir, 'agents', 'ops.yaml'),
    `apiVersion: clawops.dev/v1
kind: Agent
metadata: { name: ops, labels: { team: ops } }
spec:
  gateway: gw
  config:
    name: Ops
    description: trial ${n}
    model: { primary: openai/gpt-5.4, fallbacks: [${n % 2 ? 'anthropic/claude-sonnet-4-6' : ''}] }
    tools: { profile: coding, deny: [${['browser', 'canvas', 'exec'].slice(0, 1 + (n % 3)).join(', ')}] }
  bindings:
    - match: { channel: telegram, accountId: ops${n % 2} }
  cron:
    - name: sweep
      enabled: ${n % 2 === 0}
      schedule: { kind: cron, expr: "${n % 60} 3 * * *", tz: UTC }
      payload: { kind: agentTurn, message: "Sweep, trial ${n}." }
  files:
    SOUL.md: ./SOUL.md
---
apiVersion: clawops.dev/v1
kind: Agent
metadata: { name: helper, labels: { team: ops } }
spec:
  gateway: gw
  config: { name: Helper, description: "helper ${n}" }
---
apiVersion: clawops.dev/v1
kind: ApprovalRule
metadata: { name: ops-exec }
spec:
  agents: { matchLabels: { team: ops } }
  exec:
    security: allowlist
    ask: on-miss
    allowlist: [${['/usr/bin/git', '/usr/bin/rg', '/usr/bin/jq'].slice(0, 1 + (n % 3)).map((p) => `{ pattern: ${p} }`).join(', ')}]
`,
  );
}

interface LiveState {
  readonly config: string;
  readonly exec: string;
  readonly cron: string;
  readonly soul: string | null;
}

/** What the trial may have changed, read past the proxy. */
async function liveState(): Promise<LiveState> {
  const [config, exec, cron] = await Promise.all([observer.configGet(), observer.execApprovalsGet(), observer.cronList()]);
  const job = cron.find((j) => j.declarationKey === 'clawops:ops:sweep');
  const entries = ((config.sourceConfig.agents as JsonObject).entries ?? {}) as JsonObject;
  const soul = 'ops' in entries ? await observer.agentFileGet('ops', 'SOUL.md') : undefined;
  return {
    config: config.hash,
    exec: exec.hash,
    // A restored job is re-created, so compare what it does, not its bookkeeping.
    cron: JSON.stringify(job ? [job.enabled, job.schedule, job.payload] : null),
    soul: soul && !soul.missing ? createHash('sha256').update(soul.content ?? '').digest('hex') : null,
  };
}

async function apply(env: Record<string, string>): Promise<GatewayApplyResult> {
  const r = await clawops(['apply', '--repo', repo.dir, '--auto-approve', '--json'], { env });
  expect(r.stdout, r.stderr).not.toBe('');
  return (JSON.parse(r.stdout) as { results: GatewayApplyResult[] }).results[0]!;
}

async function converged(env: Record<string, string>): Promise<boolean> {
  return (await clawops(['plan', '--repo', repo.dir, '--detailed-exitcode'], { env })).code === 0;
}

type Fault = { readonly name: string; readonly trigger: FaultTrigger; readonly arm: () => FaultHandle };

/** Where the apply is cut: each write, before it reaches the gateway and before its answer returns. */
const POINTS: readonly FaultTrigger[] = [
  { direction: 'to-gateway', method: 'config.patch' },
  { direction: 'to-client', responseTo: 'config.patch' },
  { direction: 'to-gateway', method: 'exec.approvals.set' },
  { direction: 'to-client', responseTo: 'exec.approvals.set' },
  { direction: 'to-gateway', method: 'cron.add' },
  { direction: 'to-client', responseTo: 'cron.add' },
  { direction: 'to-gateway', method: 'agents.files.set' },
  { direction: 'to-client', responseTo: 'agents.files.set' },
  // Verification reads live again, then asks for health.
  { direction: 'to-gateway', method: 'health' },
];

/**
 * Longer than the client's first reconnect attempt (250 ms ± 20 %), so every outage refuses at
 * least one reconnect, as a dead gateway does; it need not be longer, since what follows (the write
 * lost, the session back, the rollback) is the same however long the gateway stays away.
 */
const OUTAGE_MS = 600;

/** What happens at a point. */
const KINDS = ['drop', 'cut mid-frame', 'gateway gone'] as const;

function fault(trigger: FaultTrigger, kind: (typeof KINDS)[number]): Fault {
  const where = `${trigger.direction === 'to-gateway' ? 'before' : 'after'} ${trigger.method ?? trigger.responseTo}`;
  if (kind === 'drop') return { name: `drop ${where}`, trigger, arm: () => proxy.on(trigger, 'drop') };
  if (kind === 'cut mid-frame') return { name: `cut mid-frame ${where}`, trigger, arm: () => proxy.on(trigger, 'cut-mid-frame') };
  return {
    name: `gateway gone for ${OUTAGE_MS} ms ${where}`,
    trigger,
    arm: () =>
      proxy.on(trigger, async () => {
        proxy.dropAll();
        await proxy.refuse(OUTAGE_MS);
      }),
  };
}

/**
 * Every point × every kind once, shuffled by `rnd`: random draws (50 of them, before) left a few
 * combinations out of any one run; this covers all 27 in every run.
 */
function allFaults(rnd: () => number): Fault[] {
  const faults = POINTS.flatMap((p) => KINDS.map((k) => fault(p, k)));
  for (let i = faults.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [faults[i], faults[j]] = [faults[j]!, faults[i]!];
  }
  return faults;
}

/** One trial: apply trial n's fleet with the fault armed; a description of what went wrong, if anything. */
async function runTrial(n: number, fault: Fault, env: Record<string, string>, outcomes: string[]): Promise<string | undefined> {
  // A fresh device per trial: a trial may write (and roll back) several times; the gateway allows 30 a minute.
  env.CLAWOPS_DEVICE_KEY = exportDeviceKey(generateDeviceIdentity());
  const before = await liveState();
  writeFleet(n);
  const armed = fault.arm();
  const result = await apply(env);
  armed.remove(); // fired or not, it must not fire in the next trial
  // Each fault is the trial's first disruption, so the apply always reaches its point: a trial
  // whose fault never fired would prove nothing.
  if (armed.fired === 0) return `trial ${n} ${fault.name}: the fault never fired (${result.status}: ${result.message})`;
  const after = await liveState();
  const untouched = after.config === before.config && after.exec === before.exec && after.cron === before.cron && after.soul === before.soul;
  // `applied` is only reported after apply verified live against git; confirm with a fresh plan.
  const applied = result.status === 'applied' && (await converged(env));
  outcomes.push(`${n} ${fault.name}: ${result.status}`);
  if (process.env.CLAWOPS_TRACE_TRIALS) process.stderr.write(`${outcomes.at(-1)} — ${result.message}\n`);
  const consistent = applied || ((result.status === 'rolled-back' || result.status === 'refused') && untouched);
  // Whatever happened, the next apply (no fault) converges: it verifies live equals git before it says applied.
  if (!applied) {
    const next = await apply(env);
    if (next.status !== 'applied') return `trial ${n} ${fault.name}: the next apply did not converge (${next.status}: ${next.message})`;
  }
  return consistent ? undefined : `trial ${n} ${fault.name}: reported ${result.status} (${result.message}); live ${untouched ? 'untouched' : 'changed'}`;
}

describe('apply under faults (own real gateway behind the fault proxy)', () => {
  it('every protocol point × every fault: each trial ends fully applied or untouched, reported so, and the next apply converges', { timeout: 600_000 }, async () => {
    const seed = Number(process.env.CLAWOPS_SEED ?? randomBytes(4).readUInt32LE(0));
    let state = seed;
    const rnd = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const outcomes: string[] = [];
    const wrong: string[] = [];
    writeFleet(0);
    const env = { ...repo.env };
    expect((await apply(env)).status).toBe('applied');
    const faults = allFaults(rnd);
    // CLAWOPS_TRIALS=5,19 reruns chosen trials (with CLAWOPS_SEED, the same faults) when one fails.
    const only = process.env.CLAWOPS_TRIALS?.split(',').map(Number);
    for (const [i, f] of faults.entries()) {
      const n = i + 1;
      if (only && !only.includes(n)) continue;
      const problem = await runTrial(n, f, env, outcomes);
      if (problem) wrong.push(`${problem} (seed ${seed})`);
    }
    process.stderr.write(`apply-faults: seed ${seed}\n  ${outcomes.join('\n  ')}\n`);
    expect(wrong).toEqual([]);
    // The trials did hit the apply in flight: not every one could have been a clean success.
    if (!only) expect(outcomes.filter((o) => !o.endsWith('applied')).length).toBeGreaterThan(5);
  });

  it('the real gateway restarted, then killed with SIGKILL, in the middle of an apply', { timeout: 300_000 }, async () => {
    const env = { ...repo.env };
    const outcomes: string[] = [];
    const restart: FaultTrigger = { direction: 'to-client', responseTo: 'config.patch' };
    const kill: FaultTrigger = { direction: 'to-gateway', method: 'agents.files.set' };
    const restarts: RestartResult[] = [];
    const { port, pid } = gateway;
    const soft = await runTrial(60, { name: 'restart after config.patch answered', trigger: restart, arm: () => proxy.on(restart, async () => void restarts.push(await gateway.restart())) }, env, outcomes);
    const hard = await runTrial(61, { name: 'kill -9 before agents.files.set', trigger: kill, arm: () => proxy.on(kill, async () => void restarts.push(await gateway.restart({ hard: true }))) }, env, outcomes);
    process.stderr.write(`apply-faults: ${outcomes.join('; ')}; restarts took ${restarts.map((r) => `${r.ms} ms`).join(', ')}\n`);
    expect([soft, hard]).toEqual([undefined, undefined]);
    // The harness brought the same gateway back each time: same port and state, a new boot; the kill replaced the process.
    expect(restarts.map((r) => [r.hard, r.bootId !== r.bootIdBefore])).toEqual([
      [false, true],
      [true, true],
    ]);
    expect(restarts[0]!.pid).toBe(pid);
    expect(restarts[1]!.pid).not.toBe(pid);
    expect(gateway.port).toBe(port);
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('a verification failure restores the exact pre-apply config, same hash', { timeout: 120_000 }, async () => {
    const env = { ...repo.env, CLAWOPS_DEVICE_KEY: exportDeviceKey(generateDeviceIdentity()) };
    writeFleet(100);
    expect((await apply(env)).status).toBe('applied');
    const before = await liveState();
    writeFleet(101);
    // The gateway takes the write but answers the verification read with the old description.
    // config.get answers during `apply`: 1 the plan shown, 2 the re-plan before writing, 3 the
    // pre-apply snapshot, 4 the verification.
    proxy.on({ direction: 'to-client', responseTo: 'config.get', nth: 4 }, { rewrite: staleDescription('trial 100') });
    const result = await apply(env);
    expect(result.status, result.message).toBe('rolled-back');
    expect(result.message).toMatch(/verification failed: .*spec\.config\.description/);
    const after = await liveState();
    expect(after).toEqual(before);
  });
});

/** Rewrites a config.get answer so the `ops` agent's description reads `value`. */
function staleDescription(value: string): (message: unknown) => unknown {
  return (message) => {
    const m = message as { payload?: { sourceConfig?: { agents?: { entries?: Record<string, JsonObject> } } } };
    const ops = m.payload?.sourceConfig?.agents?.entries?.ops;
    if (ops) ops.description = value;
    return m;
  };
}
