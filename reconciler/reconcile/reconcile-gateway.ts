/**
 * One gateway's turn in a reconcile run: plan it, read its drift on the same session, decide per
 * field what drift mode says (drift-policy.ts), apply what policy, approvals and drift let through
 * (apply-fleet.ts re-plans right before writing, verifies and rolls back), propose drift as a pull
 * request, and record all of it. What comes back is a few counters: a run over a thousand gateways
 * keeps a thousand of these, never their plans.
 */
import { applyPlan, type ApplyFleetOptions, type FleetApplyResult } from '../apply/apply-fleet.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { recordApply, type ApplyRecordContext } from '../audit/record-apply.ts';
import { recordDriftDetected, recordDriftReverted } from '../audit/record-drift.ts';
import { readDriftOn, type DriftRead } from '../drift/read-drift.ts';
import type { BotPrLimits } from '../github/bot-pr.ts';
import { driftPrRejectedAt, syncDriftPr, type DriftPrOutcome } from '../github/drift-prs.ts';
import type { GitHubSession } from '../github/session.ts';
import { explainGatewayError } from '../live/explain-gateway-error.ts';
import type { LoadedOf } from '../load/resource.ts';
import { assemblePlan, planOne, type PlanContext } from '../plan/make-plan.ts';
import { decideDrift, type DriftPlan } from '../drift/modes.ts';

export type GatewayStatus = 'converged' | 'applied' | 'pending' | 'error';

export interface GatewayOutcome {
  readonly gateway: string;
  /** converged: nothing to do; applied: changes written and nothing left; pending: held, denied or drift left; error: see message. */
  readonly status: GatewayStatus;
  readonly message?: string;
  /** Changes written. */
  readonly applied: number;
  /** Changes waiting for approval. */
  readonly held: number;
  /** Changes policy denies. */
  readonly denied: number;
  /** Drifted fields by what this run did with them. */
  readonly drift: { readonly reverted: number; readonly proposed: number; readonly alerted: number };
  /** The drift pull request's fate, in a few words. */
  readonly driftPr?: string;
}

export interface GatewayRunContext {
  readonly ctx: PlanContext;
  readonly audit: AuditLog;
  readonly record: ApplyRecordContext;
  readonly apply: Pick<ApplyFleetOptions, 'approvals' | 'desiredCommit'>;
  readonly github?: { readonly session: GitHubSession; readonly head: string; readonly prefix: string; readonly limits: BotPrLimits };
  /** False once the run lost its lease: nothing more is written. */
  readonly mayWrite: () => boolean;
  /** Change sets this run left held, for the approval pull requests (collected across gateways). */
  readonly onApplied?: (result: FleetApplyResult) => void;
}

