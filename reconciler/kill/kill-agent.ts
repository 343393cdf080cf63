/**
 * The kill switch on one gateway (DESIGN §8): an agent has no enabled flag, so `killAgent` takes
 * away its tools, its routes and its heartbeat in ONE guarded `config.patch`, then disables its
 * scheduled runs (`cron.update`, not rate-limited with config writes). The exact prior entry, its
 * routes with their positions and its cron jobs' enabled flags are saved (committed) in the state
 * store BEFORE the write; `recoverAgent` puts them back and checks byte for byte (stable JSON).
 *
 * A stale hash means someone wrote between the read and the write: re-read and retry once on the
 * new state, never write over it. The caller owns the session and records the audit event.
 */
import { GatewayError, StaleHashError } from '../../fleet/openclaw/errors.ts';
import { agentEntries, type ConfigSnapshot, type CronJob, type JsonObject, type OpenClawGateway } from '../../fleet/openclaw/gateway-api.ts';
import { isObject } from '../plan/json-paths.ts';
import { stableJson } from '../state/git-branch-store.ts';
import type { KillRecord, StateStore } from '../state/state-store.ts';
import { bindingsOf, killWrite, recoverWrite, type ConfigWrite, type PositionedBinding } from './kill-patch.ts';

export interface KillSwitchContext {
  readonly session: OpenClawGateway;
  readonly store: Pick<StateStore, 'killRecord' | 'saveKillRecord' | 'deleteKillRecord'>;
  /** The gateway's name (the state store's target). */
  readonly target: string;
  readonly agentId: string;
  readonly now: () => Date;
}

export interface KillRequest {
  /** `Agent/<name>` when git declares the agent. */
  readonly resource?: string;
  readonly reason: string;
  readonly by: string;
}

export type KillOutcome =
  | {
      readonly status: 'killed';
      readonly record: KillRecord;
      readonly hashBefore: string;
      readonly hashAfter: string;
      /** Config writes made: always 1. */
      readonly writes: number;
      /** The write was refused once for a stale hash and made again on the re-read state. */
      readonly retried: boolean;
      /** Cron jobs disabled (ids), and those the gateway refused to disable. */
      readonly cronDisabled: readonly string[];
      readonly cronErrors: readonly string[];
      /** Enabled system monitor jobs the gateway keeps to itself (names): they run with the agent's tools, now none. */
      readonly cronSystem: readonly string[];
    }
  | { readonly status: 'already-killed'; readonly record: KillRecord }
  | { readonly status: 'not-found'; readonly message: string };

export type RecoverOutcome =
  | {
      readonly status: 'recovered';
      readonly record: KillRecord;
      readonly hashBefore: string;
      readonly hashAfter: string;
      readonly writes: number;
      readonly retried: boolean;
      readonly cronEnabled: readonly string[];
      readonly cronErrors: readonly string[];
      /** What the re-read found different from the record (empty: byte for byte as before the kill). */
      readonly mismatches: readonly string[];
    }
  | { readonly status: 'not-killed'; readonly message: string };

/** The write could not be made without overwriting someone else's change. */
export class KillSwitchConflictError extends Error {}

const bindingsIn = (c: ConfigSnapshot): unknown[] => (Array.isArray(c.sourceConfig.bindings) ? (c.sourceConfig.bindings as unknown[]) : []);

/** Reads, builds the write from what was read, writes it guarded; on a stale hash once more on a fresh read. */
async function guardedWrite<R>(
  session: OpenClawGateway,
  note: string,
  prepare: (config: ConfigSnapshot) => Promise<{ write: ConfigWrite; result: R } | { stop: R }>,
): Promise<{ result: R; hashBefore: string; hashAfter: string; retried: boolean } | { stop: R }> {
  for (let attempt = 0; ; attempt++) {
    const config = await session.configGet();
    const prepared = await prepare(config);
    if ('stop' in prepared) return prepared;
    try {
      const written = await session.configPatch({ patch: prepared.write.patch, baseHash: config.hash, replacePaths: prepared.write.replacePaths, note });
      return { result: prepared.result, hashBefore: config.hash, hashAfter: written.hash, retried: attempt > 0 };
    } catch (e) {
      if (!(e instanceof StaleHashError)) throw e;
      if (attempt >= 1) throw new KillSwitchConflictError(`the gateway's config changed twice while clawops was writing (someone else is writing too); nothing of clawops' was written. Try again`);
    }
  }
}

const cronOf = (jobs: readonly CronJob[], agentId: string) => jobs.filter((j) => j.agentId === agentId);

/**
 * The gateway's own per-agent monitor jobs (`heartbeat:<id>`, `skill-collection-review:<id>`):
 * `cron.update` refuses them ("system-owned monitor jobs cannot be edited by cron clients"). The
 * heartbeat job follows the agent's `heartbeat` config, which the kill turns off; the skill review
 * follows gateway-wide `skills.workshop`, and runs with the agent's tools, which the kill denies.
 */
export const isSystemMonitor = (job: { readonly declarationKey?: string | undefined }): boolean => /^(heartbeat|skill-collection-review):/.test(job.declarationKey ?? '');

