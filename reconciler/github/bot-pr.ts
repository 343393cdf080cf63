/**
 * Pull requests clawops opens itself (approval PRs, drift PRs), the way people expect a bot to
 * behave (research/anchors.md §7): one PR per subject, found again by its branch name; updated in
 * place only when its content changes (never a rebase storm when main merely moves); never
 * touched again once a human pushed to its branch; closed with a comment when moot; and
 * rate-limited, so a bad night cannot open a hundred PRs.
 *
 * Branches are built through the Git Data API (tree on the base commit, one commit, ref), so
 * no push credentials or clone are needed. The last head clawops wrote is kept in a hidden block
 * at the end of the PR body; a branch head that differs means someone else pushed.
 */
import type { GitHubClient } from './client.ts';
import { isOurs } from './client.ts';
import { explainGitHubError } from './errors.ts';

export interface BotPrSpec {
  /** e.g. `clawops/drift/prod-eu`: the subject's identity. */
  readonly branch: string;
  /** The branch the PR targets (the default branch). */
  readonly base: string;
  /** The commit the change is made on (the desired commit; it must exist on GitHub). */
  readonly baseSha: string;
  readonly title: string;
  readonly body: string;
  /** Work-tree path → new content, or null to delete the file. */
  readonly files: Readonly<Record<string, string | null>>;
  readonly message: string;
  /** Kept in the PR body and handed back on the next run (first-seen times, ids). */
  readonly meta?: Readonly<Record<string, unknown>>;
  readonly reviewers?: { readonly users: readonly string[]; readonly teams: readonly string[] };
  /**
   * The branch prefix of this PR's kind when it counts against the PR limits (drift PRs do, among
   * themselves; approval PRs, which unblock held changes, are never limited).
   */
  readonly limitedAs?: string;
}

export interface BotPrLimits {
  /** Open clawops PRs at most (default 10). */
  readonly concurrent: number;
  /** clawops PRs created in the last hour at most (default 2). */
  readonly hourly: number;
}

export const DEFAULT_PR_LIMITS: BotPrLimits = { concurrent: 10, hourly: 2 };

export interface OpenBotPr {
  readonly number: number;
  readonly url: string;
  readonly headSha: string;
  readonly meta: Readonly<Record<string, unknown>>;
  /** The head is not the commit clawops last wrote: a person pushed to the branch. */
  readonly humanPushed: boolean;
}

export type BotPrAction = 'created' | 'updated' | 'unchanged' | 'human-pushed' | 'rate-limited';

export interface BotPrResult {
  readonly action: BotPrAction;
  readonly number?: number;
  readonly url?: string;
  /** Reviewer requests GitHub refused (a team the token cannot see, say); the PR stands. */
  readonly warnings: readonly string[];
}

const META = /\n?<!-- clawops:pr (\{.*\}) -->\s*$/s;

const withMeta = (body: string, meta: Record<string, unknown>): string => `${body.replace(/\s+$/, '')}\n\n<!-- clawops:pr ${JSON.stringify(meta)} -->\n`;

