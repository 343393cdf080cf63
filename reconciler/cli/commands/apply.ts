/**
 * `clawops apply [FILE]`: apply a saved plan exactly, or plan and apply after confirmation. A
 * gateway whose live or desired state moved since the plan is refused, never "updated anyway".
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { AuditLog, auditSpillFile } from '../../audit/audit-log.ts';
import { Masker } from '../../audit/masker.ts';
import { recordApply, recordApprovalRequests } from '../../audit/record-apply.ts';
import type { Command, Option } from 'commander';
import { Compile } from 'typebox/compile';
import { applyPlan, type FleetApplyResult, type GatedChange } from '../../apply/apply-fleet.ts';
import type { GatewayApplyResult } from '../../apply/apply-gateway.ts';
import type { ApprovalEvidence } from '../../policy/approvals.ts';
import { approvalFlow } from '../../github/approval-flow.ts';
import type { ApprovalPrOutcome } from '../../github/approval-prs.ts';
import type { BotPrAction } from '../../github/bot-pr.ts';
import { openGitHubSession } from '../../github/session.ts';
import { UsageError } from '../../errors.ts';
import { makePlan } from '../../plan/make-plan.ts';
import { Plan } from '../../plan/plan.ts';
import { renderPlanText } from '../../plan/render/text.ts';
import type { ExitCode, Ports } from '../../ports.ts';
import type { CommandContext } from '../program.ts';
import { addLiveOptions, planContext, type LiveCommandOptions } from './plan-context.ts';

export interface ApplyOptions extends LiveCommandOptions {
  readonly autoApprove: boolean;
  readonly json: boolean;
  readonly breakGlass?: boolean;
  readonly reason?: string;
  readonly revertDrift?: boolean;
}

/** One id per run, shared by its audit events: the CI run when there is one. */
export const traceIdOf = (env: Ports['env']): string =>
  env.CLAWOPS_TRACE_ID ?? (env.GITHUB_RUN_ID ? `gh-${env.GITHUB_RUN_ID}-${env.GITHUB_RUN_ATTEMPT ?? '1'}` : randomUUID());

/** Who is applying, as the audit trail and break-glass records name them. */
export const actorOf = (env: Ports['env']): string => env.CLAWOPS_ACTOR ?? (env.GITHUB_ACTOR ? `github:${env.GITHUB_ACTOR}` : env.USER ?? env.LOGNAME ?? 'unknown');

function evidenceFrom(opts: ApplyOptions, ports: Ports): ApprovalEvidence | undefined {
  if (!opts.breakGlass) {
    if (opts.reason !== undefined) throw new UsageError('--reason goes with --break-glass (it records why policy was overridden)', {});
    return undefined;
  }
  const reason = opts.reason?.trim();
  if (!reason) throw new UsageError('--break-glass needs --reason TEXT: say why the approval is skipped (it is recorded with the apply)', {});
  return { kind: 'break-glass', by: actorOf(ports.env), reason };
}

const planChecker = Compile(Plan);

async function loadPlanFile(file: string): Promise<Plan> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`cannot read the plan ${file}: ${(e as Error).message}; make one with \`clawops plan --out ${file}\``, {});
  }
  if (!planChecker.Check(value)) {
    const first = [...planChecker.Errors(value)][0];
    throw new UsageError(`${file} is not a clawops plan (${first ? `${first.instancePath || '/'}: ${first.message}` : 'invalid'}); make one with \`clawops plan --out ${file}\``, {});
  }
  return value;
}

