/**
 * The gateway never shows a secret: every sensitive value in a config view is the sentinel
 * `__OPENCLAW_REDACTED__`. Import turns each into a `{ secretRef }` so the YAML says where a
 * secret belongs without pretending to know it.
 */

export const REDACTED_SENTINEL = '__OPENCLAW_REDACTED__';

export type Path = ReadonlyArray<string | number>;

export interface RedactedValue {
  /** Path inside the value that was given, e.g. `['memory', 'search', 'remote', 'apiKey']`. */
  readonly path: Path;
  readonly secretName: string;
}

/** A copy of `value` with each sentinel replaced by `{ secretRef: name(path) }`. */
export function replaceRedacted<T>(value: T, name: (path: Path) => string): { value: T; secrets: RedactedValue[] } {
  const secrets: RedactedValue[] = [];
  const walk = (v: unknown, path: Array<string | number>): unknown => {
    if (v === REDACTED_SENTINEL) {
      const secretName = name(path);
      secrets.push({ path: [...path], secretName });
      return { secretRef: secretName };
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...path, i]));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, [...path, k])]));
    return v;
  };
  return { value: walk(value, []) as T, secrets };
}
