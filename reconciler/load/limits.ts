/**
 * Bounds that keep a hostile or broken repo from exhausting memory or time. Each is reported as a
 * diagnostic naming the limit, never as a crash.
 */
export interface LoadLimits {
  /** Largest YAML file read, in bytes; checked before reading. */
  readonly maxFileBytes: number;
  /** Documents in one file. */
  readonly maxDocumentsPerFile: number;
  /** Alias dereferences in one document (billion-laughs guard). */
  readonly maxAliasCount: number;
  /** Nesting depth of mappings and sequences in one document. */
  readonly maxDepth: number;
  /** YAML files in one repo. */
  readonly maxFiles: number;
}

export const DEFAULT_LIMITS: LoadLimits = {
  maxFileBytes: 4 * 1024 * 1024,
  maxDocumentsPerFile: 1000,
  maxAliasCount: 100,
  maxDepth: 64,
  maxFiles: 100_000,
};

export const formatBytes = (n: number): string =>
  n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
