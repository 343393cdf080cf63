/**
 * A reconcile run in one screen: a line per gateway that needs a look (converged ones are only
 * counted, so a thousand quiet gateways cost one line), then the totals and what the exit code
 * means. The JSON form carries every gateway.
 */
import type { SyncResult } from '../git/sync-checkout.ts';
import type { ApprovalPrOutcome } from '../github/approval-prs.ts';
import type { Shard } from '../live/shard.ts';
import type { ExitCode } from '../ports.ts';
import { formatDuration } from './duration.ts';
import type { GatewayOutcome } from './reconcile-gateway.ts';

export interface RunReport {
  readonly formatVersion: 1;
  readonly traceId: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly shard?: string;
  /** The fleet repo commit reconciled, and what the sync did. */
  readonly commit?: string;
  readonly sync?: SyncResult;
  /** `held`: another run holds this shard's lease; nothing was done. */
  readonly lease: { readonly status: 'acquired' | 'held' | 'lost'; readonly holder?: string; readonly expiresAt?: string };
  readonly gateways: readonly GatewayOutcome[];
  readonly approvalRequests?: readonly ApprovalPrOutcome[];
  readonly errors?: readonly string[];
  readonly totals: Readonly<Record<GatewayOutcome['status'], number>> & { readonly applied_changes: number; readonly held: number; readonly denied: number; readonly driftReverted: number; readonly driftProposed: number; readonly driftAlerted: number };
  readonly exitCode: ExitCode;
}

export function totals(outcomes: readonly GatewayOutcome[]): RunReport['totals'] {
  const count = (s: GatewayOutcome['status']) => outcomes.filter((o) => o.status === s).length;
  const sum = (f: (o: GatewayOutcome) => number) => outcomes.reduce((n, o) => n + f(o), 0);
  return {
    converged: count('converged'),
    applied: count('applied'),
    pending: count('pending'),
    error: count('error'),
    applied_changes: sum((o) => o.applied),
    held: sum((o) => o.held),
    denied: sum((o) => o.denied),
    driftReverted: sum((o) => o.drift.reverted),
    driftProposed: sum((o) => o.drift.proposed),
    driftAlerted: sum((o) => o.drift.alerted),
  };
}

/** 1 on any error or denied change, 2 when drift or held changes remain, else 0. */
export function exitCodeOf(outcomes: readonly GatewayOutcome[], runErrors: readonly string[]): ExitCode {
  if (runErrors.length || outcomes.some((o) => o.status === 'error' || o.denied > 0)) return 1;
  return outcomes.some((o) => o.status === 'pending') ? 2 : 0;
}

const MARK: Record<GatewayOutcome['status'], string> = { converged: '=', applied: '✓', pending: '⏸', error: '✗' };
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function describe(o: GatewayOutcome): string {
  const parts: string[] = [];
  if (o.applied) parts.push(`applied ${plural(o.applied, 'change')}`);
  if (o.drift.reverted) parts.push(`reverted ${plural(o.drift.reverted, 'drifted field')}`);
  if (o.held) parts.push(`${o.held} held for approval`);
  if (o.denied) parts.push(`${o.denied} denied by policy`);
  if (o.drift.proposed) parts.push(`${plural(o.drift.proposed, 'drifted field')} proposed to git${o.driftPr ? ` (${o.driftPr})` : ''}`);
  else if (o.driftPr) parts.push(`drift PR ${o.driftPr}`);
  if (o.drift.alerted) parts.push(`${plural(o.drift.alerted, 'drifted field')} left as they are (alert)`);
  if (o.message) parts.push(o.message);
  return parts.join('; ') || 'converged';
}

export function renderRun(r: RunReport): string {
  const head = [
    `clawops reconcile${r.shard ? ` (shard ${r.shard})` : ''}`,
    r.commit ? ` at ${r.commit.slice(0, 7)}` : '',
    r.sync?.status === 'fast-forwarded' ? ` (pulled from ${r.sync.from?.slice(0, 7)})` : '',
  ].join('');
  if (r.lease.status === 'held') return `${head}: another run (${r.lease.holder}) holds this shard until ${r.lease.expiresAt}; nothing done.\n`;
  const lines = [`${head}: ${plural(r.gateways.length, 'gateway')} in ${formatDuration(r.durationMs)}`];
  const width = Math.min(32, Math.max(0, ...r.gateways.map((o) => o.gateway.length)));
  for (const o of r.gateways) if (o.status !== 'converged' || o.driftPr) lines.push(`  ${MARK[o.status]} ${o.gateway.padEnd(width)}  ${describe(o)}`);
  for (const a of r.approvalRequests ?? []) {
    if (a.problem) lines.push(`  ! approval PR for ${a.set.agentId} on ${a.set.gateway}: ${a.problem}`);
    else if (a.result?.number) lines.push(`  → approval PR #${a.result.number} (${a.result.action}) for ${a.set.agentId} on ${a.set.gateway}`);
  }
  for (const e of r.errors ?? []) lines.push(`  ✗ ${e}`);
  const t = r.totals;
  lines.push(
    `${t.converged} converged, ${t.applied} applied (${plural(t.applied_changes, 'change')}), ${t.pending} pending, ${t.error} failed.` +
      (r.exitCode === 0 ? ' Fleet converged.' : r.exitCode === 2 ? ' Drift or held changes remain (exit 2).' : ' Errors (exit 1).'),
  );
  if (r.lease.status === 'lost') lines.push('The lease on this shard was lost mid-run (another run took it over after it expired); writes stopped there.');
  return lines.join('\n') + '\n';
}

export const shardName = (shard: Shard | undefined): string => (shard ? `${shard.index}-of-${shard.count}` : 'all');
