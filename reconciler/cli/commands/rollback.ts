/**
 * `clawops rollback --to REV|SEQ [--target T] [--now]`: roll gateways back the GitOps way. By
 * default it opens a revert pull request (the rolled-back files as they were at REV, on top of
 * main) and pins each target to REV, so the loop keeps planning REV and does not re-apply the bad
 * revision while main still holds it; the pin lifts when main changes the target's configuration
 * (the PR merged, or a fix landed). `--now` also applies REV at once (break-glass, audited).
 */
import fs from 'node:fs';
import * as git from 'isomorphic-git';
import type { Command, Option } from 'commander';
import { applyPlan, type FleetApplyResult } from '../../apply/apply-fleet.ts';
import { AuditLog, auditSpillFile } from '../../audit/audit-log.ts';
import { Masker } from '../../audit/masker.ts';
import { recordApply } from '../../audit/record-apply.ts';
import { UsageError } from '../../errors.ts';
import { gitdirOf } from '../../git/open-repo-branch.ts';
import { findWorktree } from '../../git/worktree.ts';
import { upsertBotPr, type BotPrResult } from '../../github/bot-pr.ts';
import { openGitHubSession } from '../../github/session.ts';
import { makePlan } from '../../plan/make-plan.ts';
import type { ApprovalEvidence } from '../../policy/evidence.ts';
import type { ExitCode, Ports } from '../../ports.ts';
import { revertCommands, revertPrSpec } from '../../rollback/revert-pr.ts';
import { resolveRevision, revisionOfSeq, seqOf } from '../../rollback/revision.ts';
import { rollbackScope, type RollbackScope } from '../../rollback/scope.ts';
import type { CommandContext } from '../program.ts';
import { actorOf, renderResults, traceIdOf } from './apply.ts';
import { addLiveOptions, planContext, type LiveCommandOptions } from './plan-context.ts';

export interface RollbackOptions extends LiveCommandOptions {
  readonly to: string;
  readonly target?: readonly string[] | undefined;
  readonly now: boolean;
  readonly reason?: string | undefined;
  readonly json: boolean;
}

export interface RollbackReport {
  readonly formatVersion: 1;
  readonly traceId: string;
  readonly to: string;
  readonly from: string;
  readonly targets: RollbackScope['targets'];
  /** Fleet-repo-relative paths the revert restores. */
  readonly files: readonly string[];
  readonly pullRequest?: BotPrResult;
  readonly pullRequestError?: string;
  /** Without GitHub: the commands that make git agree. */
  readonly commands?: readonly string[];
  /** With `--now`: what the immediate apply did. */
  readonly results?: readonly FleetApplyResult[];
  readonly auditEvents: number;
}

const short = (sha: string) => sha.slice(0, 12);

