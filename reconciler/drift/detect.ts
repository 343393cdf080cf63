/**
 * Drift (DESIGN §3): live differs from last-applied on a field clawops owns, i.e. someone changed
 * it outside git. This compares one gateway's live state with what clawops last wrote there,
 * through the planner's own projections (agent-docs.ts), so a field the planner would not touch
 * is never drift: fields clawops never set, routes it does not own, the gateway's bookkeeping.
 *
 * Pure: the caller reads live state (read-live.ts, with `driftFileRefs` for the files) and the
 * last-applied state; nothing here does I/O. Secrets are compared as keyed hashes and no secret
 * value ever enters the report.
 */
import { createHmac } from 'node:crypto';
import { agentEntries, type ChangeJournalEntry, type JsonObject } from '../../fleet/openclaw/gateway-api.ts';
import type { DesiredAgent, DesiredGateway } from '../desired/effective-state.ts';
import { CRON_KEY_PREFIX } from '../desired/effective-state.ts';
import { REDACTED_SENTINEL } from '../import/redacted-values.ts';
import { bindingKey, projectExec, projectJob, secretMarker } from '../plan/agent-docs.ts';
import type { Section } from '../plan/classify.ts';
import { deepEqual, getPath, ignoreMatcher, isObject, isSecretRef, leafPaths, mapSecretRefs, pathKey } from '../plan/json-paths.ts';
import { fileKey, type LiveGateway } from '../plan/read-live.ts';
import { formatResourcePath, keyedSegment } from '../plan/resource-path.ts';
import type { LastApplied, ManagedAgent } from '../state/state-store.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** One field that differs from what clawops last applied. */
export interface DriftItem {
  readonly agentId: string;
  /** The git resource that owns the field (`Agent/<name>`, `ApprovalRule/<name>` for exec), when known. */
  readonly resource?: string;
  readonly section: Section;
  /** In the planner's notation: `spec.config.model.primary`, `spec.files[SOUL.md]`, `spec.cron[nightly].schedule`. */
  readonly path: string;
  /** What clawops last applied (absent: it set nothing here). A secret shows as its keyed hash. */
  readonly lastApplied?: JsonValue;
  /** What live holds now (absent: removed live). A secret shows as its keyed hash, or `(redacted)`. */
  readonly live?: JsonValue;
  readonly secret?: true;
}

export interface DriftReport {
  readonly target: string;
  /** Sorted by agent, then path. */
  readonly items: readonly DriftItem[];
  /**
   * The live content of each drifted managed file (`agentId/NAME`), for adopting it into git.
   * Never printed by the renderers.
   */
  readonly liveFiles: Readonly<Record<string, string>>;
}

export interface DetectDriftInput {
  readonly target: string;
  readonly live: LiveGateway;
  readonly lastApplied: LastApplied | undefined;
  /**
   * The desired state now, when known. It names the resources that own each field, brings the
   * `ignore` rules, and stands in for the cron jobs last-applied does not record (see cronBasis).
   * An agent that left git is not checked: it is leaving clawops' management.
   */
  readonly desired?: DesiredGateway;
  /** Keyed hash of a secret value, the same the state records (`secretValueHasher`). */
  readonly secretHash: (value: string) => string;
  /**
   * The gateway's config journal since the last apply, newest first. A secret the gateway redacts
   * cannot be compared by value; a journal entry that changed its path is how its drift shows.
   */
  readonly journal?: readonly ChangeJournalEntry[];
}

/** What live shows for a secret the gateway redacts. */
export const REDACTED = '(redacted)';

/** The managed files readLive must fetch for drift: every file last-applied records. */
export function driftFileRefs(lastApplied: LastApplied | undefined): Array<{ agentId: string; name: string }> {
  return Object.entries(lastApplied?.agents ?? {}).flatMap(([agentId, a]) => Object.keys(a.files).map((name) => ({ agentId, name })));
}

/**
 * The keyed hash of a secret value under the state's key (`StateStore.secretHashKey()`): the same
 * HMAC make-plan.ts's `secretHasher` gives the values it reads from secrets/, so equal values
 * compare equal.
 */
export function secretValueHasher(key: Buffer): (value: string) => string {
  return (value) => createHmac('sha256', key).update(value).digest('hex').slice(0, 16);
}

/** A stable identity for an item within its target: what render and whoChanged key by. */
export const driftItemKey = (item: Pick<DriftItem, 'agentId' | 'path'>): string => `${item.agentId} ${item.path}`;

