/**
 * GitHub as a live command sees it: connected when the fleet repo is on GitHub (clawops.yaml
 * `spec.github`, or a workflow's GITHUB_REPOSITORY) and credentials are set; otherwise absent,
 * and changes that need approval simply wait (the apply report says why). Also resolves what the
 * approval check needs from the local checkout: the git dir, the fleet repo's folder in it, the
 * desired commit and the default branch it is meant to be on.
 */
import { gitdirOf } from '../git/open-repo-branch.ts';
import { findWorktree } from '../git/worktree.ts';
import type { ValidRepo } from '../live/fleet-repo.ts';
import type { Redactor } from '../redact/redactor.ts';
import { ApproverDirectory } from './approver-directory.ts';
import { connectGitHub, GITHUB_ENV, type ConnectGitHubOptions, type GitHubClient } from './client.ts';
import { explainGitHubError } from './errors.ts';

export interface GitHubSession {
  readonly gh: GitHubClient;
  readonly directory: ApproverDirectory;
  /** The repository's default branch: where merged, approved changes land. */
  readonly branch: string;
  readonly gitdir: string;
  /** The fleet repo's folder in the work tree ('' at its root). */
  readonly prefix: string;
}

export interface GitHubSessionOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly redactor: Redactor;
  readonly fetch?: typeof fetch;
  readonly limits?: ConnectGitHubOptions['limits'];
  readonly warn?: (message: string) => void;
}

/** Whether this run is meant to reach GitHub at all (a repo is named and a credential is set). */
export function githubConfigured(repo: ValidRepo, env: Readonly<Record<string, string | undefined>>): boolean {
  const named = Boolean(repo.config.spec.github?.repository || env[GITHUB_ENV.repository]);
  const credential = GITHUB_ENV.token.some((v) => env[v]?.trim()) || Boolean(env[GITHUB_ENV.appId]?.trim());
  return named && credential;
}

export async function openGitHubSession(repo: ValidRepo, opts: GitHubSessionOptions): Promise<GitHubSession | undefined> {
  if (!githubConfigured(repo, opts.env)) return undefined;
  const wt = await findWorktree(repo.root);
  if (!wt) return undefined;
  const gh = await connectGitHub({
    env: opts.env,
    redactor: opts.redactor,
    ...(repo.config.spec.github ? { github: repo.config.spec.github } : {}),
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
    ...(opts.limits ? { limits: opts.limits } : {}),
    ...(opts.warn ? { warn: opts.warn } : {}),
  });
  let branch: string;
  try {
    branch = (await gh.octokit.rest.repos.get({ owner: gh.owner, repo: gh.repo })).data.default_branch;
  } catch (e) {
    throw explainGitHubError(e, `reading ${gh.owner}/${gh.repo}`, gh);
  }
  return { gh, directory: new ApproverDirectory(gh, repo.config.spec.approvers ?? {}), branch, gitdir: await gitdirOf(repo.root), prefix: wt.prefix };
}
