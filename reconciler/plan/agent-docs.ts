/**
 * The two documents the planner diffs for one gateway: desired and live, each projected onto
 * exactly what clawops owns (DESIGN §3, ownership). Fields clawops never set, agents it does not
 * manage, the gateway's own side effects (`meta`, roster side-keys, server-added ids) never enter
 * either side, so they can never show as changes. Secrets enter both sides as keyed hashes.
 */
import { createHash } from 'node:crypto';
import { agentEntries, type CronJob, type JsonObject } from '../../fleet/openclaw/gateway-api.ts';
import type { DesiredAgent, DesiredGateway } from '../desired/effective-state.ts';
import { CRON_KEY_PREFIX } from '../desired/effective-state.ts';
import type { LastApplied, ManagedAgent } from '../state/state-store.ts';
import { fileKey, type LiveGateway } from './read-live.ts';
import { getPath, ignoreMatcher, isObject, isSecretRef, leafPaths, mapSecretRefs, pathKey, setPath } from './json-paths.ts';

export interface AgentDoc {
  readonly id: string;
  config: JsonObject;
  bindings: JsonObject[];
  cron: JsonObject[];
  files: Array<{ name: string; sha256: string }>;
  exec?: JsonObject;
}

export interface ManagedAgentView {
  readonly id: string;
  readonly desired?: DesiredAgent;
  readonly last?: ManagedAgent;
  /** `agents.entries.<id>` on the gateway, if it exists. */
  readonly liveEntry?: JsonObject;
  /** Config leaves clawops owns here (desired ∪ last-applied, minus ignored). */
  readonly configLeaves: string[][];
  /** Dotted config path → keyed hash of the desired secret value. */
  readonly secretHashes: Record<string, string>;
}

export interface GatewayDocs {
  readonly desired: { agents: AgentDoc[] };
  readonly live: { agents: AgentDoc[] };
  readonly views: ReadonlyMap<string, ManagedAgentView>;
}

/** Keys json-diff-ts matches list entries by (DESIGN §3: keyed where the gateway keys). */
export const EMBEDDED_KEYS = {
  agents: 'id',
  'agents.bindings': 'key',
  'agents.cron': 'declarationKey',
  'agents.files': 'name',
  'agents.exec.allowlist': 'pattern',
} as const;

/** A readable, stable identity for a route: what it matches (the gateway has no route ids). */
export function bindingKey(b: JsonObject): string {
  const m = isObject(b.match) ? b.match : {};
  const parts = [String(m.channel ?? '?')];
  if (m.accountId !== undefined) parts.push(`account:${String(m.accountId)}`);
  if (m.guildId !== undefined) parts.push(`guild:${String(m.guildId)}`);
  if (m.teamId !== undefined) parts.push(`team:${String(m.teamId)}`);
  if (isObject(m.peer)) parts.push(`peer:${String(m.peer.kind)}:${String(m.peer.id)}`);
  if (Array.isArray(m.roles)) parts.push(`roles:${m.roles.map(String).sort().join(',')}`);
  if (b.type === 'acp') parts.push('acp');
  return parts.join('/');
}

export const secretMarker = (hash: string): string => `hmac:${hash}`;
const UNKNOWN_SECRET = secretMarker('unknown');

export async function buildDocs(
  desired: DesiredGateway,
  live: LiveGateway,
  last: LastApplied | undefined,
  secretHash: (name: string) => Promise<string>,
): Promise<GatewayDocs> {
  const entries = agentEntries(live.config);
  const liveBindings = ((live.config.sourceConfig.bindings as JsonObject[] | undefined) ?? []).filter(isObject);
  const ids = new Set([...desired.agents.keys(), ...Object.keys(last?.agents ?? {})]);
  const views = new Map<string, ManagedAgentView>();
  const desiredDoc: AgentDoc[] = [];
  const liveDoc: AgentDoc[] = [];

  for (const id of [...ids].sort()) {
    const d = desired.agents.get(id);
    const l = last?.agents[id];
    const liveEntry = entries[id];
    const ignored = ignoreMatcher((d?.ignore ?? []).map((r) => r.path));
    const seen = new Set<string>();
    // A desired scalar, list or secret replaces all that was under it: a last-applied leaf below it
    // (`model.fallbacks` once `model` is a string) is part of that one change, not a deletion of its own.
    const replaced = (p: string[]) => p.slice(0, -1).some((_, i) => {
      const v = getPath(d?.config, p.slice(0, i + 1));
      return v !== undefined && (!isObject(v) || isSecretRef(v));
    });
    const configLeaves = [...leafPaths(d?.config ?? {}), ...leafPaths(l?.config ?? {})].filter((p) => {
      const k = pathKey(p);
      if (seen.has(k) || ignored(['spec', 'config', ...p]) || replaced(p)) return false;
      seen.add(k);
      return true;
    });

    const secretHashes: Record<string, string> = {};
    for (const p of configLeaves) {
      const v = getPath(d?.config, p);
      if (isObject(v) && typeof v.secretRef === 'string') secretHashes[pathKey(p)] = await secretHash(v.secretRef);
    }
    views.set(id, { id, ...(d ? { desired: d } : {}), ...(l ? { last: l } : {}), ...(liveEntry ? { liveEntry } : {}), configLeaves, secretHashes });

    if (d) desiredDoc.push(desiredAgentDoc(d, configLeaves, secretHashes));
    if (liveEntry) liveDoc.push(liveAgentDoc(id, liveEntry, d, l, configLeaves, live, liveBindings));
  }
  return { desired: { agents: desiredDoc }, live: { agents: liveDoc }, views };
}

