/**
 * Applying a plan to the fleet: each gateway on its own (bounded in parallel), each re-planned
 * against live and the repo right before writing, so what is applied is exactly what was shown:
 * a gateway whose live state or desired state moved since the plan is refused, not "updated".
 * One failing gateway never stops the others.
 */
import type { LoadedOf } from '../load/resource.ts';
import { mapLimited } from '../live/parallel.ts';
import { planOne, secretHasher, type PlanContext } from '../plan/make-plan.ts';
import { deepEqual } from '../plan/json-paths.ts';
import type { GatewayPlan, Plan } from '../plan/plan.ts';
import { readSecret } from '../secrets/age-store.ts';
import { applyGateway, type GatewayApplyResult } from './apply-gateway.ts';

export interface ApplyFleetOptions {
  readonly maxRateLimitWaitMs?: number;
}

export async function applyPlan(plan: Plan, gateways: ReadonlyArray<LoadedOf<'Gateway'>>, ctx: PlanContext, opts: ApplyFleetOptions = {}): Promise<GatewayApplyResult[]> {
  const byName = new Map(gateways.map((g) => [g.name, g]));
  const secretHash = await secretHasher(ctx);
  const secretValue = (name: string) => readSecret(ctx.access.root, name, ctx.access.identities, ctx.access.redactor);
  return mapLimited(plan.gateways, ctx.parallelism, async (given): Promise<GatewayApplyResult> => {
    const refused = (message: string): GatewayApplyResult => ({ gateway: given.gateway, status: 'refused', message, writes: 0, changes: given.changes.length });
    const gw = byName.get(given.gateway);
    if (!gw) return refused(`${given.gateway} is no longer a Gateway in the repo`);
    if (given.status === 'error') return { gateway: given.gateway, status: 'failed', message: given.errors.map((e) => e.message).join('; '), writes: 0, changes: 0 };
    const fresh = await planOne(gw, ctx, { keepSession: true });
    if (!fresh.session || !fresh.desired) return { gateway: given.gateway, status: 'failed', message: fresh.plan.errors.map((e) => e.message).join('; '), writes: 0, changes: given.changes.length };
    try {
      const why = divergence(given, fresh.plan);
      if (why) return refused(why);
      return await applyGateway(given, fresh.session, {
        repoRoot: ctx.repo.root,
        store: ctx.store,
        desired: fresh.desired,
        lastApplied: await ctx.store.lastApplied(gw.name),
        secretValue,
        secretHash,
        now: ctx.now,
        ...(opts.maxRateLimitWaitMs !== undefined ? { maxRateLimitWaitMs: opts.maxRateLimitWaitMs } : {}),
      });
    } finally {
      await fresh.session.client.close();
    }
  });
}

/** Why a plan no longer describes what apply would do, or undefined when it still does. */
function divergence(given: GatewayPlan, fresh: GatewayPlan): string | undefined {
  if (fresh.status === 'error') return fresh.errors.map((e) => e.message).join('; ');
  if (!deepEqual(given.live, fresh.live)) {
    const moved = Object.keys(given.live ?? {}).filter((k) => !deepEqual(given.live?.[k as keyof typeof given.live], fresh.live?.[k as keyof typeof fresh.live]));
    return `${given.gateway}: live changed since the plan (${moved.join(', ')}); nothing was written. Re-run \`clawops plan\``;
  }
  if (!deepEqual(stable(given), stable(fresh))) return `${given.gateway}: the repo changed since the plan; nothing was written. Re-run \`clawops plan\``;
  return undefined;
}

const stable = (g: GatewayPlan) => JSON.parse(JSON.stringify({ changes: g.changes, operations: g.operations })) as unknown;