export async function killAgent(ctx: KillSwitchContext, req: KillRequest): Promise<KillOutcome> {
  const { session, store, target, agentId } = ctx;
  const existing = await store.killRecord(target, agentId);
  if (existing) return { status: 'already-killed', record: existing };
  let saved: KillRecord | undefined;
  let outcome;
  try {
    outcome = await guardedWrite<KillRecord | string>(session, `clawops kill ${agentId}: ${req.reason}`, async (config) => {
      const entry = agentEntries(config)[agentId];
      if (!entry) return { stop: `${target} has no agent ${agentId} (agents.entries.${agentId})` };
      const record: KillRecord = {
        target,
        agentId,
        ...(req.resource ? { resource: req.resource } : {}),
        reason: req.reason,
        by: req.by,
        killedAt: ctx.now().toISOString(),
        configHashBefore: config.hash,
        prior: {
          entry: structuredClone(entry),
          bindings: bindingsOf(bindingsIn(config), agentId),
          cron: cronOf(await session.cronList(), agentId).map((j) => ({ id: j.id, name: j.name, ...(j.declarationKey ? { declarationKey: j.declarationKey } : {}), enabled: j.enabled })),
        },
      };
      // Committed before the write: if clawops dies after it, recover still knows what to put back.
      await store.saveKillRecord(record);
      saved = record;
      return { write: killWrite(agentId, entry, bindingsIn(config)), result: record };
    });
  } catch (e) {
    // The gateway answered no (nothing written): the record must not make plan leave a live agent
    // alone. A write whose answer was lost (transport error) may have landed: the record stays.
    if (saved && (e instanceof KillSwitchConflictError || e instanceof GatewayError)) {
      await store.deleteKillRecord(target, agentId);
    }
    throw e;
  }
  if ('stop' in outcome) return { status: 'not-found', message: outcome.stop as string };
  const record = outcome.result as KillRecord;
  const cronDisabled: string[] = [];
  const cronErrors: string[] = [];
  const cronSystem: string[] = [];
  // After the config write: the heartbeat job follows the config, the others need their own call.
  for (const job of cronOf(await session.cronList(), agentId).filter((j) => j.enabled)) {
    if (isSystemMonitor(job)) {
      cronSystem.push(job.name);
      continue;
    }
    try {
      await session.cronUpdate(job.id, { enabled: false });
      cronDisabled.push(job.id);
    } catch (e) {
      cronErrors.push(`${job.name}: ${(e as Error).message}`);
    }
  }
  return { status: 'killed', record, hashBefore: outcome.hashBefore, hashAfter: outcome.hashAfter, writes: 1, retried: outcome.retried, cronDisabled, cronErrors, cronSystem };
}

export async function recoverAgent(ctx: KillSwitchContext): Promise<RecoverOutcome> {
  const { session, store, target, agentId } = ctx;
  const record = await store.killRecord(target, agentId);
  if (!record) return { status: 'not-killed', message: `${agentId} is not killed on ${target} (no kill record in the state store)` };
  const outcome = await guardedWrite<null>(session, `clawops recover ${agentId}`, async (config) => ({
    write: recoverWrite(agentId, agentEntries(config)[agentId], record.prior.entry, bindingsIn(config), record.prior.bindings),
    result: null,
  }));
  if ('stop' in outcome) throw new Error('unreachable: recover always writes');
  const jobs = await session.cronList();
  const cronEnabled: string[] = [];
  const cronErrors: string[] = [];
  for (const was of record.prior.cron.filter((j) => j.enabled && !isSystemMonitor(j))) {
    const job = jobs.find((j) => j.id === was.id) ?? (was.declarationKey ? jobs.find((j) => j.declarationKey === was.declarationKey) : undefined);
    if (!job) {
      cronErrors.push(`${was.name}: the job is gone from ${target}`);
      continue;
    }
    if (job.enabled) continue;
    try {
      await session.cronUpdate(job.id, { enabled: true });
      cronEnabled.push(job.id);
    } catch (e) {
      cronErrors.push(`${was.name}: ${(e as Error).message}`);
    }
  }
  const mismatches = compareRestored(await session.configGet(), record);
  await store.deleteKillRecord(target, agentId);
  return { status: 'recovered', record, hashBefore: outcome.hashBefore, hashAfter: outcome.hashAfter, writes: 1, retried: outcome.retried, cronEnabled, cronErrors, mismatches };
}

/** Where live differs from the record after recover: the entry (stable JSON) and each route at its position. */
export function compareRestored(config: ConfigSnapshot, record: KillRecord): string[] {
  const out: string[] = [];
  const entry = agentEntries(config)[record.agentId];
  if (!entry) out.push(`agents.entries.${record.agentId} is missing`);
  else if (stableJson(entry) !== stableJson(record.prior.entry)) out.push(`agents.entries.${record.agentId} differs from the recorded entry`);
  const now = bindingsOf(bindingsIn(config), record.agentId);
  const same = (a: readonly PositionedBinding[], b: readonly PositionedBinding[]) => a.length === b.length && a.every((x, i) => x.index === b[i]!.index && stableJson(x.binding) === stableJson(b[i]!.binding));
  if (!same(now, record.prior.bindings)) {
    const moved = record.prior.bindings.length === now.length && record.prior.bindings.every((x, i) => stableJson(x.binding) === stableJson(now[i]!.binding));
    out.push(moved ? `bindings of ${record.agentId} are back but at other positions (someone changed bindings meanwhile)` : `bindings of ${record.agentId} differ from the recorded ones`);
  }
  return out;
}

/** What a kill takes away, for the audit event and the report (no config values: the entry may hold secrets). */
export function killSummary(record: KillRecord): JsonObject {
  return {
    tools: isObject(record.prior.entry.tools) ? Object.keys(record.prior.entry.tools).sort() : [],
    heartbeat: isObject(record.prior.entry.heartbeat) ? record.prior.entry.heartbeat.every ?? 'set' : 'default',
    bindings: record.prior.bindings.length,
    cronEnabled: record.prior.cron.filter((j) => j.enabled).map((j) => j.name),
  };
}
