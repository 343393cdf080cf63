/**
 * One comment per pull request and subject (the plan), edited in place on every run instead of
 * piling up. Ours is recognised by a hidden marker at the start of the body *and* our login: a
 * user who pastes the marker into their own comment cannot get clawops to edit (or hide behind)
 * theirs.
 */
import { isOurs, type GitHubClient } from './client.ts';
import { explainGitHubError } from './errors.ts';
import { fitMarkdown } from './truncate.ts';

/** GitHub's limit on an issue or PR comment body, in characters. */
export const COMMENT_BODY_LIMIT = 65_536;

export const TRUNCATED_COMMENT_NOTE =
  '> **This comment was cut** to fit GitHub’s 65,536-character limit. The full plan is in the check run’s details and the job summary.';

export interface StickyCommentInput {
  /** Names the comment's subject: `plan` → `<!-- clawops:plan -->`. Letters, digits, `.`, `_`, `:`, `/`, `-`. */
  readonly marker: string;
  readonly body: string;
  /** Replaces TRUNCATED_COMMENT_NOTE when the body has to be cut. */
  readonly truncatedNote?: string;
}

export interface StickyCommentResult {
  readonly id: number;
  readonly url: string;
  readonly action: 'created' | 'updated' | 'unchanged';
  /** The body was cut to fit GitHub's limit. */
  readonly truncated: boolean;
}

export function markerLine(marker: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/.test(marker) || marker.includes('--')) {
    throw new TypeError(`sticky comment marker ${JSON.stringify(marker)} must be letters, digits, ".", "_", ":", "/" or single "-"`);
  }
  return `<!-- clawops:${marker} -->`;
}

/** The full body clawops posts: the marker line, then the Markdown, cut to GitHub's limit. */
export function stickyBody(input: StickyCommentInput): { body: string; truncated: boolean } {
  const head = `${markerLine(input.marker)}\n`;
  const fitted = fitMarkdown(input.body, COMMENT_BODY_LIMIT - head.length, input.truncatedNote ?? TRUNCATED_COMMENT_NOTE);
  return { body: head + fitted.text, truncated: fitted.truncated };
}

// GitHub may hand a body back with CRLF line ends; that alone is no reason to edit the comment.
const sameText = (a: string, b: string): boolean => a.replace(/\r\n/g, '\n') === b.replace(/\r\n/g, '\n');

interface ListedComment {
  readonly id: number;
  readonly html_url: string;
  readonly body?: string | undefined;
  readonly user: { readonly login: string } | null;
}

/**
 * Creates, updates or leaves alone our comment carrying `marker` on pull request `prNumber`. The
 * oldest of ours wins when a race left two; pages stop being read once it is found.
 */
export async function upsertStickyComment(gh: GitHubClient, prNumber: number, input: StickyCommentInput): Promise<StickyCommentResult> {
  const { body, truncated } = stickyBody(input);
  const mark = markerLine(input.marker);
  const { octokit, owner, repo } = gh;
  const doing = (what: string) => `${what} the clawops comment on ${owner}/${repo}#${prNumber}`;
  let found: ListedComment | undefined;
  try {
    await octokit.paginate(octokit.rest.issues.listComments, { owner, repo, issue_number: prNumber, per_page: 100 }, (response, done) => {
      found ??= (response.data as ListedComment[]).find((c) => isOurs(gh, c.user?.login) && (c.body ?? '').trimStart().startsWith(mark));
      if (found) done();
      return [];
    });
  } catch (e) {
    throw explainGitHubError(e, doing('finding'), gh);
  }
  if (found) {
    if (sameText(found.body ?? '', body)) return { id: found.id, url: found.html_url, action: 'unchanged', truncated };
    try {
      const { data } = await octokit.rest.issues.updateComment({ owner, repo, comment_id: found.id, body });
      return { id: data.id, url: data.html_url, action: 'updated', truncated };
    } catch (e) {
      throw explainGitHubError(e, doing('updating'), gh);
    }
  }
  try {
    const { data } = await octokit.rest.issues.createComment({ owner, repo, issue_number: prNumber, body });
    return { id: data.id, url: data.html_url, action: 'created', truncated };
  } catch (e) {
    throw explainGitHubError(e, doing('posting'), gh);
  }
}