export async function runRollback(opts: RollbackOptions, ports: Ports): Promise<ExitCode> {
  const reason = opts.reason?.trim() || undefined;
  if (opts.now && !reason) throw new UsageError('--now needs --reason TEXT: say why the rollback cannot wait for review (it is recorded as break-glass)', {});
  // --gateway (from the shared live options) means the same as --target.
  const named = [...(opts.target ?? []), ...(opts.gateway ?? [])];
  const { repo, gateways, ctx, state } = await planContext({ ...opts, gateway: named }, ports, 'rollback');
  const wt = await findWorktree(repo.root);
  if (!wt) throw new UsageError(`${repo.root} is not a git checkout: rollback restores an earlier commit of the fleet repo, so the repo must be in git`, {});
  const gitdir = await gitdirOf(repo.root);
  const from = await git.resolveRef({ fs, gitdir, ref: 'HEAD' }).catch(() => {
    throw new UsageError(`${repo.root} has no commits yet: there is nothing to roll back to`, {});
  });
  const seq = seqOf(opts.to);
  const to = await resolveRevision(gitdir, repo.root, seq === undefined ? opts.to : (await revisionOfSeq(await state.branch.branch.at(), seq)).sha);
  if (to === from) throw new UsageError(`--to ${opts.to} is main's own commit (${short(from)}): nothing to roll back; name an earlier one (\`git -C ${repo.root} log --oneline\`)`, {});
  const scope = await rollbackScope(repo, gateways, { gitdir, prefix: wt.prefix }, { from, to, named: named.length > 0 });

  const by = actorOf(ports.env);
  const at = ports.now().toISOString();
  const traceId = traceIdOf(ports.env);
  const breakGlass: Extract<ApprovalEvidence, { kind: 'break-glass' }> | undefined = opts.now && reason ? { kind: 'break-glass', by, reason } : undefined;
  const audit = await AuditLog.open(state.branch, { masker: new Masker({ redactor: ports.redactor }), now: ports.now, spillFile: auditSpillFile(repo.root) });
  const pin = (t: RollbackScope['targets'][number], pr?: BotPrResult) =>
    ctx.store.savePin({ target: t.gateway, to, from, badDesired: t.badDesired, by, ...(reason ? { reason } : {}), at, ...(pr?.number ? { pr: { number: pr.number, ...(pr.url ? { url: pr.url } : {}) } } : {}) });
  // Pinned first: from here on every plan of these targets (the one below too) renders `to`.
  for (const t of scope.targets) await pin(t);

  let results: FleetApplyResult[] | undefined;
  if (breakGlass) {
    const targets = gateways.filter((g) => scope.targets.some((t) => t.gateway === g.name));
    const plan = await makePlan(targets, ctx);
    results = await applyPlan(plan, targets, ctx, { evidence: breakGlass, desiredCommit: to });
    recordApply(audit, plan, results, { actor: by, traceId, desiredCommit: to });
  }

  let pullRequest: BotPrResult | undefined;
  let pullRequestError: string | undefined;
  let commands: string[] | undefined;
  try {
    const github = await openGitHubSession(repo, { env: ports.env, redactor: ports.redactor, warn: (m) => ports.err.write(`github: ${m}\n`) });
    if (github) pullRequest = await upsertBotPr(github.gh, revertPrSpec(scope, { base: github.branch, prefix: wt.prefix, by, ...(reason ? { reason } : {}), appliedNow: Boolean(breakGlass) }));
    else commands = revertCommands(scope, repo.root);
  } catch (e) {
    // The pin holds without the PR; the next rollback to the same commit opens it.
    pullRequestError = `could not open the revert pull request: ${(e as Error).message}`;
    commands = revertCommands(scope, repo.root);
  }
  if (pullRequest?.number) for (const t of scope.targets) await pin(t, pullRequest);

  for (const t of scope.targets) {
    const applied = results?.find((r) => r.gateway === t.gateway);
    audit.record({
      type: 'rollback',
      actor: by,
      traceId,
      target: t.gateway,
      resource: `Gateway/${t.gateway}`,
      desiredCommit: to,
      summary: {
        message:
          `pinned to ${short(to)} (main at ${short(from)}; agents ${t.agents.join(', ') || '-'})` +
          (applied ? `, applied at once: ${applied.status}` : '') +
          (pullRequest?.number ? `; revert pull request #${pullRequest.number}` : '') +
          (reason ? `: ${reason}` : ''),
      },
      ...(breakGlass ? { approval: breakGlass } : {}),
    });
  }
  const recorded = await audit.commit(`clawops rollback: ${scope.targets.map((t) => t.gateway).join(', ')} to ${short(to)}\n\ntrace ${traceId}`);

  const report: RollbackReport = {
    formatVersion: 1,
    traceId,
    to,
    from,
    targets: scope.targets,
    files: Object.keys(scope.files).sort(),
    ...(pullRequest ? { pullRequest } : {}),
    ...(pullRequestError ? { pullRequestError: ports.redactor.redact(pullRequestError) } : {}),
    ...(commands ? { commands } : {}),
    ...(results ? { results } : {}),
    auditEvents: recorded.length,
  };
  ports.out.write(opts.json ? JSON.stringify(report, null, 2) + '\n' : renderRollback(report));
  if (pullRequestError) ports.err.write(`error: ${ports.redactor.redact(pullRequestError)}\n`);
  if (pullRequestError || results?.some((r) => (r.status !== 'applied' && r.status !== 'unchanged') || r.gated.some((g) => g.gate === 'deny'))) return 1;
  return 0;
}

export function renderRollback(r: RollbackReport): string {
  const lines = r.targets.map((t) => `↺ ${t.gateway}: pinned to ${short(r.to)} (main is ${short(r.from)})${t.agents.length ? `; agents ${t.agents.join(', ')}` : ''}`);
  if (r.results) lines.push(renderResults(r.results).trimEnd());
  const pr = r.pullRequest;
  if (pr?.number) lines.push(`Revert pull request ${pr.action === 'created' ? 'opened' : pr.action}: #${pr.number} ${pr.url ?? ''}`.trimEnd(), ...pr.warnings.map((w) => `  ! ${w}`));
  else if (pr) lines.push(`No revert pull request (${pr.warnings.join('; ') || pr.action}).`);
  if (r.commands) lines.push(`${r.pullRequestError ? '' : 'GitHub is not configured here, so no pull request was opened. '}Make git agree with:`, ...r.commands.map((c) => `  ${c}`));
  lines.push(`Plans of ${r.targets.length === 1 ? 'this gateway' : 'these gateways'} render ${short(r.to)} until main changes their configuration (merging the revert lifts the pin).`);
  return lines.join('\n') + '\n';
}

const HELP = `
REV is any git revision of the fleet repo: a sha or short sha (7+ digits), a branch or tag,
HEAD~2, main^2 (list them with \`git log --oneline\`). SEQ is an audit event's sequence number
(\`clawops audit search\` shows them; a number of at most 6 digits, or seq:N): the fleet repo
commit that event recorded as applied.

Without --target, every Gateway whose effective desired state differs between REV and main is
rolled back and the revert restores every file that differs. Each target is pinned to REV in the
state branch: plan, apply and reconcile render it from REV until main changes its configuration.
`;

export function registerRollback(program: Command, ctx: CommandContext, repoOption: () => Option, jsonOption: () => Option): void {
  const c = program
    .command('rollback')
    .description('roll gateways back to an earlier commit: a revert pull request plus a pin that keeps the loop from re-applying the bad revision; --now applies at once (break-glass). Exit 0 ok, 1 error')
    .requiredOption('--to <REV|SEQ>', 'the commit to go back to: a git revision, or an audit event seq')
    .option('--target <gateway...>', 'only these Gateways (default: every Gateway whose desired state differs)')
    .option('--now', 'apply the rollback at once, without review (break-glass; needs --reason)', false)
    .option('--reason <text>', 'why (recorded in the pin, the audit trail and the pull request)')
    .addHelpText('after', HELP);
  addLiveOptions(c, repoOption)
    .addOption(jsonOption())
    .action(async (o: RollbackOptions) => {
    ctx.exitCode = await runRollback(o, ctx.ports);
  });
}
