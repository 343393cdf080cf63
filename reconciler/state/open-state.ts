/**
 * Where a fleet repo's state and audit trail live, decided in one place for every command:
 *
 * - a git checkout, no `--state-dir`: both on the state branch (`clawops/audit`) of the repo's own
 *   git (published to `origin` when it is http(s)); only the secret-hash key stays local;
 * - `--state-dir DIR` (or CLAWOPS_STATE_DIR), or a repo that is not a git checkout: state as plain
 *   files in DIR (default `<repo>/.clawops/state`) and the audit branch in a bare repository
 *   `DIR/audit.git`, so an air-gapped or throwaway run still leaves a signed, verifiable trail.
 */
import { join } from 'node:path';
import * as git from 'isomorphic-git';
import fs from 'node:fs';
import { BufferedBranch } from '../git/buffered-branch.ts';
import { gitdirOf, openRepoStateBranch } from '../git/open-repo-branch.ts';
import { findWorktree } from '../git/worktree.ts';
import type { RepositoryConfig } from '../model/repository.ts';
import type { Redactor } from '../redact/redactor.ts';
import { GitBranchStateStore } from './git-branch-store.ts';
import { LocalDirStateStore } from './local-dir-store.ts';
import type { StateStore } from './state-store.ts';

export interface StateLocation {
  /** Local files: the secret-hash key, and the whole state when `localGitdir` is set. */
  readonly stateDir: string;
  /** The audit branch's git directory when it is not the fleet repo's own. */
  readonly localGitdir?: string;
}

const isGitCheckout = async (root: string): Promise<boolean> => (await findWorktree(root)) !== undefined;

export async function stateLocation(root: string, explicitDir: string | undefined): Promise<StateLocation> {
  if (explicitDir) return { stateDir: explicitDir, localGitdir: join(explicitDir, 'audit.git') };
  const stateDir = join(root, '.clawops', 'state');
  return (await isGitCheckout(root)) ? { stateDir } : { stateDir, localGitdir: join(stateDir, 'audit.git') };
}

export interface OpenedState {
  readonly store: StateStore;
  /** The state branch with this run's writes staged; the audit log commits them in one commit. */
  readonly branch: BufferedBranch;
  /** The fleet repo's HEAD commit, when it is a git checkout. */
  readonly desiredCommit?: string;
  /** Where the trail is published (credentials removed), if anywhere. */
  readonly remote?: string;
}

export interface OpenStateOptions {
  readonly root: string;
  readonly config: RepositoryConfig;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly explicitDir: string | undefined;
  readonly redactor: Redactor;
  readonly identities: () => Promise<readonly string[]>;
  readonly now: () => Date;
}

export async function openState(opts: OpenStateOptions): Promise<OpenedState> {
  const where = await stateLocation(opts.root, opts.explicitDir);
  const repo = await openRepoStateBranch(opts.root, opts.config, opts.env, {
    redactor: opts.redactor,
    identities: opts.identities,
    now: opts.now,
    ...(where.localGitdir ? { localGitdir: where.localGitdir } : {}),
  });
  if (repo.remote) await repo.branch.fetch();
  const branch = new BufferedBranch(repo.branch);
  const store = where.localGitdir ? new LocalDirStateStore(where.stateDir) : new GitBranchStateStore({ branch, keyDir: where.stateDir });
  const desiredCommit = where.localGitdir ? undefined : await git.resolveRef({ fs, gitdir: await gitdirOf(opts.root), ref: 'HEAD' }).catch(() => undefined);
  return { store, branch, ...(desiredCommit ? { desiredCommit } : {}), ...(repo.remote ? { remote: repo.remote } : {}) };
}
