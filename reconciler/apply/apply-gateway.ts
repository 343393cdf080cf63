/**
 * Applying one gateway's plan: check live did not move since the plan, snapshot, write, verify,
 * and on any failure put the snapshot back. Every write is guarded by the hash the plan was made
 * against (or the hash our own previous write returned), so a concurrent edit is refused, never
 * overwritten. The order is config patch → agent deletions → exec approvals → cron → files: the
 * config creates the agents the rest refers to.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as wait } from 'node:timers/promises';
import { ConnectionLostError, GatewayError, GatewayTransportError, RateLimitedError, StaleHashError } from '../../fleet/openclaw/errors.ts';
import { agentEntries, type CronJob, type JsonObject, type OpenClawGateway } from '../../fleet/openclaw/gateway-api.ts';
import type { DesiredGateway } from '../desired/effective-state.ts';
import { CRON_KEY_PREFIX } from '../desired/effective-state.ts';
import { explainGatewayError } from '../live/explain-gateway-error.ts';
import { cronDigest } from '../plan/agent-docs.ts';
import { mapSecretRefs } from '../plan/json-paths.ts';
import type { GatewayPlan, LiveHashes } from '../plan/plan.ts';
import { toSnapshot } from '../plan/live-snapshot.ts';
import { planGateway } from '../plan/planner.ts';
import { fileKey, readLive, type LiveGateway } from '../plan/read-live.ts';
import type { LastApplied, ManagedAgent, PreApplySnapshot, StateStore } from '../state/state-store.ts';

export const APPLY_STATUSES = ['unchanged', 'applied', 'refused', 'rolled-back', 'failed'] as const;
export type ApplyStatus = (typeof APPLY_STATUSES)[number];

export interface GatewayApplyResult {
  readonly gateway: string;
  /**
   * unchanged: nothing to do. applied: written and verified. refused: nothing written (live moved,
   * or the repo changed). rolled-back: written, then put back to the pre-apply snapshot.
   * failed: the gateway may be partly changed; the next apply converges.
   */
  readonly status: ApplyStatus;
  readonly message: string;
  readonly writes: number;
  readonly changes: number;
  readonly preApplyId?: string;
}

export interface ApplyContext {
  readonly repoRoot: string;
  readonly store: StateStore;
  readonly desired: DesiredGateway;
  readonly lastApplied: LastApplied | undefined;
  readonly secretValue: (name: string) => Promise<string>;
  readonly secretHash: (name: string) => Promise<string>;
  readonly now: () => Date;
  /** How long apply may wait out a rate limit before giving up (default 65 s). */
  readonly maxRateLimitWaitMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** How long a rollback keeps trying while the gateway is away (default 150 s). */
  readonly rollbackPatienceMs?: number;
  /**
   * Agents policy held back: left out of `desired` and `lastApplied` so nothing of theirs is
   * planned or verified, and their last-applied entries saved back untouched.
   */
  readonly heldAgents?: Readonly<Record<string, ManagedAgent>>;
  /** The fleet repo commit being applied (stamped on each agent's last-applied entry). */
  readonly desiredCommit?: string;
}

/** The state to save: what this apply owns plus, unchanged, what the held agents owned before. */
const withHeld = (state: LastApplied, ctx: ApplyContext): LastApplied => (ctx.heldAgents ? { ...state, agents: { ...ctx.heldAgents, ...state.agents } } : state);

class Refused extends Error {}

