/** What drift becomes in the audit trail: a `drift.detected` event per newly seen field (or new value), a `drift.reverted` per field put back. */
import type { DriftItem } from '../drift/detect.ts';
import type { Attribution } from '../drift/journal.ts';
import { driftItemKey } from '../drift/detect.ts';
import type { AuditLog } from './audit-log.ts';
import type { ApplyRecordContext } from './record-apply.ts';

export function recordDriftDetected(log: AuditLog, target: string, items: readonly DriftItem[], who: ReadonlyMap<string, readonly Attribution[]> | undefined, ctx: ApplyRecordContext): void {
  for (const item of items) {
    const by = who?.get(driftItemKey(item))?.[0];
    log.record({
      ...base(ctx),
      type: 'drift.detected',
      target,
      resource: item.resource ?? `Agent/${item.agentId}`,
      agentId: item.agentId,
      summary: {
        path: item.path,
        message: `${item.secret ? 'a secret ' : ''}changed outside git${by ? ` by ${by.source} (${by.kind}) at ${new Date(by.at).toISOString()}` : ''}`,
        ...(item.secret ? {} : { before: item.lastApplied ?? null, after: item.live ?? null }),
      },
    });
  }
}

export function recordDriftReverted(log: AuditLog, target: string, items: readonly DriftItem[], ctx: ApplyRecordContext): void {
  for (const item of items) {
    log.record({
      ...base(ctx),
      type: 'drift.reverted',
      target,
      resource: item.resource ?? `Agent/${item.agentId}`,
      agentId: item.agentId,
      summary: { path: item.path, message: 'put back to what git says (drift mode revert)', ...(item.secret ? {} : { before: item.live ?? null, after: item.lastApplied ?? null }) },
    });
  }
}

const base = (ctx: ApplyRecordContext) => ({ actor: ctx.actor, traceId: ctx.traceId, ...(ctx.desiredCommit ? { desiredCommit: ctx.desiredCommit } : {}) });
