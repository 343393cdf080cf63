/**
 * A plan for the whole fleet (or the gateways named): per gateway, one session, one read of live
 * state, one diff. Gateways are planned in parallel with a bound; one that cannot be reached or
 * read becomes an error in its own section and never stops the others.
 */
import { createHmac } from 'node:crypto';
import type { DeviceIdentity } from '../../fleet/openclaw/device-identity.ts';
import type { OpenClawGateway } from '../../fleet/openclaw/gateway-api.ts';
import type { OperatorScope } from '../../fleet/openclaw/protocol.ts';
import { effectiveDesired, type DesiredGateway } from '../desired/effective-state.ts';
import { ClawopsError } from '../errors.ts';
import { openGatewayWithin } from '../live/connect-within.ts';
import { explainGatewayError } from '../live/explain-gateway-error.ts';
import { gatewayClientOptions, type AccessContext } from '../live/gateway-access.ts';
import { mapLimited } from '../live/parallel.ts';
import type { FleetRepo } from '../load/load-repo.ts';
import type { LoadedOf } from '../load/resource.ts';
import { readSecret } from '../secrets/age-store.ts';
import type { StateStore } from '../state/state-store.ts';
import { RISKS } from '../model/common.ts';
import type { GatewayPlan, Plan, PlanNote, PlanSummary } from './plan.ts';
import { expiringSoon } from '../policy/exceptions.ts';
import { ofKind } from '../load/resource.ts';
import { planGateway } from './planner.ts';
import { pinnedDesired } from '../rollback/pinned-desired.ts';
import { killedAgents, withoutKilled, type KilledAgent } from '../kill/killed.ts';
import { readLive, type LiveGateway } from './read-live.ts';
import { fromSnapshot } from './live-snapshot.ts';
import { checkAgainstLiveSchema } from './live-schema-check.ts';
import { ConfigSchemaCache } from '../../fleet/openclaw/config-schema-cache.ts';

/** exec.approvals.get and the writes of apply need admin; plan asks for what apply will use. */
export const PLAN_SCOPES: readonly OperatorScope[] = ['operator.admin'];
/** Fetched once per gateway build per run (the schema is ~2 MB); CLAWOPS_CACHE_DIR keeps it across runs. */
const CONFIG_SCHEMAS = new ConfigSchemaCache(process.env.CLAWOPS_CACHE_DIR ? { dir: process.env.CLAWOPS_CACHE_DIR } : {});

/** How long an apply waits for a gateway that went away mid-apply (a real restart takes 10–40 s). */
export const APPLY_RECONNECT_MS = 180_000;

export interface PlanContext {
  readonly repo: FleetRepo;
  readonly access: AccessContext;
  readonly device: DeviceIdentity;
  readonly store: StateStore;
  readonly parallelism: number;
  readonly timeoutMs: number;
  readonly now: () => Date;
  readonly onProgress?: (done: number, total: number) => void;
  /** Plan against the state branch's live snapshot when a gateway cannot be reached (plan only, never apply). */
  readonly snapshotFallback?: boolean;
}

/** What one gateway's planning produced, with the open session when the caller keeps it (apply). */
export interface PlannedGateway {
  readonly plan: GatewayPlan;
  readonly desired?: DesiredGateway;
  readonly live?: LiveGateway;
  readonly session?: OpenClawGateway;
  /** Killed agents, left out of `desired` (apply keeps their last-applied entries as they are). */
  readonly killed?: ReadonlySet<string>;
}

/** The keyed hash that stands for a secret value: equal values, equal hashes; the value never shown. */
export async function secretHasher(ctx: Pick<PlanContext, 'access' | 'store'>): Promise<(name: string) => Promise<string>> {
  const key = await ctx.store.secretHashKey();
  const cache = new Map<string, Promise<string>>();
  return (name) => {
    let h = cache.get(name);
    if (!h) {
      h = readSecret(ctx.access.root, name, ctx.access.identities, ctx.access.redactor).then((v) => createHmac('sha256', key).update(v).digest('hex').slice(0, 16));
      cache.set(name, h);
    }
    return h;
  };
}