export async function applyGateway(plan: GatewayPlan, gw: OpenClawGateway, ctx: ApplyContext): Promise<GatewayApplyResult> {
  const result = (status: ApplyStatus, message: string, writes = 0, preApplyId?: string): GatewayApplyResult => ({
    gateway: plan.gateway,
    status,
    message,
    writes,
    changes: plan.changes.length,
    ...(preApplyId ? { preApplyId } : {}),
  });
  if (plan.status === 'error' || !plan.live) return result('failed', plan.errors.map((e) => e.message).join('; ') || 'no plan for this gateway');
  const ops = plan.operations;
  const nothingToWrite = !ops.configPatch && !ops.execApprovals && ops.deleteAgents.length + ops.cronUpserts.length + ops.cronRemovals.length + ops.files.length === 0;
  if (nothingToWrite) {
    await recordApplied(ctx, plan.gateway);
    return result('unchanged', 'live matches git');
  }

  let pre: PreApplySnapshot;
  try {
    await checkRepoFiles(plan, ctx.repoRoot);
    pre = await snapshotIfUnmoved(plan, plan.live, gw, ctx);
  } catch (e) {
    if (e instanceof Refused) return result('refused', e.message);
    return result('failed', explainGatewayError(e, plan.gateway).message);
  }
  const preApplyId = await ctx.store.savePreApply(pre);

  let writes = 0;
  let configHash = plan.live.config;
  let execHash = plan.live.execApprovals;
  /** What each of our writes left, so a rollback can tell our state from someone else's edit. */
  const ours: Ours = { config: configHash, exec: execHash, files: new Map() };
  try {
    if (ops.configPatch) {
      const patch = (await resolveSecrets(ops.configPatch.patch, ctx)) as JsonObject;
      const res = await withRateLimit(ctx, () => gw.configPatch({ patch, baseHash: configHash, replacePaths: ops.configPatch!.replacePaths, note: 'clawops apply' }));
      writes++;
      configHash = res.hash;
      ours.config = res.hash;
    }
    for (const id of ops.deleteAgents) {
      await withRateLimit(ctx, () => gw.agentsDelete(id));
      writes++;
    }
    if (ops.execApprovals) {
      const res = await gw.execApprovalsSet({ file: ops.execApprovals as never, baseHash: execHash });
      writes++;
      execHash = res.hash;
      ours.exec = res.hash;
    }
    for (const r of ops.cronRemovals) {
      await gw.cronRemove(r.id);
      writes++;
    }
    for (const u of ops.cronUpserts) {
      await gw.cronAdd((await resolveSecrets(u.job, ctx)) as JsonObject & { declarationKey: string });
      writes++;
    }
    for (const f of ops.files) {
      const content = await readFile(join(ctx.repoRoot, f.contentFile), 'utf8');
      const written = await gw.agentFileSet({ agentId: f.agentId, name: f.name, content, ...(f.expectedHash ? { expectedHash: f.expectedHash } : {}) });
      writes++;
      if (written.hash) ours.files.set(fileKey(f.agentId, f.name), written.hash);
    }
  } catch (e) {
    // A stale hash on the very first write means someone wrote after our check: nothing of ours landed.
    if (writes === 0 && e instanceof StaleHashError) return result('refused', `${plan.gateway}: ${describeStale(e)} between the check and the write; nothing was written. Re-run \`clawops plan\`.`, 0, preApplyId);
    const why = explainGatewayError(e, plan.gateway).message;
    const unknown = e instanceof ConnectionLostError || e instanceof GatewayTransportError;
    return rollback(plan, gw, ctx, { pre, preApplyId, writes, reason: `a write failed (${why})`, outcomeUnknown: unknown, ours });
  }

  // Verify: live must now equal desired on every managed field, and the gateway must be healthy.
  const state = nextLastApplied(ctx, plan.gateway, pre);
  let verified: LiveGateway;
  try {
    const files = [...ctx.desired.agents.values()].flatMap((a) => a.files.map((f) => ({ agentId: a.id, name: f.name })));
    const after = await readLive(gw, files);
    const replan = await planGateway({ desired: ctx.desired, live: after, lastApplied: await state, secretHash: ctx.secretHash });
    const health = await gw.health();
    if (replan.changes.length > 0 || !health.ok) {
      const what = replan.changes.length ? `${replan.changes.length} field(s) differ after writing, e.g. ${replan.changes[0]!.path} on ${replan.changes[0]!.agentId}` : 'the gateway reports it is not healthy';
      return rollback(plan, gw, ctx, { pre, preApplyId, writes, reason: `verification failed: ${what}`, outcomeUnknown: false, ours });
    }
    verified = after;
  } catch (e) {
    return rollback(plan, gw, ctx, { pre, preApplyId, writes, reason: `verification failed: ${explainGatewayError(e, plan.gateway).message}`, outcomeUnknown: false, ours });
  }
  const journalAt = await latestJournalAt(gw);
  await ctx.store.saveLastApplied(withHeld({ ...(await state), ...(journalAt !== undefined ? { journalAt } : {}) }, ctx));
  await ctx.store.saveLiveSnapshot(plan.gateway, toSnapshot(verified, ctx.now()));
  return result('applied', `${plan.changes.length} change(s) in ${writes} write(s), verified`, writes, preApplyId);
}

