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
import { gate, missingApprovals, type ApprovalEvidence, type ChangeSet, type ChangeSetApproval } from '../policy/approvals.ts';
import type { LastApplied, ManagedAgent } from '../state/state-store.ts';
import { splitKilled } from '../kill/killed.ts';
import { changeSetId } from '../policy/ledger.ts';
import { readSecret } from '../secrets/age-store.ts';
import { applyGateway, type GatewayApplyResult } from './apply-gateway.ts';
import { driftDecisionOn, type DriftDecision } from '../drift/modes.ts';

export interface ApplyFleetOptions {
  readonly maxRateLimitWaitMs?: number;
  /** A break-glass override: lets every require-approval change through, recorded as such. */
  readonly evidence?: ApprovalEvidence;
  /** Where approvals of gated change sets come from (pull-request reviews, the ledger). */
  readonly approvals?: ApprovalSource;
  /** The fleet repo commit being applied. */
  readonly desiredCommit?: string;
  /**
   * Drift decisions made by the caller (the reconcile loop), per gateway. Absent, apply reads each
   * gateway's drift itself and honours its mode (drift/modes.ts), unless `revertDrift` is set.
   */
  readonly drift?: ReadonlyMap<string, DriftDecision>;
  /** Put every drifted field back to git's value whatever its mode (`apply --revert-drift`: a person decided). */
  readonly revertDrift?: boolean;
}

/** Finds the approval evidence of one agent's gated change set (reconciler/github/change-approvals.ts). */
export interface ApprovalSource {
  check(set: ChangeSet): Promise<ChangeSetApproval>;
}

/** An agent's changes policy held for approval, with what the approval check found. */
export interface HeldChangeSet {
  readonly gateway: string;
  readonly agentId: string;
  readonly resource: string;
  /** The change set's id (`approvals/ledger.yaml` entries name it). */
  readonly id: string;
  readonly changes: readonly Change[];
  /** Main-branch commits that brought it. */
  readonly commits: readonly string[];
  readonly evidence?: ApprovalEvidence;
}

/** A change policy kept from being applied, and why. */
export interface GatedChange {
  readonly agentId: string;
  readonly resource: string;
  readonly path: string;
  readonly risk: Change['risk'];
  /** `drift`: the agent is left alone while its drift is proposed or alerted (reconcile). */
  readonly gate: 'hold' | 'deny' | 'drift';
  readonly why: string;
}

export interface FleetApplyResult extends GatewayApplyResult {
  /** The changes this apply wrote (or tried to: see `status`); policy let each of them through. */
  readonly attempted: readonly Change[];
  /** Changes not applied: denied, waiting for approval, or held with their agent. */
  readonly gated: readonly GatedChange[];
  /** Set when a break-glass override let require-approval changes through. */
  readonly breakGlass?: { readonly by: string; readonly reason: string; readonly changes: number };
  /** Change sets waiting for approval (not those held only because something else was denied). */
  readonly held: readonly HeldChangeSet[];
  /** Agent id → the approval that let its gated changes through. */
  readonly approvals: Readonly<Record<string, ApprovalEvidence>>;
}

export async function applyPlan(plan: Plan, gateways: ReadonlyArray<LoadedOf<'Gateway'>>, ctx: PlanContext, opts: ApplyFleetOptions = {}): Promise<FleetApplyResult[]> {
  const byName = new Map(gateways.map((g) => [g.name, g]));
  const secretHash = await secretHasher(ctx);
  const secretValue = (name: string) => readSecret(ctx.access.root, name, ctx.access.identities, ctx.access.redactor);
  return mapLimited(plan.gateways, ctx.parallelism, async (given): Promise<FleetApplyResult> => {
    /** Nothing was written to this gateway. */
    const untouched = (status: 'refused' | 'failed', message: string, changes = given.changes.length): FleetApplyResult => ({ gateway: given.gateway, status, message, writes: 0, changes, attempted: [], gated: [], held: [], approvals: {} });
    const refused = (message: string) => untouched('refused', message);
    const gw = byName.get(given.gateway);
    if (!gw) return refused(`${given.gateway} is no longer a Gateway in the repo`);
    if (given.status === 'error') return untouched('failed', given.errors.map((e) => e.message).join('; '), 0);
    const fresh = await planOne(gw, ctx, { keepSession: true });
    if (!fresh.session || !fresh.desired || !fresh.live) return untouched('failed', fresh.plan.errors.map((e) => e.message).join('; '));
    try {
      const why = divergence(given, fresh.plan);
      if (why) return refused(why);
      // Killed agents are left alone: out of what this apply owns, their last-applied entries saved back as they are.
      const { owned: lastApplied, kept: killedAgents } = splitKilled(await ctx.store.lastApplied(gw.name), fresh.killed);
      const checks = await checkApprovals(fresh.plan, lastApplied, opts);
      const evidenceOf = (agentId: string) => opts.evidence ?? checks.get(agentId)?.approval?.evidence;
      const drift = opts.drift ? opts.drift.get(gw.name) : opts.revertDrift ? undefined : await driftDecisionOn(fresh.session, gw, ctx, fresh.desired, fresh.plan.changes);
      const gating = gatePlan(fresh.plan, evidenceOf, (agentId) => checks.get(agentId)?.error, drift);
      let toApply = given;
      let desired = fresh.desired;
      let owned = lastApplied;
      let heldAgents: Record<string, ManagedAgent> | undefined = killedAgents;
      if (gating.heldAgents.size) {
        // An agent's changes go together: applying part of them would leave a config nobody
        // reviewed. The held agents are taken out of the plan; the rest is planned again.
        desired = { ...fresh.desired, agents: new Map([...fresh.desired.agents].filter(([id]) => !gating.heldAgents.has(id))) };
        heldAgents = { ...killedAgents, ...Object.fromEntries(Object.entries(lastApplied?.agents ?? {}).filter(([id]) => gating.heldAgents.has(id))) };
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
        ...(opts.desiredCommit ? { desiredCommit: opts.desiredCommit } : {}),
        ...(opts.maxRateLimitWaitMs !== undefined ? { maxRateLimitWaitMs: opts.maxRateLimitWaitMs } : {}),
      });
      const landed = result.status === 'applied' || result.status === 'unchanged';
      const needsApproval = (agentId: string) => fresh.plan.changes.some((c) => c.agentId === agentId && c.verdict.effect === 'require-approval');
      const denied = new Set(gating.gated.filter((g) => g.gate !== 'hold').map((g) => g.agentId));
      const held = [...gating.heldAgents]
        .filter((id) => needsApproval(id) && !denied.has(id))
        .map((agentId): HeldChangeSet => {
          const changes = fresh.plan.changes.filter((c) => c.agentId === agentId);
          const check = checks.get(agentId)?.approval;
          const evidence = evidenceOf(agentId);
          return { gateway: gw.name, agentId, resource: changes[0]!.resource, id: check?.id ?? changeSetId(gw.name, agentId, changes), changes, commits: check?.commits ?? [], ...(evidence ? { evidence } : {}) };
        });
      const approvals = Object.fromEntries(
        [...new Set(toApply.changes.map((c) => c.agentId))].filter((id) => needsApproval(id) && evidenceOf(id)).map((id) => [id, evidenceOf(id)!]),
      );
      return {
        ...result,
        attempted: toApply.changes,
        gated: gating.gated,
        held: landed ? held : [],
        approvals: landed ? approvals : {},
        ...(opts.evidence?.kind === 'break-glass' && landed && gating.breakGlassed > 0 ? { breakGlass: { by: opts.evidence.by, reason: opts.evidence.reason, changes: gating.breakGlassed } } : {}),
      };
    } finally {
      await fresh.session.client.close();
    }
  });
}

