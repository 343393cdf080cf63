/**
 * The git work tree a fleet repo lives in. The fleet repo may be the work tree's root or a folder
 * of it (the Action's `repo-path`), so the search walks up from the fleet repo to the first
 * `.git` (a directory, or a `gitdir:` file in a linked work tree or submodule).
 */
import { stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';

export interface Worktree {
  /** The work tree's root. */
  readonly root: string;
  /** Its `.git` (directory or pointer file). */
  readonly dotGit: string;
  /** The fleet repo's folder relative to the root, `/`-separated; '' at the root. */
  readonly prefix: string;
}

export async function findWorktree(dir: string): Promise<Worktree | undefined> {
  for (let at = dir; ; ) {
    const dotGit = join(at, '.git');
    if (await stat(dotGit).then(() => true, () => false)) return { root: at, dotGit, prefix: relative(at, dir).split(sep).join('/') };
    const up = dirname(at);
    if (up === at) return undefined;
    at = up;
  }
}

/** A fleet-repo-relative path as a work-tree path. */
export const inWorktree = (wt: Pick<Worktree, 'prefix'>, path: string): string => (wt.prefix ? `${wt.prefix}/${path}` : path);
