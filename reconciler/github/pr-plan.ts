/**
 * A pull request's plan on GitHub (DESIGN §1): validation, the plan (against live, or the last
 * live snapshot when the runner cannot reach a gateway), and the approval state of every change
 * policy gates, judged on this pull request's reviews exactly as apply will judge them after the
 * merge. Posted as one sticky comment (updated in place) and one check run whose conclusion and
 * annotations (file:line) reflect validation, policy and approvals.
 */
import { isError, type Diagnostic } from '../diagnostics/diagnostic.ts';
import type { ValidRepo } from '../live/fleet-repo.ts';
import type { Change, Plan } from '../plan/plan.ts';
import { renderPlanMarkdown } from '../plan/render/markdown.ts';
import { codeSpan } from '../plan/render/markdown-escape.ts';
import { gate, missingApprovals } from '../policy/approvals.ts';
import type { PullRequestEvidence } from '../policy/evidence.ts';
import { annotationsFor, checkConclusion } from './annotations.ts';
import type { ApproverDirectory } from './approver-directory.ts';
import { publishCheckRun, type CheckRunResult } from './check-run.ts';
import type { GitHubClient } from './client.ts';
import { reviewPull, type ReviewedPull } from './pull-review.ts';
import { upsertStickyComment, type StickyCommentResult } from './sticky-comment.ts';

export const PLAN_CHECK_NAME = 'clawops plan';
export const PLAN_MARKER = 'plan';

export interface PullRequestPlanInput {
  readonly gh: GitHubClient;
  readonly pr: number;
  readonly headSha: string;
  /** The fleet repo's folder in the git repository ('' at its root), for annotation paths. */
  readonly pathPrefix: string;
  readonly diagnostics: readonly Diagnostic[];
  /** Absent when validation failed (nothing to plan). */
  readonly plan?: Plan;
  readonly repo?: ValidRepo;
  readonly directory?: ApproverDirectory;
  /** Link to the workflow run, for the comment's footer. */
  readonly runUrl?: string;
}

export interface PullRequestPlanResult {
  readonly comment: StickyCommentResult;
  readonly check: CheckRunResult;
  readonly conclusion: string;
  readonly title: string;
  readonly markdown: string;
}

/** Each gated change with what this pull request's reviews already give it. */
function approvalRows(plan: Plan, pull: ReviewedPull | undefined): { rows: string[]; waiting: number } {
  const evidence: PullRequestEvidence | undefined = pull ? { kind: 'pull-request', pulls: [pull.approval] } : undefined;
  const gated = plan.gateways.flatMap((g) => g.changes).filter((c) => c.verdict.effect === 'require-approval');
  // The same change on many gateways is one row.
  const seen = new Map<string, { c: Change; gateways: string[] }>();
  for (const c of gated) {
    const key = JSON.stringify([c.resource, c.path, c.action, c.verdict.approvals]);
    const s = seen.get(key);
    if (s) s.gateways.push(c.gateway);
    else seen.set(key, { c, gateways: [c.gateway] });
  }
  let waiting = 0;
  const rows = [...seen.values()].map(({ c, gateways }) => {
    const ok = gate(c.verdict, evidence) === 'apply';
    if (!ok) waiting += gateways.length;
    const status = ok
      ? `✅ approved by ${pull!.approval.reviewers.map((r) => codeSpan(r.login)).join(', ')}`
      : `⏳ ${missingApprovals(c.verdict, evidence).join('; ')}`;
    return `| ${codeSpan(c.resource)} | ${codeSpan(c.path)} | ${gateways.map(codeSpan).join(', ')} | ${c.risk} | ${status} |`;
  });
  return { rows, waiting };
}

function approvalsSection(rows: readonly string[], pull: ReviewedPull | undefined): string {
  if (!rows.length) return '';
  const ignored = pull?.ignored.length ? `\n\nNot counted: ${pull.ignored.map((i) => `${codeSpan(i.login)} (${i.why})`).join('; ')}.` : '';
  return [
    '### Approvals',
    '',
    'Reviews count when they approve the final head commit, come from the required groups and not from the author or a co-author. clawops checks them again when it applies the merge.',
    '',
    '| Resource | Path | Gateways | Risk | Status |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n') + ignored + '\n\n';
}

function invalidSection(diagnostics: readonly Diagnostic[]): string {
  const errors = diagnostics.filter(isError);
  const lines = errors.slice(0, 50).map((d) => `- ${codeSpan(`${d.file}${d.line ? `:${d.line}` : ''}`)} ${d.field ? `${codeSpan(d.field)}: ` : ''}${d.message.replace(/\n/g, ' ')}`);
  return `### ❌ The fleet repo is invalid: ${errors.length} error${errors.length === 1 ? '' : 's'}\n\nNothing was planned. Each error is annotated on its line in the check run.\n\n${lines.join('\n')}${errors.length > 50 ? `\n- … and ${errors.length - 50} more` : ''}\n`;
}

export async function publishPullRequestPlan(input: PullRequestPlanInput): Promise<PullRequestPlanResult> {
  const { gh, plan } = input;
  const pull = plan && input.directory && plan.summary.needApproval > 0 ? await reviewPull(gh, input.pr, input.directory) : undefined;
  const { rows, waiting } = plan ? approvalRows(plan, pull) : { rows: [], waiting: 0 };
  const validationErrors = input.diagnostics.filter(isError).length;
  const verdict = checkConclusion({
    validationErrors,
    denied: plan?.summary.denied ?? 0,
    awaitingApproval: waiting,
    planErrors: plan?.summary.gatewaysWithErrors ?? 0,
    ...(plan ? { changes: plan.summary.create + plan.summary.update + plan.summary.delete } : {}),
  });
  const footer = `\n---\n<sub>clawops plan for ${codeSpan(input.headSha.slice(0, 12))}${input.runUrl ? ` · [workflow run](${input.runUrl})` : ''}</sub>\n`;
  const head = `## clawops: ${verdict.title}\n\n`;
  const body = plan ? `${head}${approvalsSection(rows, pull)}${renderPlanMarkdown(plan, { maxChars: 55_000 })}${footer}` : `${head}${invalidSection(input.diagnostics)}${footer}`;
  const comment = await upsertStickyComment(gh, input.pr, { marker: PLAN_MARKER, body });
  const check = await publishCheckRun(gh, {
    name: PLAN_CHECK_NAME,
    headSha: input.headSha,
    conclusion: verdict.conclusion,
    title: verdict.title,
    summary: body,
    annotations: annotationsFor({
      diagnostics: input.diagnostics,
      ...(plan ? { plan } : {}),
      pathPrefix: input.pathPrefix,
      ...(input.repo?.config.spec.approvers ? { approvers: input.repo.config.spec.approvers } : {}),
    }),
  });
  return { comment, check, conclusion: verdict.conclusion, title: verdict.title, markdown: body };
}
