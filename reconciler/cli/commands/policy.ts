/**
 * `clawops policy test [DIR]` (table tests, exit 0 when every case passes, 1 otherwise) and
 * `clawops policy explain KIND/NAME [--path P]` (which rules apply to a resource, and why).
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command, Option } from 'commander';
import { formatDiagnostic, isError } from '../../diagnostics/diagnostic.ts';
import { didYouMean } from '../../diagnostics/did-you-mean.ts';
import { UsageError } from '../../errors.ts';
import { loadValidRepo } from '../../live/fleet-repo.ts';
import { SchemaRegistry } from '../../load/schema-validator.ts';
import { explainResource, type RuleExplanation } from '../../policy/explain.ts';
import { runPolicyTests, type CaseResult } from '../../policy/policy-test.ts';
import { parseResourcePath } from '../../plan/resource-path.ts';
import type { ExitCode, Ports } from '../../ports.ts';
import type { CommandContext } from '../program.ts';

export async function runPolicyTest(dir: string, opts: { json: boolean; verbose: boolean }, ports: Ports): Promise<ExitCode> {
  const root = resolve(ports.cwd, dir);
  const isDir = await stat(root).then((s) => s.isDirectory(), () => false);
  if (!isDir) throw new UsageError(`${dir} is not a folder; \`clawops policy test DIR\` runs the PolicyTest files under DIR`, {});
  const report = await runPolicyTests(root, new SchemaRegistry(), ports.now);
  const failed = report.results.filter((r) => !r.passed);
  const broken = report.diagnostics.filter(isError);
  if (opts.json) {
    ports.out.write(JSON.stringify({ formatVersion: 1, passed: report.results.length - failed.length, failed: failed.length, results: report.results, diagnostics: report.diagnostics }, null, 2) + '\n');
  } else {
    for (const d of report.diagnostics) ports.err.write(formatDiagnostic(d) + '\n');
    const lines: string[] = [];
    for (const r of report.results) if (!r.passed || opts.verbose) lines.push(...caseLines(r));
    if (report.results.length === 0 && broken.length === 0) lines.push(`no PolicyTest cases under ${dir}`);
    else lines.push('', `${failed.length ? 'FAIL' : 'PASS'}: ${report.results.length - failed.length}/${report.results.length} cases passed${broken.length ? `; ${broken.length} invalid file problem${broken.length === 1 ? '' : 's'}` : ''}`);
    ports.out.write(lines.join('\n').replace(/^\n/, '') + '\n');
  }
  return failed.length || broken.length || report.results.length === 0 ? 1 : 0;
}

const caseLines = (r: CaseResult): string[] => [
  `${r.passed ? 'PASS' : 'FAIL'} ${r.file}:${r.line}  ${r.test} › ${r.case}`,
  ...r.failures.map((f) => `     ${f}`),
];

export async function runPolicyExplain(target: string, opts: { repo: string; path?: string | undefined; json: boolean }, ports: Ports): Promise<ExitCode> {
  if (opts.path) {
    try {
      parseResourcePath(opts.path);
    } catch (e) {
      throw new UsageError(`--path ${opts.path}: ${(e as Error).message}`, {});
    }
  }
  const [kind, name] = target.split('/');
  if (!kind || !name) throw new UsageError(`expected KIND/NAME, e.g. Agent/support; got "${target}"`, {});
  const repo = await loadValidRepo(opts.repo, 'policy explain', ports.now());
  const r = repo.resources.find((x) => x.kind === kind && x.name === name);
  if (!r) {
    const guess = didYouMean(target, repo.resources.map((x) => `${x.kind}/${x.name}`));
    throw new UsageError(`no resource ${target} in ${opts.repo}${guess ? `; did you mean ${guess}?` : ''}`, {});
  }
  const rules = explainResource(repo.policy, repo.resources, r, opts.path);
  if (opts.json) {
    ports.out.write(JSON.stringify({ formatVersion: 1, resource: target, file: r.file, line: r.line, policies: repo.policy.rules.policies, path: opts.path ?? null, rules }, null, 2) + '\n');
    return 0;
  }
  const section = (title: string, list: RuleExplanation[]) => (list.length ? ['', title, ...list.map(ruleLine)] : []);
  const change = rules.filter((x) => x.kind === 'change');
  const state = rules.filter((x) => x.kind === 'state');
  const lines = [
    `${target} (${r.file}:${r.line}) under ${repo.policy.rules.policies.length ? repo.policy.rules.policies.join(', ') : 'no policies'}${opts.path ? `, for a change at ${opts.path}` : ''}`,
    ...section('Change rules that apply:', change.filter((x) => x.applies || x.waivedBy)),
    ...section('Change rules that do not apply:', change.filter((x) => !x.applies && !x.waivedBy)),
    ...section('State rules:', state.filter((x) => x.applies)),
  ];
  ports.out.write(lines.join('\n') + '\n');
  return 0;
}

function ruleLine(x: RuleExplanation): string {
  const verdict = x.kind === 'change' && (x.applies || x.waivedBy) ? ` ${x.risk} ${x.effect}` : '';
  const waived = x.waivedBy ? ` — waived by ${x.waivedBy}` : '';
  return `  ${x.rule}${verdict}: ${x.why}${waived}  (${x.origin})${x.applies ? `\n      ${x.message}` : ''}`;
}

export function registerPolicy(program: Command, ctx: CommandContext, repoOption: () => Option, jsonOption: () => Option): void {
  const policy = program.command('policy').description('test policies and explain what they say about a resource');
  policy
    .command('test')
    .description('run the PolicyTest table tests under DIR (exit 0 all pass, 1 any failure or invalid test)')
    .argument('[dir]', 'folder with Policy and PolicyTest files', '.')
    .addOption(jsonOption())
    .option('-v, --verbose', 'list passing cases too', false)
    .action(async (dir: string, o: { json: boolean; verbose: boolean }) => {
      ctx.exitCode = await runPolicyTest(dir, o, ctx.ports);
    });
  policy
    .command('explain')
    .description('which policy rules apply to a resource, and why')
    .argument('<resource>', 'KIND/NAME, e.g. Agent/support')
    .option('--path <path>', 'explain for a change at this path, e.g. spec.config.tools.profile')
    .addOption(repoOption())
    .addOption(jsonOption())
    .action(async (target: string, o: { repo: string; path?: string; json: boolean }) => {
      ctx.exitCode = await runPolicyExplain(target, o, ctx.ports);
    });
}
