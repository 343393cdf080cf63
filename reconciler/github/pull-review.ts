/**
 * One pull request's approval state, read from GitHub: its head, author and commit authors, every
 * review (paginated) and each counted reviewer's approver groups. The rules that decide which
 * reviews count live in review-decision.ts; this module only gathers the facts.
 */
import type { PullApproval } from '../policy/evidence.ts';
import type { ApproverDirectory } from './approver-directory.ts';
import type { GitHubClient } from './client.ts';
import { explainGitHubError } from './errors.ts';
import { coAuthorLogins, decideReviews } from './review-decision.ts';

export interface ReviewedPull {
  /** The evidence as the audit trail keeps it (counted reviewers only). */
  readonly approval: PullApproval;
  readonly state: 'open' | 'closed';
  readonly merged: boolean;
  readonly baseRef: string;
  /** Reviewers who do not count, and why. */
  readonly ignored: ReadonlyArray<{ readonly login: string; readonly why: string }>;
}

export async function reviewPull(gh: GitHubClient, number: number, directory: ApproverDirectory): Promise<ReviewedPull> {
  const { octokit, owner, repo } = gh;
  try {
    const { data: pull } = await octokit.rest.pulls.get({ owner, repo, pull_number: number });
    const [reviews, commits] = await Promise.all([
      octokit.paginate(octokit.rest.pulls.listReviews, { owner, repo, pull_number: number, per_page: 100 }),
      octokit.paginate(octokit.rest.pulls.listCommits, { owner, repo, pull_number: number, per_page: 100 }),
    ]);
    const writers = new Set<string>();
    const emails = new Map<string, string>();
    for (const c of commits) {
      for (const [who, sig] of [
        [c.author, c.commit.author],
        [c.committer, c.commit.committer],
      ] as const) {
        // GitHub's own committer on web edits and merges is not a person who wrote the change.
        if (!who?.login || who.login === 'web-flow') continue;
        writers.add(who.login);
        if (sig?.email) emails.set(sig.email.toLowerCase(), who.login);
      }
    }
    for (const login of coAuthorLogins(commits.map((c) => c.commit.message), emails)) writers.add(login);
    const author = pull.user.login;
    const decision = decideReviews(
      { number, author, headSha: pull.head.sha, coAuthors: writers },
      reviews.map((r) => ({ id: r.id, login: r.user?.login, state: r.state, commitId: r.commit_id, ...(r.submitted_at ? { submittedAt: r.submitted_at } : {}) })),
      new Set([gh.login]),
    );
    const reviewers = await Promise.all(
      decision.approvedBy.map(async (r) => ({ login: r.login, groups: await directory.groupsOf(r.login), reviewId: r.reviewId, ...(r.submittedAt ? { submittedAt: r.submittedAt } : {}) })),
    );
    return {
      approval: {
        pr: number,
        url: pull.html_url,
        author,
        headSha: pull.head.sha,
        ...(pull.head.repo ? { headRepo: pull.head.repo.full_name } : {}),
        ...(pull.merged && pull.merge_commit_sha ? { mergeCommit: pull.merge_commit_sha } : {}),
        reviewers,
      },
      state: pull.state === 'open' ? 'open' : 'closed',
      merged: pull.merged,
      baseRef: pull.base.ref,
      ignored: decision.ignored,
    };
  } catch (e) {
    throw explainGitHubError(e, `reading the reviews of pull request #${number}`, gh);
  }
}
