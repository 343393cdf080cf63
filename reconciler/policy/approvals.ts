/**
 * The gate between a verdict and a write. `deny` is never applied. `require-approval` is applied
 * only with evidence that satisfies every requirement the verdict lists: approving reviews (the
 * GitHub integration gathers them from pull requests) or a break-glass override, which lets a
 * named person apply without reviews and is recorded as such wherever the apply is recorded.
 */
import type { Verdict } from './verdict.ts';

export interface Reviewer {
  readonly login: string;
  /** Approver groups (clawops.yaml `approvers`) the reviewer belongs to. */
  readonly groups: readonly string[];
}

export type ApprovalEvidence =
  | { readonly kind: 'pull-request'; readonly pr: number; readonly headSha: string; readonly reviewers: readonly Reviewer[] }
  | { readonly kind: 'break-glass'; readonly by: string; readonly reason: string };

export type Gate = 'apply' | 'hold' | 'deny';

type Requirement = Verdict['approvals'][number];

/** Distinct reviewers in the named groups or users (anyone, when the rule names neither). */
export function approvalsFor(req: Requirement, reviewers: readonly Reviewer[]): string[] {
  const anyone = !req.teams?.length && !req.users?.length;
  const counted = reviewers.filter((r) => anyone || req.users?.includes(r.login) || r.groups.some((g) => req.teams?.includes(g)));
  return [...new Set(counted.map((r) => r.login))];
}

export function gate(verdict: Verdict, evidence: ApprovalEvidence | undefined): Gate {
  if (verdict.effect === 'deny') return 'deny';
  if (verdict.effect === 'allow') return 'apply';
  if (!evidence) return 'hold';
  if (evidence.kind === 'break-glass') return 'apply';
  return verdict.approvals.every((req) => approvalsFor(req, evidence.reviewers).length >= req.count) ? 'apply' : 'hold';
}

/** What is still missing, for a held change's report: `1 more approval from security (baseline/model-change)`. */
export function missingApprovals(verdict: Verdict, evidence: ApprovalEvidence | undefined): string[] {
  const reviewers = evidence?.kind === 'pull-request' ? evidence.reviewers : [];
  return verdict.approvals.flatMap((req) => {
    const short = req.count - approvalsFor(req, reviewers).length;
    if (short <= 0) return [];
    const from = [...(req.teams ?? []), ...(req.users ?? []).map((u) => `@${u}`)];
    return [`${short} more approval${short === 1 ? '' : 's'}${from.length ? ` from ${from.join(' or ')}` : ''} (${req.rule})`];
  });
}
