/**
 * The state branch of a fleet repo, as the CLI opens it: the branch named in clawops.yaml
 * (`spec.audit.branch`, default `clawops/audit`); published to the repo's `origin` when that is
 * http(s), through a private bare cache in `.clawops/cache/audit.git`; otherwise kept in the repo's
 * own `.git` (objects and the one ref, never its work tree or index). Signed with
 * `CLAWOPS_SIGNING_KEY`/`CLAWOPS_SIGNING_KEY_FILE`, else the `spec.audit.signingKey` secret.
 */
import fs from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import git from 'isomorphic-git';
import { ClawopsError } from '../errors.ts';
import type { RepositoryConfig } from '../model/repository.ts';
import type { Redactor } from '../redact/redactor.ts';
import { findWorktree } from './worktree.ts';
import { gitToken, isHttpUrl, withoutCredentials } from './http-remote.ts';
import { readSecret } from '../secrets/age-store.ts';
import { openStateBranch } from './object-branch.ts';
import { signerFromEnv, signerFromKeyText, type CommitSigner } from './signing-key.ts';
import type { StateBranch } from './state-branch.ts';

export const DEFAULT_AUDIT_BRANCH = 'clawops/audit';
export const AUDIT_CACHE_DIR = join('.clawops', 'cache', 'audit.git');
export { GIT_TOKEN_ENVS } from './http-remote.ts';

export class NotAGitRepoError extends ClawopsError<{ repo: string }> {
  readonly code = 'NOT_A_GIT_REPO';
}

export interface OpenRepoBranchOptions {
  readonly redactor: Redactor;
  /** The age identities, asked for only when the signing key is an age secret. */
  readonly identities: () => Promise<readonly string[]>;
  readonly author?: { readonly name: string; readonly email: string };
  readonly now?: () => Date;
  /**
   * Keep the branch in this local git directory (created bare when missing) instead of the fleet
   * repo's: for a repo that is not a git checkout, or state kept apart (`--state-dir`).
   */
  readonly localGitdir?: string;
}

export interface RepoStateBranch {
  readonly branch: StateBranch;
  /** Where it is published (credentials removed), or undefined in local mode. */
  readonly remote: string | undefined;
  readonly signer: CommitSigner | undefined;
}

/** `<repo>/.git`, following a `.git` file (worktrees, submodules) to the directory holding refs and objects. */
export async function gitdirOf(repoRoot: string): Promise<string> {
  const wt = await findWorktree(repoRoot);
  if (!wt) throw new NotAGitRepoError(`${repoRoot} is not a git repository: run \`git init\` there (clawops keeps its audit branch in it)`, { repo: repoRoot });
  const { dotGit } = wt;
  const s = await stat(dotGit);
  let gitdir = dotGit;
  if (s.isFile()) {
    const m = /^gitdir: (.+)$/m.exec(await readFile(dotGit, 'utf8'));
    if (!m) throw new NotAGitRepoError(`${dotGit} is a file but not a "gitdir:" pointer`, { repo: repoRoot });
    gitdir = resolve(wt.root, m[1]!.trim());
  }
  const common = await readFile(join(gitdir, 'commondir'), 'utf8').catch(() => undefined);
  return common ? resolve(gitdir, common.trim()) : gitdir;
}

async function signerFor(repoRoot: string, config: RepositoryConfig, env: Readonly<Record<string, string | undefined>>, opts: OpenRepoBranchOptions): Promise<CommitSigner | undefined> {
  const inline = env.CLAWOPS_SIGNING_KEY?.trim();
  if (inline) opts.redactor.add(inline, 'signing-key');
  const fromEnv = await signerFromEnv(env);
  if (fromEnv) return fromEnv;
  const ref = config.spec.audit?.signingKey?.secretRef;
  if (!ref) return undefined;
  const text = await readSecret(repoRoot, ref, await opts.identities(), opts.redactor);
  return signerFromKeyText(text, `secrets/${ref}.age (spec.audit.signingKey)`);
}

export async function openRepoStateBranch(
  repoRoot: string,
  config: RepositoryConfig,
  env: Readonly<Record<string, string | undefined>>,
  opts: OpenRepoBranchOptions,
): Promise<RepoStateBranch> {
  const repoGitdir = opts.localGitdir ?? (await gitdirOf(repoRoot));
  const origin = opts.localGitdir ? undefined : await git.getConfig({ fs, gitdir: repoGitdir, path: 'remote.origin.url' }).catch(() => undefined);
  const url = typeof origin === 'string' && isHttpUrl(origin) ? origin : undefined;
  const token = gitToken(url, env, opts.redactor);
  const signer = await signerFor(repoRoot, config, env, opts);
  // The cache ignores itself, so it never shows up in the fleet repo's status, whatever its .gitignore says.
  if (url) await mkdir(join(repoRoot, dirname(AUDIT_CACHE_DIR)), { recursive: true }).then(() => writeFile(join(repoRoot, dirname(AUDIT_CACHE_DIR), '.gitignore'), '*\n'));
  const branch = await openStateBranch({
    gitdir: url ? join(repoRoot, AUDIT_CACHE_DIR) : repoGitdir,
    branch: config.spec.audit?.branch ?? DEFAULT_AUDIT_BRANCH,
    ...(url ? { remote: { url, token } } : {}),
    signer,
    author: opts.author ?? config.spec.audit?.committer ?? { name: 'clawops', email: 'clawops@localhost' },
    ...(opts.now ? { now: opts.now } : {}),
  });
  return { branch, remote: url === undefined ? undefined : withoutCredentials(url), signer };
}