export async function runApply(file: string | undefined, opts: ApplyOptions, ports: Ports): Promise<ExitCode> {
  const evidence = evidenceFrom(opts, ports);
  const { repo, gateways, ctx, state } = await planContext(opts, ports, 'apply');
  const github = await openGitHubSession(repo, { env: ports.env, redactor: ports.redactor, warn: (m) => ports.err.write(`github: ${m}\n`) });
  const approvals = github && state.desiredCommit ? approvalFlow(repo, github, state.desiredCommit) : undefined;
  // Opened before anything is written: events an earlier run could not commit go first.
  const audit = await AuditLog.open(state.branch, { masker: new Masker({ redactor: ports.redactor }), now: ports.now, spillFile: auditSpillFile(ctx.repo.root) });
  let plan: Plan;
  if (file) {
    plan = await loadPlanFile(file);
    const wanted = new Set(opts.gateway ?? plan.gateways.map((g) => g.gateway));
    plan = { ...plan, gateways: plan.gateways.filter((g) => wanted.has(g.gateway)) };
  } else {
    plan = await makePlan(gateways, ctx);
    if (!opts.json) ports.err.write(renderPlanText(plan, { color: ports.err.isTTY && !ports.env.NO_COLOR }));
    const pending = plan.summary.create + plan.summary.update + plan.summary.delete + plan.gateways.reduce((n, g) => n + g.operations.deleteAgents.length, 0);
    if (pending > 0 && !opts.autoApprove) {
      if (!ports.stdinIsTTY) throw new UsageError('apply needs a confirmation: run it on a terminal, pass --auto-approve, or apply a reviewed plan file (`clawops plan --out FILE`, then `clawops apply FILE`)', {});
      const answer = await ports.prompt('\nApply these changes? Only "yes" is accepted: ');
      if (answer.trim() !== 'yes') {
        ports.err.write('apply cancelled; nothing was written\n');
        return 1;
      }
    }
  }
  const results = await applyPlan(plan, gateways, ctx, {
    ...(evidence ? { evidence } : {}),
    ...(approvals ? { approvals: approvals.source } : {}),
    ...(state.desiredCommit ? { desiredCommit: state.desiredCommit } : {}),
    ...(opts.revertDrift ? { revertDrift: true } : {}),
  });
  const traceId = traceIdOf(ports.env);
  const record = { actor: actorOf(ports.env), traceId, ...(state.desiredCommit ? { desiredCommit: state.desiredCommit } : {}) };
  recordApply(audit, plan, results, record);
  let requested: ApprovalPrOutcome[] = [];
  let requestFailed: string | undefined;
  try {
    if (approvals) requested = await approvals.afterApply(results, ports.now());
  } catch (e) {
    // The apply itself is done and must be recorded; the next run asks again.
    requestFailed = `could not open approval pull requests: ${(e as Error).message}`;
  }
  recordApprovalRequests(audit, requested, record);
  // One signed commit: the run's events and the state it leaves (last-applied, live snapshots).
  const recorded = await audit.commit(`clawops apply: ${results.map((r) => `${r.gateway} ${r.status}`).join(', ')}\n\ntrace ${traceId}`);
  if (opts.json) ports.out.write(JSON.stringify({ formatVersion: 1, traceId, auditEvents: recorded.length, results, approvalRequests: requested, ...(requestFailed ? { approvalRequestError: ports.redactor.redact(requestFailed) } : {}) }, null, 2) + '\n');
  else ports.out.write(renderResults(results) + renderApprovalRequests(requested, results, Boolean(github)));
  if (requestFailed) ports.err.write(`error: ${ports.redactor.redact(requestFailed)}\n`);
  if (requestFailed || !results.every((r) => r.status === 'applied' || r.status === 'unchanged')) return 1;
  if (results.some((r) => r.gated.some((g) => g.gate === 'deny'))) return 1;
  return results.some((r) => r.gated.length > 0) ? 2 : 0;
}

