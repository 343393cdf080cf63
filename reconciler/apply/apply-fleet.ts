/**
 * Applying a plan to the fleet: each gateway on its own (bounded in parallel), each re-planned
 * against live and the repo right before writing, so what is applied is exactly what was shown:
 * a gateway whose live state or desired state moved since the plan is refused, not "updated".
 * One failing gateway never stops the others.
 */
import type { LoadedOf } from '../load/resource.ts';
import { mapLimited } from '../live/parallel.ts';
import { planOne, secretHasher, type PlanContext } from '../plan/make-plan.ts';
import { deepEqual } from '../plan/json-paths.ts';
import type { Change, GatewayPlan, Plan } from '../plan/plan.ts';
import { planGateway } from '../plan/planner.ts';
import { gate, missingApprovals, type ApprovalEvidence } from '../policy/approvals.ts';
import type { ManagedAgent } from '../state/state-store.ts';
import { readSecret } from '../secrets/age-store.ts';
import { applyGateway, type GatewayApplyResult } from './apply-gateway.ts';

export interface ApplyFleetOptions {
  readonly maxRateLimitWaitMs?: number;
  /** Approval evidence for changes policy gates (reviews, or a break-glass override). */
  readonly evidence?: ApprovalEvidence;
}

/** A change policy kept from being applied, and why. */
export interface GatedChange {
  readonly agentId: string;
  readonly resource: string;
  readonly path: string;
  readonly risk: Change['risk'];
  readonly gate: 'hold' | 'deny';
  readonly why: string;
}

export interface FleetApplyResult extends GatewayApplyResult {
  /** The changes this apply wrote (or tried to: see `status`); policy let each of them through. */
  readonly attempted: readonly Change[];
  /** Changes not applied: denied, waiting for approval, or held with their agent. */
  readonly gated: readonly GatedChange[];
  /** Set when a break-glass override let require-approval changes through. */
  readonly breakGlass?: { readonly by: string; readonly reason: string; readonly changes: number };
}

export async function applyPlan(plan: Plan, gateways: ReadonlyArray<LoadedOf<'Gateway'>>, ctx: PlanContext, opts: ApplyFleetOptions = {}): Promise<FleetApplyResult[]> {
  const byName = new Map(gateways.map((g) => [g.name, g]));
  const secretHash = await secretHasher(ctx);
  const secretValue = (name: string) => readSecret(ctx.access.root, name, ctx.access.identities, ctx.access.redactor);
  return mapLimited(plan.gateways, ctx.parallelism, async (given): Promise<FleetApplyResult> => {
    /** Nothing was written to this gateway. */
    const untouched = (status: 'refused' | 'failed', message: string, changes = given.changes.length): FleetApplyResult => ({ gateway: given.gateway, status, message, writes: 0, changes, attempted: [], gated: [] });
    const refused = (message: string) => untouched('refused', message);
    const gw = byName.get(given.gateway);
    if (!gw) return refused(`${given.gateway} is no longer a Gateway in the repo`);
    if (given.status === 'error') return untouched('failed', given.errors.map((e) => e.message).join('; '), 0);
    const fresh = await planOne(gw, ctx, { keepSession: true });
    if (!fresh.session || !fresh.desired || !fresh.live) return untouched('failed', fresh.plan.errors.map((e) => e.message).join('; '));
    try {
      const why = divergence(given, fresh.plan);
      if (why) return refused(why);
      const lastApplied = await ctx.store.lastApplied(gw.name);
      const gating = gatePlan(fresh.plan, opts.evidence);
      let toApply = given;
      let desired = fresh.desired;
      let owned = lastApplied;
      let heldAgents: Record<string, ManagedAgent> | undefined;
      if (gating.heldAgents.size) {
        // An agent's changes go together: applying part of them would leave a config nobody
        // reviewed. The held agents are taken out of the plan; the rest is planned again.
        desired = { ...fresh.desired, agents: new Map([...fresh.desired.agents].filter(([id]) => !gating.heldAgents.has(id))) };
        heldAgents = Object.fromEntries(Object.entries(lastApplied?.agents ?? {}).filter(([id]) => gating.heldAgents.has(id)));
        owned = lastApplied && { ...lastApplied, agents: Object.fromEntries(Object.entries(lastApplied.agents).filter(([id]) => !gating.heldAgents.has(id))) };
        toApply = await planGateway({ desired, live: fresh.live, lastApplied: owned, secretHash, policy: ctx.repo.policy.engine });
      }
      const result = await applyGateway(toApply, fresh.session, {
        repoRoot: ctx.repo.root,
        store: ctx.store,
        desired,
        lastApplied: owned,
        secretValue,
        secretHash,
        now: ctx.now,
        ...(heldAgents ? { heldAgents } : {}),
        ...(opts.maxRateLimitWaitMs !== undefined ? { maxRateLimitWaitMs: opts.maxRateLimitWaitMs } : {}),
      });
      const landed = result.status === 'applied' || result.status === 'unchanged';
      return {
        ...result,
        attempted: toApply.changes,
        gated: gating.gated,
        ...(opts.evidence?.kind === 'break-glass' && landed && gating.breakGlassed > 0 ? { breakGlass: { by: opts.evidence.by, reason: opts.evidence.reason, changes: gating.breakGlassed } } : {}),
      };
    } finally {
      await fresh.session.client.close();
    }
  });
}

/** Which changes policy lets through with this evidence; every change of an agent with a gated one waits with it. */
export function gatePlan(plan: GatewayPlan, evidence: ApprovalEvidence | undefined): { gated: GatedChange[]; heldAgents: Set<string>; breakGlassed: number } {
  const decided = plan.changes.map((c) => ({ c, g: gate(c.verdict, evidence) }));
  const heldAgents = new Set(decided.filter((d) => d.g !== 'apply').map((d) => d.c.agentId));
  const gated = decided
    .filter((d) => heldAgents.has(d.c.agentId))
    .map(({ c, g }): GatedChange => {
      const base = { agentId: c.agentId, resource: c.resource, path: c.path, risk: c.risk };
      if (g === 'deny') return { ...base, gate: 'deny', why: `denied by ${c.verdict.rules.filter((r) => r.effect === 'deny').map((r) => r.rule).join(', ')}` };
      if (g === 'hold') return { ...base, gate: 'hold', why: `needs ${missingApprovals(c.verdict, evidence).join(' and ')}` };
      return { ...base, gate: 'hold', why: `held with the other changes of agent ${c.agentId}` };
    });
  const breakGlassed = decided.filter((d) => !heldAgents.has(d.c.agentId) && d.c.verdict.effect === 'require-approval').length;
  return { gated, heldAgents, breakGlassed };
}

/** Why a plan no longer describes what apply would do, or undefined when it still does. */
function divergence(given: GatewayPlan, fresh: GatewayPlan): string | undefined {
  if (fresh.status === 'error') return fresh.errors.map((e) => e.message).join('; ');
  if (!deepEqual(given.live, fresh.live)) {
    const moved = Object.keys(given.live ?? {}).filter((k) => !deepEqual(given.live?.[k as keyof typeof given.live], fresh.live?.[k as keyof typeof fresh.live]));
    return `${given.gateway}: live changed since the plan (${moved.join(', ')}); nothing was written. Re-run \`clawops plan\``;
  }
  if (!deepEqual(stable(given), stable(fresh))) return `${given.gateway}: the repo changed since the plan; nothing was written. Re-run \`clawops plan\``;
  return undefined;
}

const stable = (g: GatewayPlan) => JSON.parse(JSON.stringify({ changes: g.changes, operations: g.operations })) as unknown;
