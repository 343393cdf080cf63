/**
 * The files a revert pull request restores: for a set of targets, the YAML and managed file
 * contents that make up their desired state (at either commit); for the whole fleet, every file
 * that differs. Each gets its content at the rollback commit, or null where it did not exist.
 */
import fs from 'node:fs';
import * as git from 'isomorphic-git';
import type { DesiredGateway } from '../desired/effective-state.ts';
import { inWorktree } from '../git/worktree.ts';

export interface GitTrees {
  readonly gitdir: string;
  /** The fleet repo's folder in the work tree ('' at its root). */
  readonly prefix: string;
}

/** Fleet-repo-relative paths of what renders `desired`: Agent YAML, managed file contents, ApprovalRule YAML. */
export function sourcesOf(desired: DesiredGateway, stripPrefix = ''): string[] {
  const strip = (p: string) => (stripPrefix && p.startsWith(`${stripPrefix}/`) ? p.slice(stripPrefix.length + 1) : p);
  const out = new Set<string>();
  for (const a of desired.agents.values()) {
    out.add(a.resource.file);
    for (const f of a.files) out.add(strip(f.contentFile));
    if (a.exec) out.add(a.exec.rule.file);
  }
  return [...out].sort();
}

/** Path → content at `to` (null: absent there) of every given path (default: every file) that differs between `from` and `to`. */
export async function revertFiles(t: GitTrees, from: string, to: string, paths?: readonly string[]): Promise<Record<string, string | null>> {
  const [before, after] = await Promise.all([blobs(t, from), blobs(t, to)]);
  const wanted = paths ?? [...new Set([...before.keys(), ...after.keys()])].sort();
  const out: Record<string, string | null> = {};
  for (const p of wanted) {
    const oid = after.get(p);
    if (oid === before.get(p)) continue;
    out[p] = oid === undefined ? null : Buffer.from((await git.readBlob({ fs, gitdir: t.gitdir, oid })).blob).toString('utf8');
  }
  return out;
}

/** Every file of the fleet repo's folder at `commit`: path → blob oid. */
async function blobs(t: GitTrees, commit: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (oid: string, at: string): Promise<void> => {
    for (const e of (await git.readTree({ fs, gitdir: t.gitdir, oid })).tree) {
      const p = at ? `${at}/${e.path}` : e.path;
      if (e.type === 'tree') await walk(e.oid, p);
      else if (e.type === 'blob') out.set(p, e.oid);
    }
  };
  const top = await git.readTree({ fs, gitdir: t.gitdir, oid: commit, ...(t.prefix ? { filepath: t.prefix } : {}) }).catch(() => undefined);
  if (top) await walk(top.oid, '');
  return out;
}

/** The same paths as the work tree names them (what a pull request writes). */
export function inWorktreePaths(prefix: string, files: Readonly<Record<string, string | null>>): Record<string, string | null> {
  return Object.fromEntries(Object.entries(files).map(([p, c]) => [inWorktree({ prefix }, p), c]));
}