/** What became of each held change set's approval PR, and how to release the rest. */
export function renderApprovalRequests(requested: readonly ApprovalPrOutcome[], results: readonly FleetApplyResult[], github: boolean): string {
  const lines = requested.map((o) => {
    const what = `${o.set.agentId} on ${o.set.gateway}`;
    if (o.problem) return `  ! ${what}: ${o.problem}`;
    const r = o.result!;
    const pr = r.number ? `#${r.number} ${r.url ?? ''}`.trim() : '';
    const text: Record<BotPrAction, string> = {
      created: `approval PR opened: ${pr}`,
      updated: `approval PR updated: ${pr}`,
      unchanged: `approval PR waiting for reviews: ${pr}`,
      'human-pushed': `approval PR ${pr} has pushes by someone else; left as it is`,
      'rate-limited': `no approval PR yet (${r.warnings.join('; ')})`,
    };
    return [`  → ${what}: ${text[r.action]}`, ...r.warnings.filter(() => r.action !== 'rate-limited').map((w) => `    ! ${w}`)].join('\n');
  });
  const held = results.some((r) => r.held.length > 0);
  if (held && !github) lines.push('  GitHub is not configured here (clawops.yaml spec.github.repository and GITHUB_TOKEN or a GitHub App), so reviews could not be checked; apply from the GitHub Action or with `--break-glass --reason TEXT`.');
  return lines.length ? lines.join('\n') + '\n' : '';
}

const MARK: Record<GatewayApplyResult['status'], string> = { applied: '✓', unchanged: '=', refused: '✗', 'rolled-back': '↺', failed: '✗' };

export function renderResults(results: readonly FleetApplyResult[]): string {
  const lines = results.flatMap((r) => [
    `${MARK[r.status]} ${r.gateway}: ${r.status} — ${r.message}`,
    ...(r.breakGlass ? [`  ! break-glass by ${r.breakGlass.by}: ${r.breakGlass.changes} change(s) applied without approval — "${r.breakGlass.reason}"`] : []),
    ...r.gated.map((g) => `  ${g.gate === 'deny' ? '✗ denied' : g.gate === 'drift' ? '⏸ drift' : '⏸ held'}  ${g.resource} ${g.path} [${g.risk}]: ${g.why}`),
  ]);
  const count = (s: GatewayApplyResult['status']) => results.filter((r) => r.status === s).length;
  const bad = results.length - count('applied') - count('unchanged');
  lines.push(
    bad
      ? `Apply incomplete: ${count('applied')} applied, ${count('unchanged')} unchanged, ${count('refused')} refused, ${count('rolled-back')} rolled back, ${count('failed')} failed.`
      : `Apply complete: ${count('applied')} applied, ${count('unchanged')} unchanged.`,
  );
  const gated = results.flatMap((r) => r.gated);
  const n = (g: GatedChange['gate']) => gated.filter((x) => x.gate === g).length;
  const parts = [
    n('deny') ? `${n('deny')} denied by policy` : '',
    n('hold') ? `${n('hold')} held for approval (approve them in review, or \`--break-glass --reason TEXT\`)` : '',
    n('drift') ? `${n('drift')} waiting on drift a person is deciding on (drift PR or alert; \`--revert-drift\` puts git's values back)` : '',
  ].filter(Boolean);
  if (parts.length) lines.push(`Not applied: ${parts.join(', ')}.`);
  return lines.join('\n') + '\n';
}

export function registerApply(program: Command, ctx: CommandContext, repoOption: () => Option, jsonOption: () => Option): void {
  addLiveOptions(
    program
      .command('apply')
      .description('apply a saved plan exactly, or plan and apply after confirmation (exit 0 all applied; 1 when any gateway was refused, rolled back or failed, or policy denied a change; 2 when changes are held for approval)')
      .argument('[file]', 'a plan saved by `clawops plan --out FILE`'),
    repoOption,
  )
    .addOption(jsonOption())
    .option('--auto-approve', 'apply without asking', false)
    .option('--break-glass', 'apply changes policy holds for approval, without the approvals (needs --reason; recorded as such)', false)
    .option('--reason <text>', 'why the break-glass apply is needed')
    .option('--revert-drift', 'put drifted fields back to git whatever their drift mode (by default agents whose drift is proposed or alerted are left alone)', false)
    .action(async (file: string | undefined, o: ApplyOptions) => {
      ctx.exitCode = await runApply(file, o, ctx.ports);
    });
}
