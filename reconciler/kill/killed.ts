/**
 * Which agents of a gateway are killed, and how plan, apply and drift leave them alone: a killed
 * agent is out of the desired state and out of what clawops owns for the run, so nothing is planned
 * for it (the loop cannot undo the kill), it is neither pruned nor "re-owned", and its last-applied
 * entry is saved back as it was. An agent is killed when the state store has its kill record
 * (`clawops kill`) or git marks it `spec.killed` (the kill's pull request, merged).
 */
import type { DesiredGateway } from '../desired/effective-state.ts';
import type { PlanNote } from '../plan/plan.ts';
import type { LastApplied, ManagedAgent, StateStore } from '../state/state-store.ts';

export interface KilledAgent {
  readonly agentId: string;
  readonly reason: string;
  readonly by: string;
  readonly at: string;
  /** `state`: a kill record holds the prior config; `git`: only `spec.killed` says so. */
  readonly source: 'state' | 'git';
}

/** The killed agents of `desired`'s gateway, by id: kill records first (they carry the prior config), then `spec.killed`. */
export async function killedAgents(store: Pick<StateStore, 'killRecords'>, desired: DesiredGateway): Promise<Map<string, KilledAgent>> {
  const out = new Map<string, KilledAgent>();
  for (const r of await store.killRecords(desired.gateway.name)) out.set(r.agentId, { agentId: r.agentId, reason: r.reason, by: r.by, at: r.killedAt, source: 'state' });
  for (const a of desired.agents.values()) {
    const k = a.resource.value.spec.killed;
    if (k && !out.has(a.id)) out.set(a.id, { agentId: a.id, reason: k.reason, by: k.by, at: k.at, source: 'git' });
  }
  return out;
}

/** `desired` without the killed agents. */
export function withoutKilled(desired: DesiredGateway, killed: ReadonlyMap<string, KilledAgent>): DesiredGateway {
  if (![...desired.agents.keys()].some((id) => killed.has(id))) return desired;
  return { ...desired, agents: new Map([...desired.agents].filter(([id]) => !killed.has(id))) };
}

/** What clawops owns this run (`owned`), and the killed agents' last-applied entries to save back untouched (`kept`). */
export function splitKilled(
  lastApplied: LastApplied | undefined,
  killed: ReadonlySet<string> | ReadonlyMap<string, unknown> | undefined,
): { owned: LastApplied | undefined; kept: Record<string, ManagedAgent> | undefined } {
  if (!lastApplied || !killed?.size) return { owned: lastApplied, kept: undefined };
  const entries = Object.entries(lastApplied.agents);
  const kept = Object.fromEntries(entries.filter(([id]) => killed.has(id)));
  if (!Object.keys(kept).length) return { owned: lastApplied, kept: undefined };
  return { owned: { ...lastApplied, agents: Object.fromEntries(entries.filter(([id]) => !killed.has(id))) }, kept };
}

/** The plan's note for a killed agent: why nothing is planned for it and how to bring it back. */
export function killedNote(k: KilledAgent): PlanNote {
  if (k.source === 'git') {
    return {
      level: 'warning',
      message: `agent ${k.agentId} is marked killed in git (spec.killed: ${k.reason}; by ${k.by} at ${k.at}) and is left alone; remove spec.killed to manage it again (\`clawops recover ${k.agentId} --confirm\` when it was killed on the gateway)`,
    };
  }
  return { level: 'warning', message: `agent ${k.agentId} is killed (${k.reason}; by ${k.by} at ${k.at}) and left alone; \`clawops recover ${k.agentId} --confirm\` restores it` };
}
