/**
 * Counts and the sentences built from them. They are computed from the changes themselves, not
 * read from `plan.summary`, so a rendered plan can never state totals that disagree with the lines
 * it shows.
 */
import { RISKS, type Risk } from '../../model/common.ts';
import type { Change, GatewayPlan } from '../plan.ts';

export interface Tally {
  create: number;
  update: number;
  delete: number;
  readonly byRisk: Record<Risk, number>;
  highestRisk: Risk | undefined;
  /** Changes policy holds for approval, and changes it denies. */
  needApproval: number;
  denied: number;
}

const emptyTally = (): Tally => ({ create: 0, update: 0, delete: 0, byRisk: { low: 0, medium: 0, high: 0, critical: 0 }, highestRisk: undefined, needApproval: 0, denied: 0 });

export const total = (t: Tally): number => t.create + t.update + t.delete;

export function tally(changes: readonly Change[]): Tally {
  const t = emptyTally();
  for (const c of changes) {
    t[c.action] += 1;
    t.byRisk[c.risk] += 1;
    if (c.verdict.effect === 'deny') t.denied += 1;
    else if (c.verdict.effect === 'require-approval') t.needApproval += 1;
    if (t.highestRisk === undefined || RISKS.indexOf(c.risk) > RISKS.indexOf(t.highestRisk)) t.highestRisk = c.risk;
  }
  return t;
}

export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** `2 to create, 1 to update, 0 to delete` (all three always, as terraform does, so they line up). */
export const actionCounts = (t: Tally): string => `${t.create} to create, ${t.update} to update, ${t.delete} to delete`;

/** `1 critical, 2 high, 5 low`: only the levels present, most severe first. */
export const riskCounts = (t: Tally): string =>
  [...RISKS]
    .reverse()
    .filter((r) => t.byRisk[r] > 0)
    .map((r) => `${t.byRisk[r]} ${r}`)
    .join(', ');

/** `2 need approval, 1 denied`; empty when policy allows everything. */
export const gateCounts = (t: Tally): string =>
  [...(t.needApproval ? [`${t.needApproval} ${t.needApproval === 1 ? 'needs' : 'need'} approval`] : []), ...(t.denied ? [`${t.denied} denied`] : [])].join(', ');

/** Why a gateway could not be planned, by its first error: `unreachable`, `auth error`, … */
export const failureKind = (g: GatewayPlan): string => {
  const kind = g.errors[0]?.kind ?? 'error';
  return kind === 'unreachable' ? kind : `${kind} error`;
};

/** `(1 unreachable, 2 auth error)`, most frequent first; empty when every gateway was planned. */
function failures(gateways: readonly GatewayPlan[]): string {
  const counts = new Map<string, number>();
  for (const g of gateways) if (g.status === 'error') counts.set(failureKind(g), (counts.get(failureKind(g)) ?? 0) + 1);
  if (counts.size === 0) return '';
  const parts = [...counts].sort(([a, m], [b, n]) => n - m || (a < b ? -1 : a > b ? 1 : 0)).map(([kind, n]) => `${n} ${kind}`);
  return ` (${parts.join(', ')})`;
}

export interface FleetTally {
  readonly changes: Tally;
  readonly gateways: number;
  readonly gatewaysWithChanges: number;
  readonly gatewaysWithErrors: number;
}

export function fleetTally(gateways: readonly GatewayPlan[]): FleetTally {
  const changes = tally(gateways.flatMap((g) => g.changes));
  return {
    changes,
    gateways: gateways.length,
    gatewaysWithChanges: gateways.filter((g) => g.changes.length > 0).length,
    gatewaysWithErrors: gateways.filter((g) => g.status === 'error').length,
  };
}

/**
 * The closing sentence: `Plan: 3 to create, 5 to update, 1 to delete on 2 of 3 gateways (1
 * unreachable).` or `No changes. Live matches git on 3 gateways.`
 */
export function summarySentence(gateways: readonly GatewayPlan[]): string {
  const f = fleetTally(gateways);
  const noun = f.gateways === 1 ? 'gateway' : 'gateways';
  const failed = failures(gateways);
  if (f.gateways === 0) return 'No changes: the plan covers no gateways.';
  if (total(f.changes) === 0) {
    return f.gatewaysWithErrors === 0
      ? `No changes. Live matches git on ${f.gateways} ${noun}.`
      : `No changes. Live matches git on ${f.gateways - f.gatewaysWithErrors} of ${f.gateways} ${noun}${failed}.`;
  }
  const gate = gateCounts(f.changes);
  return `Plan: ${actionCounts(f.changes)} on ${f.gatewaysWithChanges} of ${f.gateways} ${noun}${failed}.${gate ? ` Policy: ${gate}.` : ''}`;
}