/**
 * The newest entry of the gateway's config journal, by the gateway's clock, right after our own
 * writes: drift detection reads the journal from here on, so our writes are never taken for
 * someone else's. Best effort: an older gateway without the journal just has no mark.
 */
async function latestJournalAt(gw: OpenClawGateway): Promise<number | undefined> {
  try {
    return (await gw.changesList({ limit: 1 })).entries[0]?.at;
  } catch {
    return undefined;
  }
}

function describeStale(e: StaleHashError): string {
  return e.document === 'config' ? 'the config changed' : e.document === 'exec-approvals' ? 'the exec approvals changed' : 'a workspace file changed';
}

/** The plan's content files must still be what was planned: a reviewed plan applies exactly. */
async function checkRepoFiles(plan: GatewayPlan, root: string): Promise<void> {
  for (const f of plan.operations.files) {
    const bytes = await readFile(join(root, f.contentFile)).catch(() => undefined);
    if (!bytes || createHash('sha256').update(bytes).digest('hex') !== f.sha256) {
      throw new Refused(`${plan.gateway}: ${f.contentFile} changed since the plan was made; re-run \`clawops plan\``);
    }
  }
}

/** Reads live, refuses if anything moved since the plan, and returns what to restore on failure. */
async function snapshotIfUnmoved(plan: GatewayPlan, planned: LiveHashes, gw: OpenClawGateway, ctx: ApplyContext): Promise<PreApplySnapshot> {
  const [config, exec, cron] = await Promise.all([gw.configGet(), gw.execApprovalsGet(), gw.cronList()]);
  const moved: string[] = [];
  if (config.hash !== planned.config) moved.push('config');
  if (exec.hash !== planned.execApprovals) moved.push('exec approvals');
  if (cronDigest(cron) !== planned.cron) moved.push('cron jobs');
  const files: Record<string, string | null> = {};
  for (const key of new Set([...Object.keys(planned.files), ...plan.operations.files.map((f) => fileKey(f.agentId, f.name))])) {
    const [agentId, name] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
    const agentExists = agentId in agentEntries(config);
    const f = agentExists ? await gw.agentFileGet(agentId, name).catch(() => undefined) : undefined;
    const hash = f && !f.missing ? (f.hash ?? '') : '';
    files[key] = f && !f.missing ? (f.content ?? '') : null;
    if (key in planned.files && hash !== planned.files[key]) moved.push(`workspace file ${key}`);
  }
  if (moved.length) throw new Refused(`${plan.gateway}: live changed since the plan (${moved.join(', ')})${await whoChanged(gw)}; nothing was written. Re-run \`clawops plan\`.`);
  const entries = agentEntries(config);
  return {
    target: plan.gateway,
    takenAt: ctx.now().toISOString(),
    config: { raw: config.raw ?? JSON.stringify(config.sourceConfig), hash: config.hash, agentIds: Object.keys(entries) },
    execApprovals: { file: exec.file as JsonObject, hash: exec.hash },
    cron: cron.filter((j) => j.declarationKey?.startsWith(CRON_KEY_PREFIX)) as JsonObject[],
    files,
  };
}

/** The gateway's journal names who changed the config last (DESIGN §3). */
async function whoChanged(gw: OpenClawGateway): Promise<string> {
  try {
    const { entries } = await gw.changesList({ limit: 1 });
    const e = entries[0];
    return e ? `: last change ${new Date(e.at).toISOString()} by ${e.source} (${e.summary})` : '';
  } catch {
    return ''; // the journal needs admin; without it the refusal still stands
  }
}

async function withRateLimit<T>(ctx: ApplyContext, write: () => Promise<T>): Promise<T> {
  const sleep = ctx.sleep ?? wait;
  for (let attempt = 0; ; attempt++) {
    try {
      return await write();
    } catch (e) {
      // Told to wait: wait once (the limit is 30 writes per minute per device), then give up.
      if (!(e instanceof RateLimitedError) || attempt > 0 || (e.retryAfterMs ?? 60_000) > (ctx.maxRateLimitWaitMs ?? 65_000)) throw e;
      await sleep((e.retryAfterMs ?? 60_000) + 250);
    }
  }
}

async function resolveSecrets(value: unknown, ctx: ApplyContext): Promise<unknown> {
  const names = new Set<string>();
  mapSecretRefs(value, (name) => names.add(name));
  const values = new Map<string, string>();
  for (const n of names) values.set(n, await ctx.secretValue(n));
  return mapSecretRefs(value, (name) => values.get(name));
}

