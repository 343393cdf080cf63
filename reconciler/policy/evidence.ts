/**
 * Approval evidence: what let a `require-approval` change through, exactly as the audit trail
 * keeps it. Pull-request evidence names every pull request that brought the change's commits (all
 * of them must satisfy the rule), the head commit each was approved at, and each counted reviewer
 * with the review id and the approver groups they were in when the check ran (GitHub answers
 * team membership as of now, so the snapshot is recorded, not looked up later).
 */
import Type, { type Static } from 'typebox';

const SHA_PATTERN = '^[0-9a-f]{40}([0-9a-f]{24})?$';
const Sha = Type.String({ pattern: SHA_PATTERN });

export const ApprovingReviewer = Type.Object(
  {
    login: Type.String({ minLength: 1 }),
    groups: Type.Array(Type.String(), { description: 'Approver groups (clawops.yaml `approvers`) the reviewer was in at the check.' }),
    reviewId: Type.Optional(Type.Integer({ description: 'The GitHub review that counted.' })),
    submittedAt: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type Reviewer = Static<typeof ApprovingReviewer>;

export const PullApproval = Type.Object(
  {
    pr: Type.Integer({ minimum: 1 }),
    url: Type.Optional(Type.String()),
    author: Type.Optional(Type.String()),
    headSha: describeSha('The head commit the reviews approved.'),
    headRepo: Type.Optional(Type.String({ description: '`owner/name` the head branch lives in (a fork when it differs from the fleet repo).' })),
    mergeCommit: Type.Optional(describeSha('The commit the merge put on the branch (merge, squash or last rebased commit).')),
    reviewers: Type.Array(ApprovingReviewer, { description: 'Every valid approval (on the final head, not by an author or co-author), with the reviewer\'s approver groups at the check; a rule counts those in its groups.' }),
  },
  { additionalProperties: false },
);
export type PullApproval = Static<typeof PullApproval>;

export const ApprovalEvidence = Type.Union([
  Type.Object(
    {
      kind: Type.Literal('pull-request'),
      pulls: Type.Array(PullApproval, { description: 'Every pull request that brought the change (or the approval PR that released it).' }),
      unapproved: Type.Optional(
        Type.Array(Type.Object({ commit: Sha, why: Type.String() }, { additionalProperties: false }), { description: 'Commits no approving pull request brought (pushed directly, say).' }),
      ),
      ledger: Type.Optional(Type.String({ description: 'The `approvals/ledger.yaml` entry that released a held change set.' })),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('break-glass'),
      by: Type.String({ minLength: 1 }),
      reason: Type.String({ minLength: 1 }),
    },
    { additionalProperties: false },
  ),
]);
export type ApprovalEvidence = Static<typeof ApprovalEvidence>;
export type PullRequestEvidence = Extract<ApprovalEvidence, { kind: 'pull-request' }>;

function describeSha(description: string) {
  return Type.String({ pattern: SHA_PATTERN, description });
}
