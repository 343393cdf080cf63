/** What a gateway's entry says about it, shared by the text and Markdown renderers. */
import type { GatewayPlan } from '../plan.ts';
import { actionCounts, failureKind, tally } from './tally.ts';

/** Gateways with nothing to show are summed up in one line or row, not given a section. */
export const hasSection = (g: GatewayPlan): boolean => g.status === 'error' || g.changes.length > 0 || g.errors.length > 0 || g.notes.length > 0;

/** `2 to create, 1 to update, 0 to delete`, `not planned (unreachable)` or `no changes`. */
export function gatewayState(g: GatewayPlan): string {
  if (g.changes.length > 0) return actionCounts(tally(g.changes));
  return g.status === 'error' ? `not planned (${failureKind(g)})` : 'no changes';
}
