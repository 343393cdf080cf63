/**
 * What an apply run becomes in the audit trail: per gateway, when it started and how it ended,
 * every change written (with the approval that let it through, break-glass included), every change
 * policy held or denied, refusals and rollbacks. All events of one run share its trace id.
 */
import type { FleetApplyResult } from '../apply/apply-fleet.ts';
import type { ApprovalPrOutcome } from '../github/approval-prs.ts';
import type { Plan } from '../plan/plan.ts';
import type { AuditLog } from './audit-log.ts';
import type { AuditEventInput } from './event.ts';

export interface ApplyRecordContext {
  readonly actor: string;
  readonly traceId: string;
  readonly desiredCommit?: string;
}

export function recordApply(log: AuditLog, plan: Plan, results: readonly FleetApplyResult[], ctx: ApplyRecordContext): void {
  const base = { actor: ctx.actor, traceId: ctx.traceId, ...(ctx.desiredCommit ? { desiredCommit: ctx.desiredCommit } : {}) };
  for (const r of results) {
    const planned = plan.gateways.find((g) => g.gateway === r.gateway);
    const run = { ...base, target: r.gateway, resource: `Gateway/${r.gateway}` };
    const event = (e: Omit<AuditEventInput, keyof typeof base | 'target'>) => log.record({ ...base, target: r.gateway, ...e });
    log.record({
      ...run,
      type: 'apply.started',
      summary: { message: `${planned?.changes.length ?? 0} change(s) planned, ${r.attempted.length} let through by policy, ${r.gated.length} held or denied` },
      ...(planned?.live ? { beforeHash: planned.live.config } : {}),
    });
    const landed = r.status === 'applied';
    if (landed) {
      for (const [agentId, approval] of Object.entries(r.approvals)) {
        if (approval.kind !== 'pull-request' || !approval.ledger) continue;
        const pull = approval.pulls[0];
        event({
          type: 'approval.recorded',
          resource: r.attempted.find((c) => c.agentId === agentId)?.resource ?? `Agent/${agentId}`,
          agentId,
          summary: { message: `approvals/ledger.yaml entry ${approval.ledger} released the held changes${pull ? ` (pull request #${pull.pr}, approved by ${pull.reviewers.map((x) => x.login).join(', ')})` : ''}` },
          approval,
        });
      }
      for (const c of r.attempted) {
        const overridden = r.breakGlass && c.verdict.effect === 'require-approval';
        const reviewed = c.verdict.effect === 'require-approval' ? r.approvals[c.agentId] : undefined;
        event({
          type: 'change.applied',
          resource: c.resource,
          agentId: c.agentId,
          risk: c.risk,
          summary: {
            path: c.path,
            action: c.action,
            category: c.category,
            ...(c.before !== undefined ? { before: c.before } : {}),
            ...(c.after !== undefined ? { after: c.after } : {}),
            ...(c.verdict.rules.length ? { message: `policy: ${c.verdict.effect} (${c.verdict.rules.map((x) => x.rule).join(', ')})${overridden ? ' — applied under break-glass' : ''}` } : {}),
          },
          ...(overridden && r.breakGlass ? { approval: { kind: 'break-glass' as const, by: r.breakGlass.by, reason: r.breakGlass.reason } } : reviewed ? { approval: reviewed } : {}),
        });
      }
    }
    for (const g of r.gated) {
      // Drift left alone is recorded by the reconcile loop as drift, not as a held change.
      if (g.gate === 'drift') continue;
      event({ type: g.gate === 'deny' ? 'change.denied' : 'change.held', resource: g.resource, agentId: g.agentId, risk: g.risk, summary: { path: g.path, message: g.why } });
    }
    if (r.status === 'refused') log.record({ ...run, type: 'apply.refused', summary: { message: r.message } });
    if (r.status === 'rolled-back') log.record({ ...run, type: 'rollback', summary: { message: r.message } });
    if (r.status === 'failed') log.record({ ...run, type: 'change.failed', summary: { message: r.message } });
    log.record({ ...run, type: 'apply.finished', summary: { message: `${r.status}: ${r.message}` } });
  }
}

/** An `approval.requested` event per approval PR opened or kept for a held change set. */
export function recordApprovalRequests(audit: AuditLog, requested: readonly ApprovalPrOutcome[], base: ApplyRecordContext): void {
  for (const o of requested) {
    if (!o.result?.number) continue;
    audit.record({
      ...base,
      type: 'approval.requested',
      target: o.set.gateway,
      resource: `Agent/${o.set.agentId}`,
      agentId: o.set.agentId,
      summary: { message: `approval pull request #${o.result.number} (${o.result.action}) for change set ${o.set.id}` },
    });
  }
}