export async function reconcileGateway(gw: LoadedOf<'Gateway'>, run: GatewayRunContext): Promise<GatewayOutcome> {
  const { ctx } = run;
  const none = { applied: 0, held: 0, denied: 0, drift: { reverted: 0, proposed: 0, alerted: 0 } };
  const error = (message: string): GatewayOutcome => ({ gateway: gw.name, status: 'error', message, ...none });
  const planned = await planOne(gw, ctx, { keepSession: true });
  if (planned.plan.status === 'error' || !planned.session || !planned.desired) return error(planned.plan.errors.map((e) => e.message).join('; '));
  const plan = planned.plan;

  // Drift is read only where it can matter: the plan has changes, or drift was seen before (it may be gone now).
  let drift: DriftRead | undefined;
  try {
    const before = await ctx.store.driftRecord(gw.name);
    if (plan.changes.length > 0 || Object.keys(before?.items ?? {}).length > 0) drift = await readDriftOn(planned.session, gw, ctx, planned.desired);
  } catch (e) {
    return error(explainGatewayError(e, gw.name).message);
  } finally {
    await planned.session.client.close();
  }

  const items = drift?.view.report.items ?? [];
  let rejectedAt: Date | undefined;
  /** GitHub problems: the gateway's outcome is an error. */
  const problems: string[] = [];
  const notes: string[] = [];
  if (run.github && items.length) {
    try {
      rejectedAt = await driftPrRejectedAt(run.github.session.gh, gw.name);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  const decided: DriftPlan = decideDrift({ repo: ctx.repo, gateway: gw, desired: planned.desired, items, changes: plan.changes, firstSeen: drift?.view.firstSeen ?? {}, ...(rejectedAt ? { rejectedAt } : {}) });
  if (drift) recordDriftDetected(run.audit, gw.name, drift.newItems, drift.view.who?.byItem, run.record);

  let result: FleetApplyResult | undefined;
  // Nothing to write when every change belongs to an agent left alone for its drift: no apply, no audit noise every run.
  const writable = plan.changes.some((c) => !decided.decision.leaveAlone.has(c.agentId));
  if (writable && run.mayWrite()) {
    const whole = assemblePlan([plan], ctx.now());
    [result] = await applyPlan(whole, [gw], ctx, { ...run.apply, drift: new Map([[gw.name, decided.decision]]) });
    recordApply(run.audit, whole, [result!], run.record);
    run.onApplied?.(result!);
  } else if (writable) {
    return error('not applied: this run lost its lease on the shard to another run');
  }
  const landed = result === undefined || result.status === 'applied' || result.status === 'unchanged';
  const attempted = new Set(result?.attempted.map((c) => c.agentId));
  const reverted = landed ? decided.revert.filter((i) => attempted.has(i.agentId)) : [];
  recordDriftReverted(run.audit, gw.name, reverted, run.record);

  let driftPr: string | undefined;
  const proposed = decided.propose;
  if (proposed.length && !run.github) notes.push('drift mode propose needs GitHub (clawops.yaml spec.github.repository and a token), so its drift is treated as an alert');
  if (run.github && drift && (proposed.length > 0 || items.length === 0)) {
    try {
      const outcome = await syncDriftPr(
        { ...drift.view, report: { ...drift.view.report, items: proposed } },
        { gh: run.github.session.gh, repo: ctx.repo, branch: run.github.session.branch, head: run.github.head, prefix: run.github.prefix, now: ctx.now(), limits: run.github.limits },
      );
      if (outcome) driftPr = describeDriftPr(outcome);
    } catch (e) {
      problems.push(`drift pull request: ${(e as Error).message}`);
    }
  }

  const gated = result?.gated ?? [];
  const held = gated.filter((g) => g.gate === 'hold').length;
  const denied = gated.filter((g) => g.gate === 'deny').length;
  const applied = result?.status === 'applied' ? result.attempted.length : 0;
  const left = held + denied + proposed.length + decided.alert.length;
  const failed = result && !landed;
  const status: GatewayStatus = failed || problems.length ? 'error' : left > 0 ? 'pending' : applied > 0 ? 'applied' : 'converged';
  const message = [...(failed ? [`${result!.status}: ${result!.message}`] : []), ...problems, ...notes].join('; ');
  return {
    gateway: gw.name,
    status,
    ...(message ? { message } : {}),
    applied,
    held,
    denied,
    // Without GitHub a proposal cannot be made: it is an alert.
    drift: { reverted: reverted.length, proposed: run.github ? proposed.length : 0, alerted: decided.alert.length + (run.github ? 0 : proposed.length) },
    ...(driftPr ? { driftPr } : {}),
  };
}

function describeDriftPr(p: DriftPrOutcome): string {
  if (p.action === 'closed') return `closed #${p.number} (drift gone)`;
  if (p.action === 'nothing-to-adopt') return `no PR: ${p.why}`;
  if (p.action === 'rate-limited') return `no PR yet: ${p.warnings.join('; ')}`;
  if (p.action === 'human-pushed') return `#${p.number} has someone else's pushes; left as it is`;
  return `#${p.number} ${p.action}`;
}
