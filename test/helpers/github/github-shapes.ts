/**
 * The JSON the fake GitHub answers with, one builder per schema of GitHub's description: every
 * property the schema requires, with realistic values (node ids, URL templates as api.github.com
 * writes them, ISO timestamps) and URLs under the fake's own base. The validator checks every
 * response built here; a builder that misses a required field fails the suite.
 *
 * Users, teams, the App and repositories are in account-shapes.ts.
 *
 * Guessed, not observed (no real GitHub at hand): node id bodies, `verification.reason` for
 * signed commits (`unknown_key`: the fake knows no signing keys), `external_id: ''` on a check
 * run created without one.
 */
import type { CommitInfo, GitPerson, TreeEntry } from './bare-repo.ts';
import { AccountShapes, enc, type JsonObject } from './account-shapes.ts';
import { nodeId, type Annotation, type CheckRunState, type CommentState, type PullState, type RepoState, type ReviewState, type TeamState } from './github-state.ts';

/** What a pull request looks like right now (heads resolved, mergeability computed). */
export interface PullView {
  readonly pull: PullState;
  readonly headSha: string;
  readonly baseSha: string;
  /** Only for the full `pull-request` shape. */
  readonly details?: {
    readonly mergeable: boolean | null;
    readonly rebaseable: boolean | null;
    readonly testMergeSha: string | null;
    readonly commits: number;
    readonly additions: number;
    readonly deletions: number;
    readonly changedFiles: number;
    readonly comments: number;
  };
}

const encPath = (path: string) => path.split('/').map(enc).join('/');

/** Pull requests, reviews, comments, check runs and git objects, on top of the account shapes. */
export class Shapes extends AccountShapes {
  private pullUrls(p: PullState, headSha: string): JsonObject {
    const repoApi = `${this.api}/repos/${p.repo.fullName}`;
    const url = `${repoApi}/pulls/${p.number}`;
    const html = `${this.web}/${p.repo.fullName}/pull/${p.number}`;
    const links = {
      self: { href: url },
      html: { href: html },
      issue: { href: `${repoApi}/issues/${p.number}` },
      comments: { href: `${repoApi}/issues/${p.number}/comments` },
      review_comments: { href: `${url}/comments` },
      review_comment: { href: `${repoApi}/pulls/comments{/number}` },
      commits: { href: `${url}/commits` },
      statuses: { href: `${repoApi}/statuses/${headSha}` },
    };
    return {
      url,
      html_url: html,
      diff_url: `${html}.diff`,
      patch_url: `${html}.patch`,
      issue_url: links.issue.href,
      commits_url: links.commits.href,
      review_comments_url: links.review_comments.href,
      review_comment_url: links.review_comment.href,
      comments_url: links.comments.href,
      statuses_url: links.statuses.href,
      _links: links,
    };
  }

  private branch(repo: RepoState, ref: string, sha: string): JsonObject {
    return { label: `${repo.owner}:${ref}`, ref, sha, user: this.user(repo.owner), repo: this.repository(repo) };
  }

  /** `pull-request-simple` (lists), or `pull-request` when the view carries details. */
  pull(view: PullView): JsonObject {
    const { pull: p, headSha, baseSha, details } = view;
    const teams = p.requestedTeams.map((slug) => this.state.team(p.repo.owner, slug)).filter((t): t is TeamState => t !== undefined);
    const shape: JsonObject = {
      ...this.pullUrls(p, headSha),
      id: p.id,
      node_id: nodeId('PR', p.id),
      number: p.number,
      state: p.state,
      locked: false,
      title: p.title,
      user: this.user(p.author),
      body: p.body,
      labels: [],
      milestone: null,
      active_lock_reason: null,
      created_at: p.createdAt,
      updated_at: p.updatedAt,
      closed_at: p.closedAt,
      merged_at: p.merged?.at ?? null,
      merge_commit_sha: p.merged?.sha ?? details?.testMergeSha ?? null,
      assignee: null,
      assignees: [],
      requested_reviewers: p.requestedReviewers.map((l) => this.user(l)),
      requested_teams: teams.map((t) => this.team(t, details !== undefined)),
      head: this.branch(p.headRepo, p.headRef, headSha),
      base: this.branch(p.repo, p.baseRef, baseSha),
      author_association: this.state.association(p.author, p.repo),
      auto_merge: null,
      draft: p.draft,
    };
    if (!details) return shape;
    const mergeableState = p.state === 'closed' ? 'unknown' : p.draft ? 'draft' : details.mergeable === false ? 'dirty' : 'clean';
    return {
      ...shape,
      merged: p.merged !== undefined,
      mergeable: details.mergeable,
      rebaseable: details.rebaseable,
      mergeable_state: mergeableState,
      merged_by: p.merged ? this.user(p.merged.by) : null,
      comments: details.comments,
      review_comments: 0,
      maintainer_can_modify: p.maintainerCanModify,
      commits: details.commits,
      additions: details.additions,
      deletions: details.deletions,
      changed_files: details.changedFiles,
    };
  }

