/**
 * Honouring rollback pins while planning (every path: plan, apply, reconcile go through
 * `planOne`). A pinned target whose desired state on main is still the one the pin was set
 * against is rendered from the repo at the pin's commit instead, and the plan says so. Once main
 * renders something else (the revert PR merged, or a fix landed), the pin is lifted: deleted
 * (staged with the run's commit on the state branch) and noted in the plan.
 */
import { posix } from 'node:path';
import { effectiveDesired, type DesiredGateway } from '../desired/effective-state.ts';
import type { FleetRepo } from '../load/load-repo.ts';
import { ofKind, type LoadedOf } from '../load/resource.ts';
import type { PlanNote } from '../plan/plan.ts';
import type { RollbackPin, StateStore } from '../state/state-store.ts';
import { desiredHash } from './desired-hash.ts';
import { repoAt } from './repo-at.ts';

export type PinnedDesired = { readonly desired: DesiredGateway } | { readonly error: string };

const short = (sha: string) => sha.slice(0, 12);

export function pinNote(pin: RollbackPin): string {
  return (
    `pinned to ${short(pin.to)} by rollback (${pin.reason ?? `by ${pin.by}`}, ${pin.at}): planned from the repo at ${short(pin.to)}, not main (${short(pin.from)}); ` +
    `lifts when main changes this gateway's config${pin.pr ? ` (revert pull request #${pin.pr.number}${pin.pr.url ? ` ${pin.pr.url}` : ''})` : ''}`
  );
}

/** `desired` (main's), or the pinned commit's desired state for the same gateway. */
export async function pinnedDesired(gw: LoadedOf<'Gateway'>, desired: DesiredGateway, ctx: { readonly repo: FleetRepo; readonly store: StateStore }): Promise<PinnedDesired> {
  const pin = await ctx.store.pin(gw.name);
  if (!pin) return { desired };
  if (desiredHash(desired) !== pin.badDesired) {
    await ctx.store.deletePin(gw.name);
    const note: PlanNote = { level: 'info', message: `rollback pin to ${short(pin.to)} lifted: main now changes this gateway's config (set ${pin.at} by ${pin.by}${pin.reason ? `: ${pin.reason}` : ''})` };
    return { desired: { ...desired, notes: [note, ...desired.notes] } };
  }
  try {
    const at = await desiredAt(gw, pin.to, ctx.repo.root);
    const note: PlanNote = { level: 'warning', message: pinNote(pin) };
    return { desired: { ...at, notes: [note, ...at.notes] } };
  } catch (e) {
    return { error: `${gw.name}: rollback pin to ${short(pin.to)}: ${(e as Error).message}` };
  }
}

/**
 * The gateway's desired state rendered from the repo at `sha`: its agents as they were there, the
 * Gateway itself as it is now (how to reach it, prune, ignore: the connection must be today's).
 * Managed file contents point into the export, so apply reads the old bytes.
 */
export async function desiredAt(gw: LoadedOf<'Gateway'>, sha: string, root: string): Promise<DesiredGateway> {
  const at = await repoAt(root, sha);
  const then = ofKind(at.repo.resources, 'Gateway').find((g) => g.name === gw.name);
  if (!then) throw new Error(`there was no Gateway ${gw.name} at ${short(sha)}`);
  const rendered = await effectiveDesired(at.repo, then);
  const agents = new Map(
    [...rendered.agents].map(([id, a]) => [id, { ...a, files: a.files.map((f) => ({ ...f, contentFile: posix.join(at.rel, f.contentFile) })) }]),
  );
  return { ...rendered, gateway: gw, agents };
}