/** One operator session to `gw` with the scopes plan and apply use, or why there is none. */
export async function openSession(gw: LoadedOf<'Gateway'>, ctx: PlanContext, opts: { keepSession: boolean }): Promise<{ session: OpenClawGateway } | { kind: string; message: string }> {
  try {
    const options = await gatewayClientOptions(gw, ctx.access, { scopes: PLAN_SCOPES, device: ctx.device, requestTimeoutMs: Math.max(ctx.timeoutMs, 30_000) });
    // A session kept for apply outlives a gateway restart: it must reconnect to verify or roll back.
    return { session: await openGatewayWithin(opts.keepSession ? { ...options, reconnect: { giveUpAfterMs: APPLY_RECONNECT_MS } } : options, ctx.timeoutMs) };
  } catch (e) {
    if (e instanceof ClawopsError) return { kind: 'credentials', message: `${gw.name}: ${e.message}` };
    return explainGatewayError(e, gw.name);
  }
}

export async function planOne(gw: LoadedOf<'Gateway'>, ctx: PlanContext, opts: { keepSession: boolean }): Promise<PlannedGateway> {
  const base = { gateway: gw.name, url: gw.value.spec.url, notes: [], changes: [], operations: { deleteAgents: [], cronUpserts: [], cronRemovals: [], files: [] } };
  const failed = (kind: string, message: string): PlannedGateway => ({ plan: { ...base, status: 'error', errors: [{ kind, message }] } });
  let desired: DesiredGateway;
  try {
    desired = await effectiveDesired(ctx.repo, gw);
  } catch (e) {
    if (e instanceof Error && 'code' in e && (e as NodeJS.ErrnoException).code === 'ENOENT') return failed('repo', `${gw.name}: ${e.message}`);
    throw e;
  }
  // A rollback pin renders this target from the commit it was rolled back to, until main moves on.
  const pinned = await pinnedDesired(gw, desired, ctx);
  if ('error' in pinned) return failed('rollback-pin', pinned.error);
  desired = pinned.desired;
  // Killed agents (reconciler/kill) are left alone until `clawops recover`.
  const killed = await killedAgents(ctx.store, desired);
  desired = withoutKilled(desired, killed);
  const opened = await openSession(gw, ctx, opts);
  if ('kind' in opened) {
    const offline = ctx.snapshotFallback && !opts.keepSession && UNREACHABLE.has(opened.kind) ? await planFromSnapshot(gw, desired, ctx, opened.message, killed) : undefined;
    return offline ?? failed(opened.kind, opened.message);
  }
  const { session } = opened;
  try {
    const files = [...desired.agents.values()].flatMap((a) => a.files.map((f) => ({ agentId: a.id, name: f.name })));
    const [live, lastApplied, schema] = await Promise.all([readLive(session, files), ctx.store.lastApplied(gw.name), CONFIG_SCHEMAS.get(session)]);
    const invalid = checkAgainstLiveSchema(desired, schema);
    if (invalid.length) {
      await session.client.close();
      return { plan: { ...base, version: live.version, status: 'error', errors: invalid } };
    }
    const plan = await planGateway({ desired, live, lastApplied, secretHash: await secretHasher(ctx), policy: ctx.repo.policy.engine, killed });
    if (!opts.keepSession) await session.client.close();
    return { plan, desired, live, killed: new Set(killed.keys()), ...(opts.keepSession ? { session } : {}) };
  } catch (e) {
    await session.client.close();
    if (e instanceof ClawopsError) return failed('secrets', `${gw.name}: ${e.message}`);
    const p = explainGatewayError(e, gw.name);
    return failed(p.kind, p.message);
  }
}