async function nextLastApplied(ctx: ApplyContext, target: string, pre: PreApplySnapshot): Promise<LastApplied> {
  const agents: Record<string, ManagedAgent> = {};
  for (const a of ctx.desired.agents.values()) {
    const secretHashes: Record<string, string> = {};
    const walk = (v: unknown, path: string[]) =>
      mapSecretRefs(v, (name, p) => {
        secretHashes[[...path, ...p].join('.')] = name;
      });
    walk(a.config, []);
    for (const [path, name] of Object.entries(secretHashes)) secretHashes[path] = await ctx.secretHash(name);
    agents[a.id] = {
      config: a.config,
      bindings: a.bindings,
      cron: a.cron.map((c) => c.declarationKey),
      files: Object.fromEntries(a.files.map((f) => [f.name, f.sha256])),
      ...(a.exec ? { exec: a.exec.policy } : {}),
      secretHashes,
      created: ctx.lastApplied?.agents[a.id]?.created ?? !pre.config.agentIds.includes(a.id),
      ...(ctx.desiredCommit ? { commit: ctx.desiredCommit } : {}),
      cronJobs: Object.fromEntries(a.cron.map((c) => [c.declarationKey, c.job])),
    };
  }
  return { target, appliedAt: ctx.now().toISOString(), agents, ...(ctx.lastApplied?.journalAt !== undefined ? { journalAt: ctx.lastApplied.journalAt } : {}) };
}

/** After a fully verified no-op, make sure the state reflects what clawops now owns. */
async function recordApplied(ctx: ApplyContext, target: string): Promise<void> {
  const current = ctx.lastApplied;
  const pre: PreApplySnapshot = { target, takenAt: '', config: { raw: '', hash: '', agentIds: [...ctx.desired.agents.keys()] }, execApprovals: { file: {}, hash: '' }, cron: [], files: {} };
  const next = await nextLastApplied(ctx, target, pre);
  const same = current && JSON.stringify({ ...current, appliedAt: '' }) === JSON.stringify({ ...next, appliedAt: '' });
  if (!same) await ctx.store.saveLastApplied(withHeld(next, ctx));
}

interface RollbackInput {
  readonly pre: PreApplySnapshot;
  readonly preApplyId: string;
  readonly writes: number;
  readonly reason: string;
  /** A write's answer was lost: it may or may not have landed. */
  readonly outcomeUnknown: boolean;
  readonly ours: Ours;
}

/** Hashes of what clawops' own writes left; after a lost answer the last one is unknown. */
interface Ours {
  config: string;
  exec: string;
  readonly files: Map<string, string>;
}

/**
 * Puts the pre-apply snapshot back. Every restore write is itself hash-guarded with what live is
 * now, and skipped where live already equals the snapshot, so a rollback after a write that never
 * landed writes nothing. A config someone else changed after our write is left alone: restoring
 * it would overwrite their edit.
 */
async function rollback(plan: GatewayPlan, gw: OpenClawGateway, ctx: ApplyContext, input: RollbackInput): Promise<GatewayApplyResult> {
  const { preApplyId, writes, reason, outcomeUnknown } = input;
  const base = { gateway: plan.gateway, writes, changes: plan.changes.length, preApplyId };
  if (writes === 0 && !outcomeUnknown) return { ...base, status: 'rolled-back', message: `${reason}; nothing had been written` };
  // The gateway that failed the apply may be restarting: keep trying (every step is idempotent) until it is back.
  const deadline = Date.now() + (ctx.rollbackPatienceMs ?? 150_000);
  const sleep = ctx.sleep ?? wait;
  for (;;) {
    const attempt = await restoreOnce(plan, gw, ctx, input);
    if (!('retry' in attempt)) return attempt;
    if (Date.now() >= deadline) {
      return { ...base, status: 'failed', message: `${reason}; rollback failed too (${attempt.retry}). The pre-apply snapshot is ${preApplyId}; the next apply converges` };
    }
    await sleep(1_000);
  }
}

