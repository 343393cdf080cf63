/**
 * The one order every renderer uses, so text, Markdown and JSON list the same plan the same way
 * whatever order the planner produced it in. Comparison is by UTF-16 code units, never by
 * locale, so the output does not depend on the machine that renders it.
 */
import type { Action, Change, GatewayPlan, Plan } from '../plan.ts';

export const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** A removal before its replacement on the same path, as a diff reads. */
const ACTION_ORDER: Record<Action, number> = { delete: 0, create: 1, update: 2 };

export const compareChanges = (a: Change, b: Change): number =>
  compareText(a.agentId, b.agentId) ||
  compareText(a.path, b.path) ||
  ACTION_ORDER[a.action] - ACTION_ORDER[b.action] ||
  compareText(a.resource, b.resource);

export const sortedChanges = (changes: readonly Change[]): Change[] => [...changes].sort(compareChanges);

export const sortedGateways = (plan: Plan): GatewayPlan[] =>
  [...plan.gateways].sort((a, b) => compareText(a.gateway, b.gateway) || compareText(a.url, b.url));

/** The changes one resource makes to one agent: the unit a reviewer reads together. */
export interface AgentGroup {
  readonly agentId: string;
  readonly resource: string;
  readonly changes: readonly Change[];
}

export function groupByAgent(changes: readonly Change[]): AgentGroup[] {
  const groups = new Map<string, { agentId: string; resource: string; changes: Change[] }>();
  for (const c of sortedChanges(changes)) {
    const key = JSON.stringify([c.agentId, c.resource]);
    const group = groups.get(key) ?? { agentId: c.agentId, resource: c.resource, changes: [] };
    group.changes.push(c);
    groups.set(key, group);
  }
  return [...groups.values()].sort((a, b) => compareText(a.agentId, b.agentId) || compareText(a.resource, b.resource));
}
