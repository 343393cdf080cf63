/**
 * The gate between a verdict and a write. `deny` is never applied. `require-approval` is applied
 * only with evidence that satisfies every requirement the verdict lists: approving reviews on
 * every pull request that brought the change (the GitHub integration gathers them, see
 * reconciler/github/) or a break-glass override, which lets a named person apply without reviews
 * and is recorded as such wherever the apply is recorded.
 */
import type { Change } from '../plan/plan.ts';
import type { ApprovalEvidence, PullApproval, PullRequestEvidence, Reviewer } from './evidence.ts';
import type { Verdict } from './verdict.ts';

export type { ApprovalEvidence, Reviewer } from './evidence.ts';

export type Gate = 'apply' | 'hold' | 'deny';

/** One agent's changes on one gateway, as apply sees them. */
export interface ChangeSet {
  readonly gateway: string;
  readonly agentId: string;
  readonly changes: readonly Change[];
  /** Fleet-repo files the changes come from (the resource's YAML, managed file contents). */
  readonly files: readonly string[];
  /** The desired commit the agent was last applied at; absent for an agent never applied. */
  readonly base?: string;
}

export interface ChangeSetApproval {
  readonly id: string;
  readonly evidence: PullRequestEvidence;
  /** Main-line commits that brought the set (for the approval PR's ledger entry). */
  readonly commits: readonly string[];
}


type Requirement = Verdict['approvals'][number];

/** Distinct reviewers in the named groups or users (anyone, when the rule names neither). */
export function approvalsFor(req: Requirement, reviewers: readonly Reviewer[]): string[] {
  const anyone = !req.teams?.length && !req.users?.length;
  const counted = reviewers.filter((r) => anyone || req.users?.includes(r.login) || r.groups.some((g) => req.teams?.includes(g)));
  return [...new Set(counted.map((r) => r.login))];
}

/** Whether one pull request's counted reviewers meet every requirement of the verdict. */
export const pullSatisfies = (verdict: Verdict, pull: Pick<PullApproval, 'reviewers'>): boolean =>
  verdict.approvals.every((req) => approvalsFor(req, pull.reviewers).length >= req.count);

export function gate(verdict: Verdict, evidence: ApprovalEvidence | undefined): Gate {
  if (verdict.effect === 'deny') return 'deny';
  if (verdict.effect === 'allow') return 'apply';
  if (!evidence) return 'hold';
  if (evidence.kind === 'break-glass') return 'apply';
  // Every commit that brought the change must have come through a pull request that meets the rule.
  if (evidence.unapproved?.length || !evidence.pulls.length) return 'hold';
  return evidence.pulls.every((p) => pullSatisfies(verdict, p)) ? 'apply' : 'hold';
}

/** What is still missing, for a held change's report: `1 more approval from security (baseline/model-change)`. */
export function missingApprovals(verdict: Verdict, evidence: ApprovalEvidence | undefined): string[] {
  const pulls = evidence?.kind === 'pull-request' ? evidence.pulls : [];
  const direct = evidence?.kind === 'pull-request' ? (evidence.unapproved ?? []) : [];
  // The least-approved pull request decides what is missing; with none, everything is.
  const worst = pulls.length ? pulls.reduce((a, b) => (shortfall(verdict, b) > shortfall(verdict, a) ? b : a)) : { reviewers: [] };
  const short = verdict.approvals.flatMap((req) => {
    const n = req.count - approvalsFor(req, worst.reviewers).length;
    if (n <= 0) return [];
    const from = [...(req.teams ?? []), ...(req.users ?? []).map((u) => `@${u}`)];
    const on = 'pr' in worst ? ` on #${worst.pr}` : '';
    return [`${n} more approval${n === 1 ? '' : 's'}${from.length ? ` from ${from.join(' or ')}` : ''}${on} (${req.rule})`];
  });
  return [...short, ...direct.map((d) => `an approving pull request for ${d.commit.slice(0, 7)} (${d.why})`)];
}

const shortfall = (verdict: Verdict, pull: Pick<PullApproval, 'reviewers'>): number =>
  verdict.approvals.reduce((n, req) => n + Math.max(0, req.count - approvalsFor(req, pull.reviewers).length), 0);
