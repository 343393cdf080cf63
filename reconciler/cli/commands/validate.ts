/** `clawops validate`: every problem in the fleet repo at once, sorted by file and line. */
import { formatDiagnostic, isError, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import type { ValidateReport } from '../../diagnostics/report.ts';
import { loadRepo } from '../../load/load-repo.ts';
import type { ExitCode, Ports } from '../../ports.ts';

export interface ValidateOptions {
  readonly repo: string;
  readonly json: boolean;
}

export function validateReport(diagnostics: readonly Diagnostic[], files: number, resources: number): ValidateReport {
  const errors = diagnostics.filter(isError).length;
  return {
    formatVersion: 1,
    valid: errors === 0,
    summary: { files, resources, errors, warnings: diagnostics.length - errors },
    diagnostics: diagnostics.map((d) => ({ ...d })),
  };
}

export async function runValidate(opts: ValidateOptions, ports: Ports): Promise<ExitCode> {
  const repo = await loadRepo(opts.repo, { now: ports.now() });
  const report = validateReport(repo.diagnostics, repo.fileCount, repo.resources.length);
  if (opts.json) {
    ports.out.write(JSON.stringify(report, null, 2) + '\n');
  } else {
    for (const d of repo.diagnostics) ports.out.write(formatDiagnostic(d) + '\n');
    const { errors, warnings, resources, files } = report.summary;
    if (errors) ports.err.write(`${errors} error${errors === 1 ? '' : 's'}${warnings ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : ''} in ${opts.repo}\n`);
    else if (ports.err.isTTY) ports.err.write(`✓ ${resources} resources in ${files} files are valid${warnings ? ` (${warnings} warning${warnings === 1 ? '' : 's'})` : ''}\n`);
  }
  return report.valid ? 0 : 1;
}