/** Runs the approval check for every agent with gated changes (none under break-glass, none without a source). */
async function checkApprovals(plan: GatewayPlan, lastApplied: LastApplied | undefined, opts: ApplyFleetOptions): Promise<Map<string, { approval?: ChangeSetApproval; error?: string }>> {
  const out = new Map<string, { approval?: ChangeSetApproval; error?: string }>();
  if (!opts.approvals || opts.evidence) return out;
  const agents = [...new Set(plan.changes.filter((c) => c.verdict.effect === 'require-approval').map((c) => c.agentId))];
  for (const agentId of agents) {
    const changes = plan.changes.filter((c) => c.agentId === agentId);
    // A denied change holds the agent whatever the reviews say: no need to ask GitHub.
    if (changes.some((c) => c.verdict.effect === 'deny')) continue;
    const files = [...changes.flatMap((c) => (c.source ? [c.source.file] : [])), ...plan.operations.files.filter((f) => f.agentId === agentId).map((f) => f.contentFile)];
    const base = lastApplied?.agents[agentId]?.commit;
    try {
      out.set(agentId, { approval: await opts.approvals.check({ gateway: plan.gateway, agentId, changes, files, ...(base ? { base } : {}) }) });
    } catch (e) {
      // GitHub unreachable or refusing: this agent waits, the rest of the gateway goes on.
      out.set(agentId, { error: (e as Error).message });
    }
  }
  return out;
}

/** Which changes policy lets through with this evidence; every change of an agent with a gated one waits with it. */
export function gatePlan(
  plan: GatewayPlan,
  evidenceOf: (agentId: string) => ApprovalEvidence | undefined,
  checkError: (agentId: string) => string | undefined = () => undefined,
  drift?: DriftDecision,
): { gated: GatedChange[]; heldAgents: Set<string>; breakGlassed: number } {
  const restores = (c: Change) => drift?.restores.has(`${c.agentId} ${c.path}`) && c.verdict.effect !== 'deny';
  const decided = plan.changes.map((c) => ({ c, g: restores(c) ? ('apply' as const) : gate(c.verdict, evidenceOf(c.agentId)) }));
  const heldAgents = new Set([...decided.filter((d) => d.g !== 'apply').map((d) => d.c.agentId), ...plan.changes.filter((c) => drift?.leaveAlone.has(c.agentId)).map((c) => c.agentId)]);
  const gated = decided
    .filter((d) => heldAgents.has(d.c.agentId))
    .map(({ c, g }): GatedChange => {
      const base = { agentId: c.agentId, resource: c.resource, path: c.path, risk: c.risk };
      const leftAlone = drift?.leaveAlone.get(c.agentId);
      if (leftAlone !== undefined && g !== 'deny') return { ...base, gate: 'drift', why: leftAlone };
      if (g === 'deny') return { ...base, gate: 'deny', why: `denied by ${c.verdict.rules.filter((r) => r.effect === 'deny').map((r) => r.rule).join(', ')}` };
      const error = checkError(c.agentId);
      if (g === 'hold') return { ...base, gate: 'hold', why: error ? `could not check its approvals: ${error}` : `needs ${missingApprovals(c.verdict, evidenceOf(c.agentId)).join(' and ')}` };
      return { ...base, gate: 'hold', why: `held with the other changes of agent ${c.agentId}` };
    });
  const breakGlassed = decided.filter((d) => !heldAgents.has(d.c.agentId) && d.c.verdict.effect === 'require-approval' && !restores(d.c)).length;
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
