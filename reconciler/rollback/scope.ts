/**
 * What one `rollback --to REV` covers: the targets (those named, or every Gateway whose effective
 * desired state differs between REV and main), the hash each one's state has on main (what its
 * pin holds against), and the files the revert pull request restores.
 */
import { effectiveDesired } from '../desired/effective-state.ts';
import { UsageError } from '../errors.ts';
import type { FleetRepo } from '../load/load-repo.ts';
import type { LoadedOf } from '../load/resource.ts';
import { desiredHash } from './desired-hash.ts';
import { desiredAt } from './pinned-desired.ts';
import { revisionDir } from './repo-at.ts';
import { revertFiles, sourcesOf, type GitTrees } from './revert-files.ts';

export interface RollbackTarget {
  readonly gateway: string;
  /** Hash of its desired state on main: the pin's `badDesired`. */
  readonly badDesired: string;
  /** Agents whose desired state differs (by id), for people reading the PR. */
  readonly agents: readonly string[];
}

export interface RollbackScope {
  /** The commit rolled back to, and main's commit it is rolled back from. */
  readonly to: string;
  readonly from: string;
  readonly targets: readonly RollbackTarget[];
  /** Fleet-repo-relative path → content at `to` (null: the file did not exist there). */
  readonly files: Readonly<Record<string, string | null>>;
}

export async function rollbackScope(
  repo: FleetRepo,
  gateways: ReadonlyArray<LoadedOf<'Gateway'>>,
  trees: GitTrees,
  rev: { readonly from: string; readonly to: string; readonly named: boolean },
): Promise<RollbackScope> {
  const targets: RollbackTarget[] = [];
  const sources = new Set<string>();
  const short = rev.to.slice(0, 12);
  for (const gw of gateways) {
    const now = await effectiveDesired(repo, gw);
    let then;
    try {
      then = await desiredAt(gw, rev.to, repo.root);
    } catch (e) {
      if (rev.named) throw new UsageError(`cannot roll ${gw.name} back to ${short}: ${(e as Error).message}`, {});
      continue;
    }
    const badDesired = desiredHash(now);
    if (badDesired === desiredHash(then)) {
      if (rev.named) throw new UsageError(`${gw.name}'s desired state is the same at ${short} as on main (${rev.from.slice(0, 12)}): nothing to roll back`, {});
      continue;
    }
    const ids = [...new Set([...now.agents.keys(), ...then.agents.keys()])].sort();
    const agents = ids.filter((id) => desiredHash({ ...now, agents: pick(now.agents, id) }) !== desiredHash({ ...then, agents: pick(then.agents, id) }));
    targets.push({ gateway: gw.name, badDesired, agents });
    for (const p of [...sourcesOf(now), ...sourcesOf(then, revisionDir(rev.to))]) sources.add(p);
  }
  if (!targets.length) throw new UsageError(`nothing to roll back: no Gateway's desired state differs between ${short} and main (${rev.from.slice(0, 12)})`, {});
  const files = await revertFiles(trees, rev.from, rev.to, rev.named ? [...sources].sort() : undefined);
  return { to: rev.to, from: rev.from, targets, files };
}

function pick<V>(m: ReadonlyMap<string, V>, id: string): Map<string, V> {
  const v = m.get(id);
  return new Map(v === undefined ? [] : [[id, v]]);
}
