/** Small, exact helpers over plain JSON values addressed by key paths. */
import picomatch from 'picomatch';
import type { JsonObject } from '../../fleet/openclaw/gateway-api.ts';

export type KeyPath = readonly string[];

export const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

export const isSecretRef = (v: unknown): v is { secretRef: string } =>
  isObject(v) && typeof v.secretRef === 'string' && Object.keys(v).length === 1;

/**
 * The leaves of a value: scalars, arrays (a list is one value to the gateway), secret refs and
 * empty objects. These are the units clawops owns.
 */
export function leafPaths(value: unknown, prefix: string[] = []): string[][] {
  if (!isObject(value) || isSecretRef(value) || Object.keys(value).length === 0) return prefix.length ? [prefix] : [];
  return Object.entries(value).flatMap(([k, v]) => leafPaths(v, [...prefix, k]));
}

export function getPath(value: unknown, path: KeyPath): unknown {
  let v: unknown = value;
  for (const k of path) {
    if (!isObject(v)) return undefined;
    v = v[k];
  }
  return v;
}

/** Sets a value, creating objects on the way (never through arrays). */
export function setPath(target: JsonObject, path: KeyPath, value: unknown): void {
  let o = target;
  for (const k of path.slice(0, -1)) {
    if (!isObject(o[k])) o[k] = {};
    o = o[k] as JsonObject;
  }
  o[path[path.length - 1]!] = value;
}

export const pathKey = (path: KeyPath): string => path.join('.');

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** Every array inside a value, as paths relative to it (the gateway needs them in `replacePaths`). */
export function arrayPaths(value: unknown, prefix: string[] = []): string[][] {
  if (Array.isArray(value)) return [prefix];
  if (!isObject(value)) return [];
  return Object.entries(value).flatMap(([k, v]) => arrayPaths(v, [...prefix, k]));
}

/** A matcher for `ignore` globs over resource paths like `spec.config.heartbeat.**`. */
export function ignoreMatcher(globs: readonly string[]): (resourcePath: KeyPath) => boolean {
  if (globs.length === 0) return () => false;
  // picomatch separates on `/`; resource paths separate on `.`.
  const match = picomatch(globs.map((g) => g.replaceAll('.', '/')), { dot: true });
  return (path) => match(path.join('/'));
}

/** Replaces every `{ secretRef }` with what `f` makes of it. */
export function mapSecretRefs(value: unknown, f: (name: string, path: string[]) => unknown, path: string[] = []): unknown {
  if (isSecretRef(value)) return f(value.secretRef, path);
  if (Array.isArray(value)) return value.map((v, i) => mapSecretRefs(v, f, [...path, String(i)]));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapSecretRefs(v, f, [...path, k])]));
  return value;
}
