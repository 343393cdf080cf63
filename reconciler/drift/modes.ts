/**
 * What the loop does with drift (DESIGN §3): per field, the mode of the Agent that owns it, else
 * its Gateway's, else clawops.yaml's `defaults.drift`, else `revert` (git is the source of truth,
 * and `apply` has always put git's values back). `propose` and `alert` leave the agent alone, git
 * changes included, so live is not touched while a person decides; a drift pull request closed
 * without merging is that decision, and its drift is reverted.
 */
import type { OpenClawGateway } from '../../fleet/openclaw/gateway-api.ts';
import { deepEqual } from '../plan/json-paths.ts';
import type { DesiredGateway } from '../desired/effective-state.ts';
import type { PlanContext } from '../plan/make-plan.ts';
import { driftItemKey, type DriftItem } from './detect.ts';
import { readDriftOn } from './read-drift.ts';
import type { FleetRepo } from '../load/load-repo.ts';
import type { LoadedOf } from '../load/resource.ts';
import type { DriftMode } from '../model/common.ts';
import type { Change } from '../plan/plan.ts';

export const DEFAULT_DRIFT_MODE: DriftMode = 'revert';

/** What apply does about one gateway's drift. */
export interface DriftDecision {
  /** Agent id → why it is left alone, git changes included (its drift is proposed or alerted, not reverted). */
  readonly leaveAlone: ReadonlyMap<string, string>;
  /** `agentId path` of changes that put back exactly what clawops last applied: they pass the approval gate (approved when applied). */
  readonly restores: ReadonlySet<string>;
}

export function driftModeOf(repo: Pick<FleetRepo, 'config'>, gw: LoadedOf<'Gateway'>, agent?: LoadedOf<'Agent'>): DriftMode {
  return agent?.value.spec.drift?.mode ?? gw.value.spec.drift?.mode ?? repo.config?.spec.defaults?.drift?.mode ?? DEFAULT_DRIFT_MODE;
}

export interface DriftPlan {
  readonly decision: DriftDecision;
  /** Drifted fields by what happens to them in this run. */
  readonly revert: readonly DriftItem[];
  readonly propose: readonly DriftItem[];
  readonly alert: readonly DriftItem[];
}

export interface DecideDriftInput {
  readonly repo: Pick<FleetRepo, 'config'>;
  readonly gateway: LoadedOf<'Gateway'>;
  readonly desired: DesiredGateway;
  readonly items: readonly DriftItem[];
  /** The fleet's plan for this gateway: changes that put back exactly what was last applied pass the approval gate. */
  readonly changes: readonly Change[];
  /** When the gateway's drift pull request was last closed without merging: drift seen before that was rejected. */
  readonly rejectedAt?: Date;
  /** When each item was first seen (ISO 8601), by driftItemKey. */
  readonly firstSeen: Readonly<Record<string, string>>;
}

export function decideDrift(input: DecideDriftInput): DriftPlan {
  const revert: DriftItem[] = [];
  const propose: DriftItem[] = [];
  const alert: DriftItem[] = [];
  const leaveAlone = new Map<string, string>();
  for (const item of input.items) {
    const agent = input.desired.agents.get(item.agentId)?.resource;
    let mode = driftModeOf(input.repo, input.gateway, agent);
    const seen = input.firstSeen[driftItemKey(item)];
    if (mode === 'propose' && input.rejectedAt && seen && Date.parse(seen) <= input.rejectedAt.getTime()) mode = 'revert';
    ({ revert, propose, alert })[mode].push(item);
    if (mode !== 'revert' && !leaveAlone.has(item.agentId)) {
      leaveAlone.set(item.agentId, mode === 'propose' ? 'changed outside git; proposed back to git as a drift pull request (drift mode propose)' : 'changed outside git; left as it is (drift mode alert)');
    }
  }
  const restores = new Set<string>();
  for (const item of revert) {
    const c = input.changes.find((x) => x.agentId === item.agentId && x.path === item.path);
    // Only a change back to the very value clawops last applied (approved when it was applied).
    if (c && !item.secret && item.lastApplied !== undefined && deepEqual(c.after, item.lastApplied)) restores.add(driftItemKey(item));
  }
  return { decision: { leaveAlone, restores }, revert, propose, alert };
}

/**
 * The drift decision for an apply outside the loop (`clawops apply`, the Action on a merge): the
 * same modes, read on the apply's own session, so a merge elsewhere in the repo never overwrites a
 * live edit that a drift PR is proposing or an alert left for a person. Without GitHub it cannot
 * know a drift PR was closed: only the loop reverts rejected proposals.
 */
export async function driftDecisionOn(session: OpenClawGateway, gateway: LoadedOf<'Gateway'>, ctx: PlanContext, desired: DesiredGateway, changes: readonly Change[]): Promise<DriftDecision> {
  // Only where a mode may leave an agent alone is drift worth a second read of live: with `revert`
  // everywhere, apply puts git's values back, as it always has.
  const changed = new Set(changes.map((c) => c.agentId));
  const decides = [...desired.agents.values()].some((a) => changed.has(a.id) && driftModeOf(ctx.repo, gateway, a.resource) !== 'revert');
  if (!decides) return { leaveAlone: new Map(), restores: new Set() };
  const drift = await readDriftOn(session, gateway, ctx, desired);
  return decideDrift({ repo: ctx.repo, gateway, desired, items: drift.view.report.items, changes, firstSeen: drift.view.firstSeen }).decision;
}
