/**
 * The fleet repo as it was at a commit, for rendering a pinned target's desired state: the
 * commit's tree (the fleet repo's folder of it) is exported with isomorphic-git into
 * `<repo>/.clawops/cache/rev/<sha>/` and loaded like any repo. Never a checkout: the user's work
 * tree, index and HEAD stay as they are.
 *
 * The export lives inside the repo root (not in a temp dir) because apply reads managed file
 * contents by repo-relative path (`FileWrite.contentFile`), after planning. A commit's tree never
 * changes, so the export is a cache: reused by every plan of the run and by later runs, and kept
 * when a pin lifts (another target may be pinned to the same commit in the same run). It sits in
 * `.clawops/cache/`, which is git-ignored and skipped by the repo walk.
 */
import fs from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import * as git from 'isomorphic-git';
import { isError } from '../diagnostics/diagnostic.ts';
import { ClawopsError } from '../errors.ts';
import { gitdirOf } from '../git/open-repo-branch.ts';
import { findWorktree } from '../git/worktree.ts';
import { loadRepo, type FleetRepo } from '../load/load-repo.ts';

export class RevisionRepoError extends ClawopsError<{ sha: string }> {
  readonly code = 'REVISION_REPO';
}

export interface RepoAtRevision {
  readonly sha: string;
  readonly repo: FleetRepo;
  /** Where it was exported, relative to the current repo's root (`/`-separated). */
  readonly rel: string;
}

/** `.clawops/cache/rev/<sha>`, relative to the fleet repo root. */
export const revisionDir = (sha: string): string => posix.join('.clawops', 'cache', 'rev', sha);

const loaded = new Map<string, Promise<RepoAtRevision>>();

/** The fleet repo at `root` as of commit `sha` (exported once, loaded once per process). */
export function repoAt(root: string, sha: string): Promise<RepoAtRevision> {
  const key = `${root}\0${sha}`;
  let p = loaded.get(key);
  if (!p) {
    p = load(root, sha);
    loaded.set(key, p);
    p.catch(() => loaded.delete(key));
  }
  return p;
}

async function load(root: string, sha: string): Promise<RepoAtRevision> {
  const rel = revisionDir(sha);
  const dir = join(root, rel);
  if (!(await stat(dir).then(() => true, () => false))) await exportTree(root, sha, dir);
  const repo = await loadRepo(dir);
  const errors = repo.diagnostics.filter(isError);
  if (errors.length || !repo.config) {
    const first = errors[0];
    throw new RevisionRepoError(`the fleet repo at ${sha.slice(0, 12)} does not load (${first ? `${first.file}: ${first.message}` : 'no clawops.yaml'}); roll back to a commit that validates`, { sha });
  }
  return { sha, repo, rel };
}

/** Writes the fleet repo's folder of commit `sha` into `dir`, atomically (a sibling then a rename). */
export async function exportTree(root: string, sha: string, dir: string): Promise<void> {
  const gitdir = await gitdirOf(root);
  const prefix = (await findWorktree(root))?.prefix ?? '';
  const tmp = `${dir}.${process.pid}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const walk = async (treeOid: string, into: string): Promise<void> => {
    const { tree } = await git.readTree({ fs, gitdir, oid: treeOid });
    for (const e of tree) {
      const at = join(into, e.path);
      if (e.type === 'tree') {
        await mkdir(at, { recursive: true });
        await walk(e.oid, at);
      } else if (e.type === 'blob' && e.mode !== '120000') {
        // Symlinks are left out: their targets may not exist in the export.
        const { blob } = await git.readBlob({ fs, gitdir, oid: e.oid });
        await writeFile(at, blob);
      }
    }
  };
  try {
    const top = await git.readTree({ fs, gitdir, oid: sha, ...(prefix ? { filepath: prefix } : {}) });
    await walk(top.oid, tmp);
    await mkdir(dirname(dir), { recursive: true });
    await rename(tmp, dir).catch(async (e: NodeJS.ErrnoException) => {
      // Another run exported the same commit first: theirs is as good as ours.
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
      await rm(tmp, { recursive: true, force: true });
    });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    if (e instanceof Error && e.name === 'NotFoundError') throw new RevisionRepoError(`the fleet repo's folder (${prefix || '.'}) does not exist at ${sha.slice(0, 12)}`, { sha });
    throw e;
  }
}