export function detectDrift(input: DetectDriftInput): DriftReport {
  const { live, lastApplied, desired } = input;
  const entries = agentEntries(live.config);
  const routes = new Map<unknown, JsonObject[]>();
  for (const b of ((live.config.sourceConfig.bindings as unknown[] | undefined) ?? []).filter(isObject)) {
    const list = routes.get(b.agentId);
    if (list) list.push(b);
    else routes.set(b.agentId, [b]);
  }
  const items: DriftItem[] = [];
  const liveFiles: Record<string, string> = {};
  for (const [id, last] of Object.entries(lastApplied?.agents ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    const d = desired?.agents.get(id);
    if (desired && !d) continue;
    const agentResource = d ? `Agent/${d.resource.name}` : undefined;
    const push = (section: Section, path: string, lastValue: unknown, liveValue: unknown, extra: { resource?: string; secret?: true } = {}) => {
      const resource = extra.resource ?? agentResource;
      items.push({
        agentId: id,
        ...(resource ? { resource } : {}),
        section,
        path,
        ...(lastValue !== undefined ? { lastApplied: lastValue as JsonValue } : {}),
        ...(liveValue !== undefined ? { live: liveValue as JsonValue } : {}),
        ...(extra.secret ? { secret: true as const } : {}),
      });
    };

    const entry = entries[id];
    if (!entry) {
      // Deleted live: one item for the agent, not one per field it took with it.
      push('agent', 'spec', { config: structuredClone(last.config) as JsonValue }, undefined);
      continue;
    }
    const ignored = ignoreMatcher((d?.ignore ?? []).map((r) => r.path));
    configDrift(id, last, entry, ignored, input, push);
    bindingDrift(last, routes.get(id) ?? [], push);
    cronDrift(id, last, d, live, push);
    for (const [name, hash] of Object.entries(last.files)) {
      const key = fileKey(id, name);
      if (!live.files.has(key)) continue; // not read: unknown, not gone
      const f = live.files.get(key);
      if (f?.hash === hash) continue;
      push('files', formatResourcePath(['spec', 'files', name]), shortHash(hash), f ? shortHash(f.hash) : undefined);
      if (f) liveFiles[key] = f.content;
    }
    execDrift(last, live.execApprovals.file.agents?.[id], d, push);
  }
  items.sort((a, b) => a.agentId.localeCompare(b.agentId) || a.path.localeCompare(b.path));
  return { target: input.target, items, liveFiles };
}

type Push = (section: Section, path: string, lastValue: unknown, liveValue: unknown, extra?: { resource?: string; secret?: true }) => void;

const shortHash = (hex: string): string => `sha256:${hex.slice(0, 12)}`;

function configDrift(id: string, last: ManagedAgent, entry: JsonObject, ignored: (p: readonly string[]) => boolean, input: DetectDriftInput, push: Push): void {
  const journalPaths = (input.journal ?? []).flatMap((e) => e.changedPaths);
  const lastMarker = (at: readonly string[]) => secretMarker(last.secretHashes[pathKey(at)] ?? 'unknown');
  // The value is hidden; only the journal can say someone wrote this path since the last apply.
  const rewritten = (at: readonly string[]) => {
    const configPath = ['agents', 'entries', id, ...at].join('.');
    return journalPaths.some((p) => p === configPath || p.startsWith(`${configPath}.`));
  };
  /** Live with every value that stands where a secret was applied replaced by its keyed hash. */
  const maskLive = (was: unknown, now: unknown, at: readonly string[]): unknown => {
    if (isSecretRef(was)) {
      if (now === undefined) return undefined;
      if (now === REDACTED_SENTINEL) return rewritten(at) ? REDACTED : lastMarker(at);
      return secretMarker(input.secretHash(typeof now === 'string' ? now : JSON.stringify(now)));
    }
    if (Array.isArray(was) && Array.isArray(now)) return now.map((x: unknown, i) => maskLive(was[i], x, [...at, String(i)]));
    if (isObject(was) && isObject(now)) return Object.fromEntries(Object.entries(now).map(([k, x]) => [k, maskLive(was[k], x, [...at, k])]));
    return now;
  };

  for (const leaf of leafPaths(last.config)) {
    if (ignored(['spec', 'config', ...leaf])) continue;
    const path = formatResourcePath(['spec', 'config', ...leaf]);
    const was = getPath(last.config, leaf);
    const now = getPath(entry, leaf);
    if (hasSecretRef(was)) {
      const wasShown = mapSecretRefs(was, (_, p) => lastMarker([...leaf, ...p]));
      const nowShown = maskLive(was, now, leaf);
      if (deepEqual(wasShown, nowShown)) continue;
      // A secret inside a larger value: live is shown only as a hash, so a secret that moved within it cannot leak.
      const liveShown = isSecretRef(was) || nowShown === undefined ? nowShown : secretMarker(input.secretHash(JSON.stringify(now)));
      push('config', path, wasShown, liveShown, { secret: true });
      continue;
    }
    // `{}` claims the object, not what others put in it.
    if (isObject(was) && Object.keys(was).length === 0 ? isObject(now) : deepEqual(was, now)) continue;
    push('config', path, was, now);
  }
}

function hasSecretRef(value: unknown): boolean {
  let found = false;
  mapSecretRefs(value, () => (found = true));
  return found;
}

function bindingDrift(last: ManagedAgent, liveRoutes: readonly JsonObject[], push: Push): void {
  for (const was of last.bindings) {
    const key = bindingKey(was);
    const now = liveRoutes.find((b) => bindingKey(b) === key);
    if (!deepEqual(was, now)) push('bindings', `spec.bindings${keyedSegment(key)}`, was, now);
  }
}

/**
 * The cron job as clawops last applied it. Last-applied records only the jobs' keys, so the
 * desired job stands in for the applied one: exact while git has not changed the job since the
 * last apply (an unapplied change to a job would show here as drift). A state that records the
 * applied jobs (`cronJobs`, declarationKey → job) is used instead.
 */
function cronBasis(last: ManagedAgent, d: DesiredAgent | undefined, key: string): JsonObject | undefined {
  if ('cronJobs' in last && isObject(last.cronJobs) && isObject(last.cronJobs[key])) return last.cronJobs[key];
  return d?.cron.find((c) => c.declarationKey === key)?.job;
}

const CRON_IDENTITY = new Set(['declarationKey', 'agentId', 'name']);

function cronDrift(id: string, last: ManagedAgent, d: DesiredAgent | undefined, live: LiveGateway, push: Push): void {
  for (const key of last.cron) {
    const name = key.slice(`${CRON_KEY_PREFIX}${id}:`.length);
    const path = `spec.cron${keyedSegment(name)}`;
    const job = live.cron.find((j) => j.declarationKey === key);
    const basis = cronBasis(last, d, key);
    const shown = basis ? Object.fromEntries(Object.entries(basis).filter(([k]) => !CRON_IDENTITY.has(k) || k === 'name')) : { name };
    if (!job) {
      push('cron', path, shown, undefined);
      continue;
    }
    if (!basis) continue;
    const now = projectJob(job, basis);
    for (const field of Object.keys(basis).sort()) {
      if (CRON_IDENTITY.has(field) || deepEqual(basis[field], now[field])) continue;
      push('cron', `${path}.${formatResourcePath([field])}`, basis[field], now[field]);
    }
  }
}

function execDrift(last: ManagedAgent, liveEntry: JsonObject | undefined, d: DesiredAgent | undefined, push: Push): void {
  if (!last.exec) return;
  const resource = d?.exec ? { resource: `ApprovalRule/${d.exec.rule.name}` } : {};
  if (!liveEntry) {
    push('exec', 'spec.exec', last.exec, undefined, resource);
    return;
  }
  const now = projectExec(liveEntry, last.exec, last.exec);
  for (const field of Object.keys(last.exec).sort()) {
    if (field === 'allowlist') continue;
    if (!deepEqual(last.exec[field], now[field])) push('exec', formatResourcePath(['spec', 'exec', field]), last.exec[field], now[field], resource);
  }
  if (last.exec.allowlist === undefined) return;
  // The allowlist is owned whole: an entry added live is drift too.
  const entries = (v: unknown) => (Array.isArray(v) ? v.filter(isObject) : []);
  const was = entries(last.exec.allowlist);
  const is = entries(now.allowlist);
  for (const pattern of [...new Set([...was, ...is].map((e) => String(e.pattern)))].sort()) {
    const a = was.find((e) => e.pattern === pattern);
    const b = is.find((e) => e.pattern === pattern);
    if (!deepEqual(a, b)) push('exec', `spec.exec.allowlist${keyedSegment(pattern)}`, a, b, resource);
  }
}