  /** `pull-request-minimal` (check runs' pull_requests). */
  pullMinimal(view: PullView): JsonObject {
    const side = (repo: RepoState, ref: string, sha: string) => ({ ref, sha, repo: { id: repo.id, url: `${this.api}/repos/${repo.fullName}`, name: repo.name } });
    const p = view.pull;
    return { id: p.id, number: p.number, url: `${this.api}/repos/${p.repo.fullName}/pulls/${p.number}`, head: side(p.headRepo, p.headRef, view.headSha), base: side(p.repo, p.baseRef, view.baseSha) };
  }

  review(r: ReviewState): JsonObject {
    const pr = `${this.api}/repos/${r.repo.fullName}/pulls/${r.pullNumber}`;
    const html = `${this.web}/${r.repo.fullName}/pull/${r.pullNumber}#pullrequestreview-${r.id}`;
    return {
      id: r.id,
      node_id: nodeId('PRR', r.id),
      user: this.user(r.user),
      body: r.body,
      state: r.state,
      html_url: html,
      pull_request_url: pr,
      author_association: this.state.association(r.user, r.repo),
      _links: { html: { href: html }, pull_request: { href: pr } },
      ...(r.submittedAt ? { submitted_at: r.submittedAt } : {}),
      commit_id: r.commitId,
    };
  }

  comment(c: CommentState): JsonObject {
    const url = `${this.api}/repos/${c.repo.fullName}/issues/comments/${c.id}`;
    const byBot = this.state.findAccount(c.user)?.type === 'Bot';
    return {
      id: c.id,
      node_id: nodeId('IC', c.id),
      url,
      html_url: `${this.web}/${c.repo.fullName}/pull/${c.issueNumber}#issuecomment-${c.id}`,
      body: c.body,
      user: this.user(c.user),
      created_at: c.createdAt,
      updated_at: c.updatedAt,
      issue_url: `${this.api}/repos/${c.repo.fullName}/issues/${c.issueNumber}`,
      author_association: this.state.association(c.user, c.repo),
      performed_via_github_app: byBot ? this.integration() : null,
      reactions: { url: `${url}/reactions`, total_count: 0, '+1': 0, '-1': 0, laugh: 0, hooray: 0, confused: 0, heart: 0, rocket: 0, eyes: 0 },
    };
  }

  checkRun(run: CheckRunState, pulls: readonly PullView[]): JsonObject {
    const url = `${this.api}/repos/${run.repo.fullName}/check-runs/${run.id}`;
    return {
      id: run.id,
      head_sha: run.headSha,
      node_id: nodeId('CR', run.id),
      external_id: run.externalId ?? '',
      url,
      html_url: `${this.web}/${run.repo.fullName}/runs/${run.id}`,
      details_url: run.detailsUrl ?? `${this.web}/${run.repo.fullName}/runs/${run.id}`,
      status: run.status,
      conclusion: run.conclusion,
      started_at: run.startedAt,
      completed_at: run.completedAt,
      output: { ...run.output, annotations_count: run.annotations.length, annotations_url: `${url}/annotations` },
      name: run.name,
      check_suite: { id: run.suiteId },
      app: this.integration(),
      pull_requests: pulls.map((v) => this.pullMinimal(v)),
    };
  }

  private verification(c: CommitInfo): JsonObject {
    return c.signature
      ? { verified: false, reason: 'unknown_key', signature: c.signature.signature, payload: c.signature.payload, verified_at: null }
      : { verified: false, reason: 'unsigned', signature: null, payload: null, verified_at: null };
  }

  private parents(repo: RepoState, c: CommitInfo, kind: 'git/commits' | 'commits'): JsonObject[] {
    return c.parents.map((sha) => ({ sha, url: `${this.api}/repos/${repo.fullName}/${kind}/${sha}`, html_url: `${this.web}/${repo.fullName}/commit/${sha}` }));
  }

