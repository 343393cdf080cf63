/**
 * What `rollback --to` names: a git revision of the fleet repo (full or short sha, branch, tag,
 * `HEAD~2`, `main^2`) resolved with isomorphic-git, or an audit event's `seq` (the desired commit
 * that event recorded). Never touches the work tree, the index or HEAD.
 */
import fs from 'node:fs';
import * as git from 'isomorphic-git';
import { showEvent } from '../audit/search.ts';
import { UsageError } from '../errors.ts';
import type { TreeView } from '../git/state-branch.ts';

/** `seq:N`, or a plain number of at most 6 digits (a short sha has at least 7). */
export function seqOf(to: string): number | undefined {
  const m = /^(?:seq:|#)?(\d+)$/i.exec(to);
  if (!m) return undefined;
  if (!/^(seq:|#)/i.test(to) && m[1]!.length > 6) return undefined;
  return Number(m[1]);
}

const listHint = (root: string) => `list them with \`git -C ${root} log --oneline\` (or pick an audit event with \`clawops audit search\` and pass its seq)`;

/** The full commit sha `rev` names in the git repository at `gitdir`. */
export async function resolveRevision(gitdir: string, root: string, rev: string): Promise<string> {
  const bad = (why: string) => new UsageError(`--to ${rev}: ${why}; ${listHint(root)}`, {});
  const m = /^(.+?)((?:[~^]\d*)*)$/.exec(rev.trim());
  if (!m) throw bad('not a revision');
  let oid = await resolveBase(gitdir, m[1]!).catch((e: unknown) => {
    throw bad(e instanceof Error && e.name === 'AmbiguousError' ? 'the short sha is ambiguous, give more digits' : 'no such commit, branch or tag in the fleet repo');
  });
  oid = await peel(gitdir, oid).catch(() => {
    throw bad('it does not name a commit');
  });
  for (const step of m[2]!.matchAll(/([~^])(\d*)/g)) {
    const n = step[2] === '' ? 1 : Number(step[2]);
    const walk = step[1] === '~' ? Array.from({ length: n }, () => 1) : n === 0 ? [] : [n];
    for (const parentIndex of walk) {
      const { commit } = await git.readCommit({ fs, gitdir, oid });
      const parent = commit.parent[parentIndex - 1];
      if (!parent) throw bad(`${oid.slice(0, 7)} has no parent ${parentIndex} (history is shorter than that)`);
      oid = parent;
    }
  }
  return oid;
}

async function resolveBase(gitdir: string, base: string): Promise<string> {
  try {
    return await git.resolveRef({ fs, gitdir, ref: base });
  } catch (e) {
    if (!/^[0-9a-f]{4,40}$/i.test(base)) throw e;
    return git.expandOid({ fs, gitdir, oid: base.toLowerCase() });
  }
}

/** Annotated tags point at a tag object: follow them to the commit. */
async function peel(gitdir: string, oid: string): Promise<string> {
  for (let i = 0; i < 10; i++) {
    const o = await git.readObject({ fs, gitdir, oid, format: 'parsed' });
    if (o.type === 'commit') return oid;
    if (o.type !== 'tag') throw new Error(`a ${o.type}`);
    oid = (o.object as { object: string }).object;
  }
  throw new Error('tag chain too long');
}

/** The desired commit audit event `seq` recorded. */
export async function revisionOfSeq(view: TreeView, seq: number): Promise<{ sha: string; type: string; target: string }> {
  const { event } = await showEvent(view, seq);
  if (!event) throw new UsageError(`--to ${seq}: there is no audit event with seq ${seq}; find one with \`clawops audit search\``, {});
  if (!event.desiredCommit) {
    throw new UsageError(`--to ${seq}: audit event ${seq} (${event.type} on ${event.target}) records no desired commit; pick an apply event (\`clawops audit search --type 'change.*'\`) or pass a git revision`, {});
  }
  return { sha: event.desiredCommit, type: event.type, target: event.target };
}