function desiredAgentDoc(d: DesiredAgent, leaves: string[][], secretHashes: Record<string, string>): AgentDoc {
  const config: JsonObject = {};
  for (const p of leaves) {
    const v = getPath(d.config, p);
    if (v === undefined) continue;
    setPath(config, p, mapSecretRefs(v, () => secretMarker(secretHashes[pathKey(p)] ?? 'unknown')));
  }
  return {
    id: d.id,
    config,
    bindings: d.bindings.map((b) => ({ key: bindingKey(b), ...b })),
    cron: d.cron.map((c) => ({ ...c.job })),
    files: d.files.map((f) => ({ name: f.name, sha256: f.sha256 })),
    ...(d.exec ? { exec: d.exec.policy } : {}),
  };
}

function liveAgentDoc(
  id: string,
  entry: JsonObject,
  d: DesiredAgent | undefined,
  l: ManagedAgent | undefined,
  leaves: string[][],
  live: LiveGateway,
  liveBindings: JsonObject[],
): AgentDoc {
  const config: JsonObject = {};
  for (const p of leaves) {
    const v = getPath(entry, p);
    if (v === undefined) continue;
    const desiredIsSecret = isObject(getPath(d?.config, p)) && typeof (getPath(d?.config, p) as JsonObject).secretRef === 'string';
    const lastWasSecret = l?.secretHashes[pathKey(p)];
    // Live secrets are redacted; what we know of them is the hash of what clawops last wrote.
    // A copy: a deeper leaf (a secret under a desired `{}`) is set inside it and must not reach live.
    setPath(config, p, desiredIsSecret || lastWasSecret ? (lastWasSecret ? secretMarker(lastWasSecret) : UNKNOWN_SECRET) : structuredClone(v));
  }

  const managedRoutes = new Set([...(d?.bindings ?? []), ...(l?.bindings ?? [])].map(bindingKey));
  const bindings = liveBindings.filter((b) => b.agentId === id && managedRoutes.has(bindingKey(b))).map((b) => ({ key: bindingKey(b), ...b }));

  const desiredJobs = new Map((d?.cron ?? []).map((c) => [c.declarationKey, c.job]));
  const cron = live.cron
    .filter((j) => typeof j.declarationKey === 'string' && j.declarationKey.startsWith(`${CRON_KEY_PREFIX}${id}:`))
    .map((j) => projectJob(j, desiredJobs.get(j.declarationKey!)));

  const managedFiles = new Set([...(d?.files ?? []).map((f) => f.name)]);
  const files = [...managedFiles].flatMap((name) => {
    const f = live.files.get(fileKey(id, name));
    return f ? [{ name, sha256: f.hash }] : [];
  });

  const liveExec = (live.execApprovals.file.agents ?? {})[id];
  const execManaged = d?.exec !== undefined || l?.exec !== undefined;
  const exec = execManaged && liveExec ? projectExec(liveExec, d?.exec?.policy, l?.exec) : undefined;
  return { id, config, bindings, cron, files, ...(exec ? { exec } : {}) };
}

/** A live job as far as the desired one speaks: the gateway adds bookkeeping and defaults of its own. */
export function projectJob(job: CronJob, desired: JsonObject | undefined): JsonObject {
  if (!desired) return { declarationKey: job.declarationKey, name: job.name };
  const out: JsonObject = {};
  for (const p of leafPaths(desired)) {
    const v = getPath(job, p);
    if (v !== undefined) setPath(out, p, v);
  }
  return out;
}

/** The live exec entry without server-added ids and usage bookkeeping. */
export function projectExec(entry: JsonObject, desired: JsonObject | undefined, last: JsonObject | undefined): JsonObject {
  const keys = new Set([...Object.keys(desired ?? {}), ...Object.keys(last ?? {})]);
  const out: JsonObject = {};
  for (const k of keys) {
    if (entry[k] === undefined) continue;
    if (k === 'allowlist' && Array.isArray(entry.allowlist)) {
      const wanted = new Map(((desired?.allowlist as JsonObject[] | undefined) ?? []).map((e) => [e.pattern, e]));
      out.allowlist = (entry.allowlist as JsonObject[]).map((e) => {
        const want = wanted.get(e.pattern);
        const fields = want ? Object.keys(want) : ['pattern', 'argPattern'];
        return Object.fromEntries(fields.filter((f) => e[f] !== undefined).map((f) => [f, e[f]]));
      });
    } else out[k] = entry[k];
  }
  return out;
}

/** A stable digest of the managed cron jobs, for "did live move since the plan". */
export function cronDigest(jobs: readonly CronJob[]): string {
  const mine = jobs
    .filter((j) => j.declarationKey?.startsWith(CRON_KEY_PREFIX))
    .map((j) => [j.id, j.declarationKey, j.updatedAtMs ?? null])
    .sort((a, b) => String(a[1]).localeCompare(String(b[1])));
  return createHash('sha256').update(JSON.stringify(mine)).digest('hex');
}
