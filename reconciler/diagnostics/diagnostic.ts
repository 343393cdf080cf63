/**
 * Problems with the user's input are values, not exceptions: loaders collect them and one renderer
 * turns them into text or JSON. Every diagnostic names the file and, where one exists, the line,
 * column, resource and field, and says how to fix it.
 */

export const DIAGNOSTIC_CODES = [
  'yaml-syntax',
  'duplicate-key',
  'tab-indent',
  'invalid-utf8',
  'file-too-large',
  'too-many-documents',
  'too-many-aliases',
  'nesting-too-deep',
  'unreadable-file',
  'symlink-outside-repo',
  'not-a-mapping',
  'unknown-api-version',
  'unknown-kind',
  'schema',
  'unknown-field',
  'missing-field',
  'duplicate-resource',
  'dangling-reference',
  'selector-matches-nothing',
  'conflicting-fields',
  'invalid-template-value',
  'duplicate-agent-id',
  'missing-repo-config',
  'empty-file',
  'insecure-transport',
  'policy-violation',
] as const;
export type DiagnosticCode = (typeof DIAGNOSTIC_CODES)[number];

export type Severity = 'error' | 'warning';

export interface SourcePosition {
  /** Path relative to the repo root, with `/` separators. */
  readonly file: string;
  /** 1-based; absent when the problem concerns the whole file. */
  readonly line?: number;
  readonly col?: number;
}

export interface Diagnostic extends SourcePosition {
  readonly severity: Severity;
  readonly code: DiagnosticCode;
  readonly message: string;
  /** `Kind/name` of the resource, when the problem is inside one. */
  readonly resource?: string;
  /** Dotted path of the field, e.g. `spec.config.tools.profile` or `spec.bindings[0].match`. */
  readonly field?: string;
  /** How to fix it. */
  readonly hint?: string;
  /** Another place involved, e.g. the first definition of a duplicate. */
  readonly related?: SourcePosition;
}

export const isError = (d: Diagnostic): boolean => d.severity === 'error';

export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  return (
    (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
    (a.line ?? 0) - (b.line ?? 0) ||
    (a.col ?? 0) - (b.col ?? 0) ||
    (a.message < b.message ? -1 : a.message > b.message ? 1 : 0)
  );
}

export const formatPosition = (p: SourcePosition): string =>
  p.line === undefined ? p.file : `${p.file}:${p.line}:${p.col ?? 1}`;

/** `path:line:col  Kind/name  field: message (hint)` */
export function formatDiagnostic(d: Diagnostic): string {
  const where = formatPosition(d);
  const what = d.field ? `${d.field}: ${d.message}` : d.message;
  const parts = [where, d.resource, d.severity === 'warning' ? `warning: ${what}` : what].filter(Boolean);
  let line = parts.join('  ');
  if (d.hint) line += ` (${d.hint})`;
  if (d.related) line += ` [see ${formatPosition(d.related)}]`;
  return line;
}

/** Renders a JSON-path-like field: `['spec', 'bindings', 0, 'match']` → `spec.bindings[0].match`. */
export function fieldPath(segments: ReadonlyArray<string | number>): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}
