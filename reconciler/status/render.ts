/** `clawops status` as text: an aligned table (like `kubectl get`), then one line per problem. */
import { shortHash } from './probe.ts';
import type { GatewayStatus, StatusReport } from './report.ts';

const HEADERS = ['NAME', 'URL', 'STATUS', 'VERSION', 'AGENTS', 'CONFIG', 'RESTART', 'HEALTH'] as const;

function row(g: GatewayStatus): string[] {
  const status = !g.reachable ? (g.problems[0]?.kind ?? 'unreachable') : g.attention ? 'attention' : 'ok';
  const health = !g.health ? '-' : !g.health.ok ? 'failing' : g.health.degraded.length ? 'degraded' : 'ok';
  const restart = g.pendingRestart === null ? '-' : g.pendingRestart ? 'pending' : 'no';
  return [g.name, g.url, status, g.version ?? '-', g.agents === null ? '-' : String(g.agents), g.config ? shortHash(g.config.hash) : '-', restart, health];
}

export function renderTable(rows: ReadonlyArray<readonly string[]>): string {
  const widths = rows.reduce<number[]>((w, r) => r.map((cell, i) => Math.max(w[i] ?? 0, cell.length)), []);
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('   ').trimEnd() + '\n').join('');
}

export function renderStatus(report: StatusReport): string {
  let text = renderTable([[...HEADERS], ...report.gateways.map(row)]);
  const problems = report.gateways.flatMap((g) => g.problems.map((p) => p.message));
  const notes = report.gateways.flatMap((g) => (g.health?.degraded.length ? [`note: ${g.name} is degraded: ${g.health.degraded.join(', ')}`] : []));
  if (problems.length || notes.length) text += '\n' + [...problems, ...notes].map((l) => l + '\n').join('');
  return text;
}
