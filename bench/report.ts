/** What a benchmark's `run()` returns, and how results are printed. */

export interface BenchMetric {
  readonly label: string;
  readonly value: number;
  readonly unit: string;
  /** When set, the bench fails its target if `value` is above it. */
  readonly max?: number;
}

export interface BenchResult {
  readonly name: string;
  readonly metrics: readonly BenchMetric[];
}

export const metFor = (m: BenchMetric): boolean => m.max === undefined || m.value <= m.max;

const format = (v: number): string => (Number.isInteger(v) ? v.toLocaleString('en-US') : v.toLocaleString('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 }));

/** A small aligned table: one row per metric, with the target when there is one. */
export function formatTable(result: BenchResult): string {
  const rows = result.metrics.map((m) => [m.label, format(m.value), m.unit, m.max === undefined ? '' : `${metFor(m) ? 'ok' : 'MISSED'} (target ≤ ${format(m.max)} ${m.unit})`]);
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) => `  ${r[0]!.padEnd(widths[0]!)}  ${r[1]!.padStart(widths[1]!)} ${r[2]!.padEnd(widths[2]!)}  ${r[3]!}`.trimEnd());
  return [`${result.name}`, ...lines].join('\n');
}

export function isBenchResult(v: unknown): v is BenchResult {
  if (!v || typeof v !== 'object') return false;
  const o = v as { name?: unknown; metrics?: unknown };
  return typeof o.name === 'string' && Array.isArray(o.metrics);
}