export function metaOf(body: string | null | undefined): Record<string, unknown> {
  const m = body ? META.exec(body) : null;
  if (!m) return {};
  try {
    const v: unknown = JSON.parse(m[1]!);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A listed PR as clawops sees its own: the hidden metadata, and whether someone else pushed since. */
function openBotPr(p: { number: number; html_url: string; body: string | null; head: { sha: string } }): OpenBotPr {
  const meta = metaOf(p.body);
  return { number: p.number, url: p.html_url, headSha: p.head.sha, meta, humanPushed: typeof meta.head === 'string' && meta.head !== p.head.sha };
}

/** The open clawops PR for `branch`, if any. */
export async function findBotPr(gh: GitHubClient, branch: string): Promise<OpenBotPr | undefined> {
  const { octokit, owner, repo } = gh;
  try {
    const { data } = await octokit.rest.pulls.list({ owner, repo, state: 'open', head: `${owner}:${branch}`, per_page: 10 });
    const pr = data.find((p) => p.head.ref === branch && isOurs(gh, p.user?.login));
    return pr && openBotPr(pr);
  } catch (e) {
    throw explainGitHubError(e, `looking for the open pull request of ${branch}`, gh);
  }
}

/** Opens or updates the PR for `spec.branch` (see the module comment for the rules). */
export async function upsertBotPr(gh: GitHubClient, spec: BotPrSpec, limits: BotPrLimits = DEFAULT_PR_LIMITS): Promise<BotPrResult> {
  const { octokit, owner, repo } = gh;
  const step = async <T>(doing: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      throw explainGitHubError(e, doing, gh);
    }
  };
  const existing = await findBotPr(gh, spec.branch);
  if (existing?.humanPushed) return { action: 'human-pushed', number: existing.number, url: existing.url, warnings: [] };
  if (!existing && spec.limitedAs) {
    const why = await overLimit(gh, limits, spec.limitedAs);
    if (why) return { action: 'rate-limited', warnings: [why] };
  }

  // Only rewrite the branch when the files differ from what it holds: main moving is no reason.
  const same = existing ? await step(`reading ${spec.branch}`, () => filesMatch(gh, existing.headSha, spec.files)) : false;
  let head = existing?.headSha;
  if (!same) {
    head = await step(`writing the commit for ${spec.branch}`, async () => {
      const { data: base } = await octokit.rest.git.getCommit({ owner, repo, commit_sha: spec.baseSha });
      const { data: tree } = await octokit.rest.git.createTree({
        owner,
        repo,
        base_tree: base.tree.sha,
        tree: Object.entries(spec.files).map(([path, content]) => (content === null ? { path, mode: '100644' as const, type: 'blob' as const, sha: null } : { path, mode: '100644' as const, type: 'blob' as const, content })),
      });
      const { data: commit } = await octokit.rest.git.createCommit({ owner, repo, message: spec.message, tree: tree.sha, parents: [spec.baseSha] });
      return commit.sha;
    });
    await step(`updating branch ${spec.branch}`, () => setBranch(gh, spec.branch, head!));
  }
  const meta = { ...spec.meta, head };
  const body = withMeta(spec.body, meta);
  if (existing) {
    const { data: pr } = await step(`reading pull request #${existing.number}`, () => octokit.rest.pulls.get({ owner, repo, pull_number: existing.number }));
    if (same && pr.title === spec.title && pr.body === body) return { action: 'unchanged', number: existing.number, url: existing.url, warnings: [] };
    await step(`updating pull request #${existing.number}`, () => octokit.rest.pulls.update({ owner, repo, pull_number: existing.number, title: spec.title, body }));
    return { action: 'updated', number: existing.number, url: existing.url, warnings: [] };
  }
  const { data: pr } = await step(`opening a pull request from ${spec.branch}`, () => octokit.rest.pulls.create({ owner, repo, head: spec.branch, base: spec.base, title: spec.title, body }));
  const warnings: string[] = [];
  const users = (spec.reviewers?.users ?? []).filter((u) => !isOurs(gh, u));
  const teams = spec.reviewers?.teams ?? [];
  if (users.length || teams.length) {
    try {
      await octokit.rest.pulls.requestReviewers({ owner, repo, pull_number: pr.number, reviewers: [...users], team_reviewers: [...teams] });
    } catch (e) {
      warnings.push(`could not request reviewers on #${pr.number}: ${explainGitHubError(e, 'requesting reviewers', gh).message}`);
    }
  }
  return { action: 'created', number: pr.number, url: pr.html_url, warnings };
}

/** Closes a moot PR with a comment and deletes its branch (unless someone else pushed to it). */
export async function closeBotPr(gh: GitHubClient, pr: OpenBotPr, branch: string, comment: string): Promise<void> {
  const { octokit, owner, repo } = gh;
  try {
    await octokit.rest.issues.createComment({ owner, repo, issue_number: pr.number, body: comment });
    await octokit.rest.pulls.update({ owner, repo, pull_number: pr.number, state: 'closed' });
    if (!pr.humanPushed) await octokit.rest.git.deleteRef({ owner, repo, ref: `heads/${branch}` });
  } catch (e) {
    throw explainGitHubError(e, `closing pull request #${pr.number}`, gh);
  }
}

/** Open clawops PRs whose branch starts with `prefix` (paginated). */
export async function listBotPrs(gh: GitHubClient, prefix: string): Promise<Array<OpenBotPr & { branch: string }>> {
  const { octokit, owner, repo } = gh;
  try {
    const all = await octokit.paginate(octokit.rest.pulls.list, { owner, repo, state: 'open', per_page: 100 });
    return all
      .filter((p) => p.head.ref.startsWith(prefix) && isOurs(gh, p.user?.login))
      .map((p) => ({ ...openBotPr(p), branch: p.head.ref }));
  } catch (e) {
    throw explainGitHubError(e, `listing open ${prefix}* pull requests`, gh);
  }
}

async function overLimit(gh: GitHubClient, limits: BotPrLimits, prefix: string): Promise<string | undefined> {
  const { octokit, owner, repo } = gh;
  const open = await listBotPrs(gh, prefix);
  if (open.length >= limits.concurrent) return `${open.length} ${prefix}* pull requests are open (limit ${limits.concurrent}); merge or close some`;
  const { data: recent } = await octokit.rest.pulls.list({ owner, repo, state: 'all', sort: 'created', direction: 'desc', per_page: 100 });
  const hourAgo = Date.now() - 3_600_000;
  const lastHour = recent.filter((p) => p.head.ref.startsWith(prefix) && isOurs(gh, p.user?.login) && Date.parse(p.created_at) > hourAgo).length;
  if (lastHour >= limits.hourly) return `${lastHour} ${prefix}* pull requests were opened in the last hour (limit ${limits.hourly}); the next run tries again`;
  return undefined;
}

async function filesMatch(gh: GitHubClient, ref: string, files: Readonly<Record<string, string | null>>): Promise<boolean> {
  const { octokit, owner, repo } = gh;
  for (const [path, want] of Object.entries(files)) {
    let have: string | null = null;
    try {
      const { data } = await octokit.rest.repos.getContent({ owner, repo, path, ref });
      if (Array.isArray(data) || data.type !== 'file' || !('content' in data)) return false;
      have = Buffer.from(data.content, 'base64').toString('utf8');
    } catch (e) {
      if ((e as { status?: number }).status !== 404) throw e;
    }
    if (have !== want) return false;
  }
  return true;
}

async function setBranch(gh: GitHubClient, branch: string, sha: string): Promise<void> {
  const { octokit, owner, repo } = gh;
  try {
    await octokit.rest.git.updateRef({ owner, repo, ref: `heads/${branch}`, sha, force: true });
  } catch (e) {
    // 422 "Reference does not exist": a new subject.
    if ((e as { status?: number }).status !== 422 && (e as { status?: number }).status !== 404) throw e;
    await octokit.rest.git.createRef({ owner, repo, ref: `refs/heads/${branch}`, sha });
  }
}
