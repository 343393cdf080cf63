/**
 * The two config writes of the kill switch, as values: the merge patch that takes an agent out of
 * service, and the one that puts back exactly what it was. Both are one `config.patch` each, with
 * the `replacePaths` the gateway demands for every list the write shrinks or replaces.
 *
 * Verified on openclaw 2026.9.6 (test/kill.test.ts): `tools: { deny: ['*'] }` with every other
 * tools key removed leaves `tools.effective` empty (deny globs win over every allow, profile and
 * alsoAllow); `heartbeat: { every: '0m' }` turns the heartbeat off and the gateway disables the
 * agent's `heartbeat:<id>` cron job itself; routes live in the top-level `bindings`.
 */
import type { JsonObject } from '../../fleet/openclaw/gateway-api.ts';
import { arrayPaths, deepEqual, getPath, isObject } from '../plan/json-paths.ts';

export interface ConfigWrite {
  readonly patch: JsonObject;
  readonly replacePaths: readonly string[];
}

export interface PositionedBinding {
  readonly index: number;
  readonly binding: JsonObject;
}

/** The agent's routes with their positions in the top-level `bindings`. */
export function bindingsOf(all: readonly unknown[], agentId: string): PositionedBinding[] {
  return all.flatMap((b, index) => (isObject(b) && b.agentId === agentId ? [{ index, binding: structuredClone(b) }] : []));
}

const entryPath = (agentId: string, ...rest: string[]): string => ['agents', 'entries', agentId, ...rest].join('.');

/** Every tool denied, the heartbeat off, the routes gone. */
export function killWrite(agentId: string, entry: JsonObject, bindings: readonly unknown[]): ConfigWrite {
  const replacePaths = new Set<string>();
  const only = (key: string, keep: JsonObject): JsonObject => {
    const current = isObject(entry[key]) ? entry[key] : {};
    for (const a of arrayPaths(current)) replacePaths.add(entryPath(agentId, key, ...a));
    return { ...Object.fromEntries(Object.keys(current).map((k) => [k, null])), ...keep };
  };
  const patch: JsonObject = { agents: { entries: { [agentId]: { tools: only('tools', { deny: ['*'] }), heartbeat: only('heartbeat', { every: '0m' }) } } } };
  if (bindingsOf(bindings, agentId).length) {
    patch.bindings = bindings.filter((b) => !(isObject(b) && b.agentId === agentId));
    replacePaths.add('bindings');
  }
  return { patch, replacePaths: [...replacePaths].sort() };
}

/** The RFC 7396 merge patch that turns `from` into exactly `to` (lists are replaced whole). */
export function mergePatchTo(from: unknown, to: unknown): unknown {
  if (!isObject(from) || !isObject(to)) return structuredClone(to);
  const out: JsonObject = {};
  for (const k of Object.keys(from)) if (!(k in to)) out[k] = null;
  for (const [k, v] of Object.entries(to)) {
    if (k in from && deepEqual(from[k], v)) continue;
    out[k] = mergePatchTo(from[k], v);
  }
  return out;
}

/**
 * The recorded routes put back at their recorded positions among what `bindings` holds now (a
 * route someone else added meanwhile stays; one already there is not doubled).
 */
export function withBindingsRestored(current: readonly unknown[], prior: readonly PositionedBinding[]): unknown[] {
  const out = current.filter((b) => !prior.some((p) => deepEqual(p.binding, b)));
  for (const p of [...prior].sort((a, b) => a.index - b.index)) out.splice(Math.min(p.index, out.length), 0, structuredClone(p.binding));
  return out;
}

/** The exact prior entry and routes back. */
export function recoverWrite(agentId: string, liveEntry: JsonObject | undefined, prior: JsonObject, bindings: readonly unknown[], priorBindings: readonly PositionedBinding[]): ConfigWrite {
  const replacePaths = new Set<string>();
  for (const a of arrayPaths(liveEntry ?? {})) if (!deepEqual(getPath(liveEntry, a), getPath(prior, a))) replacePaths.add(entryPath(agentId, ...a));
  const entry = liveEntry ? mergePatchTo(liveEntry, prior) : structuredClone(prior);
  const patch: JsonObject = { agents: { entries: { [agentId]: entry } } };
  const restored = withBindingsRestored(bindings, priorBindings);
  if (!deepEqual(restored, bindings)) {
    patch.bindings = restored;
    if (bindings.length) replacePaths.add('bindings');
  }
  return { patch, replacePaths: [...replacePaths].sort() };
}
