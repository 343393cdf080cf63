/**
 * The gateway's `config.patch` merge (research §3.3): RFC 7396 (objects merge, `null` deletes),
 * arrays of objects with an `id` merge by id, and an array may lose entries only when its path
 * is named in `replacePaths` (deleting a parent that holds arrays counts as shrinking them).
 */
import { deepEqual, isPlainObject, type Json, type JsonRecord } from './json.ts';

export interface MergeResult {
  readonly doc: JsonRecord;
  /** Array paths that would lose entries without being named in `replacePaths`. */
  readonly shrunk: readonly string[];
}

export function mergePatch(target: JsonRecord, patch: JsonRecord, replacePaths: readonly string[] = []): MergeResult {
  const replace = new Set(replacePaths);
  const shrunk: string[] = [];
  const doc = mergeObject(target, patch, '', replace, shrunk);
  return { doc, shrunk };
}

function mergeObject(target: JsonRecord, patch: JsonRecord, prefix: string, replace: Set<string>, shrunk: string[]): JsonRecord {
  const out: JsonRecord = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const old = target[key];
    if (value === null) {
      if (old !== undefined && !replace.has(path)) collectArrays(old, path, shrunk);
      delete out[key];
    } else if (isPlainObject(value)) {
      out[key] = mergeObject(isPlainObject(old) ? old : {}, value, path, replace, shrunk);
    } else if (Array.isArray(value) && Array.isArray(old) && !replace.has(path)) {
      out[key] = mergeArray(old, value, path, shrunk);
    } else {
      if (old !== undefined && !Array.isArray(value) && !replace.has(path)) collectArrays(old, path, shrunk);
      out[key] = value;
    }
  }
  return out;
}

function mergeArray(old: Json[], value: Json[], path: string, shrunk: string[]): Json[] {
  const byId = (a: Json[]) => a.every((x) => isPlainObject(x) && typeof x.id === 'string');
  if (old.length > 0 && byId(old) && byId(value)) {
    const merged = old.map((o) => {
      const p = value.find((v) => (v as JsonRecord).id === (o as JsonRecord).id);
      return p ? mergeObject(o as JsonRecord, p as JsonRecord, path, new Set(), []) : o;
    });
    for (const v of value) if (!old.some((o) => (o as JsonRecord).id === (v as JsonRecord).id)) merged.push(v);
    return merged;
  }
  if (old.some((o) => !value.some((v) => deepEqual(o, v)))) shrunk.push(path);
  return value;
}

/** Non-empty arrays inside a value that is being deleted or overwritten. */
function collectArrays(v: Json, path: string, into: string[]): void {
  if (Array.isArray(v)) {
    if (v.length > 0) into.push(path);
  } else if (isPlainObject(v)) {
    for (const [k, x] of Object.entries(v)) collectArrays(x, `${path}.${k}`, into);
  }
}

/** The paths whose values differ, as deep as both sides are objects (`agents.entries.x` for a new agent). */
export function changedPaths(before: Json | undefined, after: Json | undefined, prefix = '', into: string[] = []): string[] {
  if (isPlainObject(before) && isPlainObject(after)) {
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      changedPaths(before[key], after[key], prefix ? `${prefix}.${key}` : key, into);
    }
  } else if (!deepEqual(before, after)) {
    into.push(prefix);
  }
  return into;
}