/** Connection failures after which a snapshot stands in; auth or pairing problems are never papered over. */
const UNREACHABLE = new Set(['unreachable', 'timeout', 'connection-lost']);

/** The plan against the latest live snapshot, saying how old it is; undefined when there is none. */
async function planFromSnapshot(gw: LoadedOf<'Gateway'>, desired: DesiredGateway, ctx: PlanContext, why: string, killed: ReadonlyMap<string, KilledAgent>): Promise<PlannedGateway | undefined> {
  const snap = fromSnapshot(await ctx.store.liveSnapshot(gw.name));
  if (!snap) return undefined;
  const lastApplied = await ctx.store.lastApplied(gw.name);
  const planned = await planGateway({ desired, live: snap.live, lastApplied, secretHash: await secretHasher(ctx), policy: ctx.repo.policy.engine, killed });
  const note = {
    level: 'warning' as const,
    message: `planned against the live snapshot taken ${snap.takenAt.toISOString()} (${age(ctx.now().getTime() - snap.takenAt.getTime())} ago), because ${why}; live may have changed since, and apply re-reads it`,
  };
  return { plan: { ...planned, notes: [note, ...planned.notes] } };
}

function age(ms: number): string {
  const m = Math.max(0, Math.round(ms / 60_000));
  if (m < 60) return `${m} minute${m === 1 ? '' : 's'}`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} hour${h === 1 ? '' : 's'}`;
  const d = Math.round(h / 24);
  return `${d} days`;
}

export async function makePlan(gateways: ReadonlyArray<LoadedOf<'Gateway'>>, ctx: PlanContext): Promise<Plan> {
  const planned = await mapLimited(gateways, ctx.parallelism, (gw) => planOne(gw, ctx, { keepSession: false }), ctx.onProgress);
  return assemblePlan(planned.map((p) => p.plan), ctx.now(), policyNotes(ctx.repo, ctx.now()));
}

export function assemblePlan(gateways: GatewayPlan[], createdAt: Date, notes: PlanNote[] = []): Plan {
  const sorted = [...gateways].sort((a, b) => (a.gateway < b.gateway ? -1 : a.gateway > b.gateway ? 1 : 0));
  return { formatVersion: 1, createdAt: createdAt.toISOString(), gateways: sorted, summary: summarize(sorted), notes };
}

/** Exceptions about to lapse: the changes they let through will need approval (or be denied) soon. */
export function policyNotes(repo: FleetRepo, now: Date): PlanNote[] {
  return expiringSoon(repo.policy.exceptions, now).map((e) => {
    const r = ofKind(repo.resources, 'PolicyException').find((x) => x.name === e.name);
    return {
      level: 'warning' as const,
      message: `PolicyException ${e.name} (waives ${e.value.spec.rule}, owner ${e.value.spec.owner}) expires ${e.value.spec.expiresAt}; renew it or let the rule apply again`,
      ...(r ? { source: { file: r.file, ...r.locator.locate(['spec', 'expiresAt']) } } : {}),
    };
  });
}

export function summarize(gateways: readonly GatewayPlan[]): PlanSummary {
  const all = gateways.flatMap((g) => g.changes);
  const byRisk = Object.fromEntries(RISKS.map((r) => [r, all.filter((c) => c.risk === r).length])) as PlanSummary['byRisk'];
  return {
    gateways: gateways.length,
    gatewaysWithChanges: gateways.filter((g) => g.changes.length > 0).length,
    gatewaysWithErrors: gateways.filter((g) => g.status === 'error').length,
    create: all.filter((c) => c.action === 'create').length,
    update: all.filter((c) => c.action === 'update').length,
    delete: all.filter((c) => c.action === 'delete').length,
    needApproval: all.filter((c) => c.verdict.effect === 'require-approval').length,
    denied: all.filter((c) => c.verdict.effect === 'deny').length,
    byRisk,
  };
}
