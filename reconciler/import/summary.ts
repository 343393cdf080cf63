/**
 * What `clawops import` tells the user: what was written, which secrets still need a value, and
 * every setting left on the gateway, so that nothing is dropped silently. One report object feeds
 * both `--json` and the text form.
 */
import { relative, sep } from 'node:path';
import type { ImportOutput } from './output-files.ts';
import type { ImportedAgent, ImportPlan, Omission } from './plan-import.ts';

export interface ImportReport {
  readonly formatVersion: 1;
  readonly gateway: ImportPlan['gateway'];
  /** The output folder, as given. */
  readonly out: string;
  /** Every file written, relative to the current folder. */
  readonly written: ReadonlyArray<{ readonly path: string; readonly what: string }>;
  readonly agents: readonly ImportedAgent[];
  readonly approvalRules: readonly string[];
  readonly secrets: ReadonlyArray<{ readonly name: string; readonly kind: string; readonly usedBy: string; readonly stored: boolean }>;
  readonly skipped: readonly Omission[];
  readonly notImported: readonly Omission[];
  readonly warnings: readonly string[];
}

export function importReport(plan: ImportPlan, output: ImportOutput, opts: { cwd: string; out: string }): ImportReport {
  const rel = (p: string) => relative(opts.cwd, p).split(sep).join('/') || '.';
  const unstored = new Set(output.unstoredSecrets);
  return {
    formatVersion: 1,
    gateway: plan.gateway,
    out: opts.out,
    written: output.files.map((f) => ({ path: rel(f.path), what: f.what })),
    agents: plan.agents,
    approvalRules: plan.resources.filter((r) => r.kind === 'ApprovalRule').map((r) => r.name),
    secrets: plan.secrets.map((s) => ({ name: s.name, kind: s.kind, usedBy: s.usedBy, stored: !unstored.has(s.name) })),
    skipped: plan.skipped,
    notImported: plan.notImported,
    warnings: plan.warnings,
  };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function formatImportSummary(report: ImportReport): string {
  const g = report.gateway;
  const lines = [`Imported gateway ${g.name} (${g.url}, OpenClaw ${g.version}, config ${g.configHash}) into ${report.out}:`];
  for (const a of report.agents) {
    const parts = [plural(a.bindings, 'route'), plural(a.cron.length, 'cron job'), a.files.length ? `files ${a.files.join(', ')}` : 'no files'];
    if (a.approvalRule) parts.push(`exec approvals → ApprovalRule ${a.approvalRule}`);
    lines.push(`  Agent ${a.name}${a.name === a.id ? '' : ` (id ${a.id})`}: ${parts.join(', ')}`);
  }
  lines.push(`  ${plural(report.written.length, 'file')} written:`, ...report.written.map((w) => `    ${w.path}`));
  const redacted = report.secrets.filter((s) => s.kind === 'redacted');
  const unstored = report.secrets.filter((s) => !s.stored);
  if (redacted.length) {
    lines.push('', "Secrets the gateway did not reveal (each secret file holds a placeholder that keeps the gateway's value; to manage a value from git):");
    for (const s of redacted) lines.push(`  clawops secrets set ${s.name}    # ${s.usedBy}`);
  }
  if (unstored.length) {
    lines.push('', 'Not stored (this repo has no age recipients): store them before `clawops validate`:');
    for (const s of unstored) lines.push(`  clawops secrets set ${s.name}`);
  }
  if (report.skipped.length) lines.push('', 'Skipped:', ...report.skipped.map((s) => `  - ${s.what}: ${s.reason}`));
  if (report.notImported.length) {
    lines.push('', 'Not imported (left as they are on the gateway):', ...report.notImported.map((s) => `  - ${s.what}: ${s.reason}`));
  }
  lines.push('', 'Next: review the files, then `clawops validate`.');
  return lines.join('\n') + '\n';
}