async function restoreOnce(plan: GatewayPlan, gw: OpenClawGateway, ctx: ApplyContext, input: RollbackInput): Promise<GatewayApplyResult | { retry: string }> {
  const { pre, preApplyId, writes, reason, outcomeUnknown, ours } = input;
  const base = { gateway: plan.gateway, writes, changes: plan.changes.length, preApplyId };
  let restored = 0;
  const othersEdited: string[] = [];
  // A document is ours to restore when it is as we left it; after a lost answer we cannot know, and restore.
  const mine = (live: string, ourHash: string | undefined) => outcomeUnknown || ourHash === undefined || live === ourHash;
  try {
    const config = await gw.configGet();
    if (config.hash !== pre.config.hash && !mine(config.hash, ours.config)) othersEdited.push('config');
    else if (config.hash !== pre.config.hash) {
      const entries = agentEntries(config);
      for (const id of Object.keys(entries)) {
        if (!pre.config.agentIds.includes(id)) {
          await withRateLimit(ctx, () => gw.agentsDelete(id, { deleteFiles: true }));
          restored++;
        }
      }
      const now = await gw.configGet();
      if (now.hash !== pre.config.hash) {
        await withRateLimit(ctx, () => gw.configApply({ raw: pre.config.raw, baseHash: now.hash, note: 'clawops rollback' }));
        restored++;
      }
    }
    const exec = await gw.execApprovalsGet();
    if (exec.hash !== pre.execApprovals.hash && !mine(exec.hash, ours.exec)) othersEdited.push('exec approvals');
    else if (exec.hash !== pre.execApprovals.hash) {
      await gw.execApprovalsSet({ file: pre.execApprovals.file as never, baseHash: exec.hash });
      restored++;
    }
    restored += await restoreCron(gw, pre.cron);
    for (const [key, content] of Object.entries(pre.files)) {
      if (content === null) continue; // the RPC cannot delete a file; a new one stays (it is harmless text)
      const [agentId, name] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
      const now = await gw.agentFileGet(agentId, name).catch(() => undefined);
      if (now && !now.missing && now.content === content) continue;
      if (now?.hash && !mine(now.hash, ours.files.get(key))) {
        othersEdited.push(`workspace file ${key}`);
        continue;
      }
      await gw.agentFileSet({ agentId, name, content, ...(now?.hash ? { expectedHash: now.hash } : {}) });
      restored++;
    }
    if (othersEdited.length) {
      return {
        ...base,
        status: 'failed',
        message: `${reason}; someone else changed ${othersEdited.join(', ')} after clawops wrote it${await whoChanged(gw)}, so that was not rolled back (it would overwrite their edit). The pre-apply snapshot is ${preApplyId}`,
      };
    }
    const after = await gw.configGet();
    const exact = after.hash === pre.config.hash;
    return {
      ...base,
      status: 'rolled-back',
      message: `${reason}; ${restored ? `restored the pre-apply snapshot ${preApplyId} in ${restored} write(s)` : 'nothing had landed, live is as before'}${exact ? '' : ' (config content restored; its hash differs)'}`,
    };
  } catch (e) {
    const why = e instanceof GatewayError || e instanceof GatewayTransportError ? explainGatewayError(e, plan.gateway).message : (e as Error).message;
    if (e instanceof GatewayTransportError || (e instanceof GatewayError && e.retryable && !(e instanceof RateLimitedError))) return { retry: why };
    return { ...base, status: 'failed', message: `${reason}; rollback failed too (${why}). The pre-apply snapshot is ${preApplyId}; the next apply converges` };
  }
}

const CRON_ADD_FIELDS = ['name', 'declarationKey', 'displayName', 'owner', 'agentId', 'sessionKey', 'description', 'enabled', 'deleteAfterRun', 'schedule', 'pacing', 'trigger', 'sessionTarget', 'wakeMode', 'payload', 'delivery', 'failureAlert'];

async function restoreCron(gw: OpenClawGateway, preJobs: readonly JsonObject[]): Promise<number> {
  let n = 0;
  const now = (await gw.cronList()).filter((j) => j.declarationKey?.startsWith(CRON_KEY_PREFIX));
  const before = new Map(preJobs.map((j) => [String(j.declarationKey), j]));
  for (const j of now) {
    if (!before.has(j.declarationKey!)) {
      await gw.cronRemove(j.id);
      n++;
    }
  }
  for (const [key, job] of before) {
    const live = now.find((j: CronJob) => j.declarationKey === key);
    if (live && live.updatedAtMs === job.updatedAtMs) continue;
    const params = Object.fromEntries(CRON_ADD_FIELDS.filter((f) => job[f] !== undefined).map((f) => [f, job[f]]));
    await gw.cronAdd(params as JsonObject & { declarationKey: string });
    n++;
  }
  return n;
}

