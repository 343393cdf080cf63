/**
 * The main line of a branch as the approval check reads it: its first-parent commits, newest
 * first, and which of them changed given files. On the main line every merge, squash or rebase
 * of a pull request and every direct push is exactly one step (or, for a rebase, consecutive
 * steps), so "which pull request brought this file's changes" is a question per step.
 *
 * A shallow clone ends early: the walk reports where, so a caller can fail closed and say to
 * fetch the full history (actions/checkout `fetch-depth: 0`).
 */
import fs from 'node:fs';
import { posix } from 'node:path';
import git from 'isomorphic-git';

export interface MainLine {
  /** First-parent commits from the head back to (not including) the base, newest first. */
  readonly commits: readonly string[];
  /** Why the walk stopped before the base (or the root, without a base): a shallow clone or the limit. */
  readonly cutShort?: string;
}

export async function mainLine(gitdir: string, head: string, opts: { base?: string; limit?: number } = {}): Promise<MainLine> {
  const limit = opts.limit ?? 2000;
  const commits: string[] = [];
  for (let at: string | undefined = head; at && at !== opts.base; ) {
    if (commits.length >= limit) return { commits, cutShort: `more than ${limit} commits since ${opts.base ? opts.base.slice(0, 7) : 'the first commit'}` };
    let parent: string | undefined;
    try {
      parent = (await git.readCommit({ fs, gitdir, oid: at, cache: CACHE })).commit.parent[0];
    } catch {
      return { commits, cutShort: `commit ${at.slice(0, 7)} is not in this clone (a shallow checkout? fetch the full history, e.g. actions/checkout with fetch-depth: 0)` };
    }
    commits.push(at);
    at = parent;
  }
  return { commits };
}

/** The blob id of `path` at `commit`, or undefined when the file does not exist there. */
export async function blobAt(gitdir: string, commit: string, path: string): Promise<string | undefined> {
  const dir = posix.dirname(path);
  try {
    const { tree } = await git.readTree({ fs, gitdir, oid: commit, ...(dir === '.' ? {} : { filepath: dir }), cache: CACHE });
    return tree.find((e) => e.path === posix.basename(path) && e.type === 'blob')?.oid;
  } catch {
    return undefined;
  }
}

/** Whether the step `commit` (against its first parent) changed any of `paths`. */
export async function changesAny(gitdir: string, commit: string, paths: readonly string[]): Promise<boolean> {
  const { commit: c } = await git.readCommit({ fs, gitdir, oid: commit, cache: CACHE });
  const parent = c.parent[0];
  for (const p of paths) {
    const now = await blobAt(gitdir, commit, p);
    const before = parent ? await blobAt(gitdir, parent, p) : undefined;
    if (now !== before) return true;
  }
  return false;
}

export async function readBlobText(gitdir: string, oid: string): Promise<string> {
  const { blob } = await git.readBlob({ fs, gitdir, oid, cache: CACHE });
  return Buffer.from(blob).toString('utf8');
}

/** isomorphic-git's pack cache, shared by every walk in the process (packs are immutable). */
const CACHE = {};