  /** `git-commit` (git data API). */
  gitCommit(repo: RepoState, c: CommitInfo): JsonObject {
    const person = (p: GitPerson) => ({ name: p.name, email: p.email, date: p.date });
    return {
      sha: c.sha,
      node_id: nodeId('C', parseInt(c.sha.slice(0, 8), 16)),
      url: `${this.api}/repos/${repo.fullName}/git/commits/${c.sha}`,
      html_url: `${this.web}/${repo.fullName}/commit/${c.sha}`,
      author: person(c.author),
      committer: person(c.committer),
      message: c.message.replace(/\n$/, ''),
      tree: { sha: c.tree, url: `${this.api}/repos/${repo.fullName}/git/trees/${c.tree}` },
      parents: this.parents(repo, c, 'git/commits'),
      verification: this.verification(c),
    };
  }

  /** `commit` (pulls/list-commits): the git commit plus the accounts its emails belong to. */
  commit(repo: RepoState, c: CommitInfo): JsonObject {
    const url = `${this.api}/repos/${repo.fullName}/commits/${c.sha}`;
    const who = (p: GitPerson) => {
      const a = this.state.accountByEmail(p.email);
      return a ? this.user(a.login) : null;
    };
    const git = this.gitCommit(repo, c);
    return {
      sha: c.sha,
      node_id: git.node_id,
      url,
      html_url: git.html_url,
      comments_url: `${url}/comments`,
      commit: { url: git.url, author: git.author, committer: git.committer, message: git.message, tree: git.tree, comment_count: 0, verification: git.verification },
      author: who(c.author),
      committer: who(c.committer),
      parents: this.parents(repo, c, 'commits'),
    };
  }

  gitRef(repo: RepoState, ref: string, sha: string, type = 'commit'): JsonObject {
    return {
      ref,
      node_id: nodeId('REF', parseInt(sha.slice(0, 8), 16)),
      url: `${this.api}/repos/${repo.fullName}/git/${encPath(ref)}`,
      object: { type, sha, url: `${this.api}/repos/${repo.fullName}/git/${type}s/${sha}` },
    };
  }

  gitTree(repo: RepoState, sha: string, entries: readonly TreeEntry[]): JsonObject {
    const base = `${this.api}/repos/${repo.fullName}/git`;
    return {
      sha,
      url: `${base}/trees/${sha}`,
      truncated: false,
      tree: entries.map((e) => ({ path: e.path, mode: e.mode, type: e.type, sha: e.sha, ...(e.size !== undefined ? { size: e.size } : {}), ...(e.type === 'commit' ? {} : { url: `${base}/${e.type}s/${e.sha}` }) })),
    };
  }

  /** One entry of repos/get-content: a file with its content, or an item of a directory listing. */
  content(repo: RepoState, ref: string, entry: TreeEntry, content?: Buffer): JsonObject {
    const type = entry.type === 'tree' ? 'dir' : entry.type === 'commit' ? 'submodule' : entry.mode === '120000' ? 'symlink' : 'file';
    const url = `${this.api}/repos/${repo.fullName}/contents/${encPath(entry.path)}?ref=${enc(ref)}`;
    const gitUrl = entry.type === 'commit' ? null : `${this.api}/repos/${repo.fullName}/git/${entry.type === 'tree' ? 'trees' : 'blobs'}/${entry.sha}`;
    const html = `${this.web}/${repo.fullName}/${entry.type === 'tree' ? 'tree' : 'blob'}/${encPath(ref)}/${encPath(entry.path)}`;
    const shape: JsonObject = {
      type,
      size: entry.size ?? 0,
      name: entry.path.split('/').pop(),
      path: entry.path,
      sha: entry.sha,
      url,
      git_url: gitUrl,
      html_url: html,
      download_url: type === 'file' ? `${this.web}/${repo.fullName}/raw/${encPath(ref)}/${encPath(entry.path)}` : null,
      _links: { self: url, git: gitUrl, html },
    };
    if (content === undefined) return shape;
    // GitHub wraps the base64 at 60 columns.
    return { ...shape, encoding: 'base64', content: (content.toString('base64').match(/.{1,60}/g) ?? []).map((l) => `${l}\n`).join('') };
  }

  annotations(run: CheckRunState): Annotation[] {
    return run.annotations.map((a) => ({ ...a }));
  }
}

/** GitHub's error body: message, the operation's documentation page, the status as a string. */
export function errorBody(status: number, message: string, documentationUrl: string, errors?: ReadonlyArray<JsonObject | string>): JsonObject {
  return { message, documentation_url: documentationUrl, status: String(status), ...(errors ? { errors } : {}) };
}
