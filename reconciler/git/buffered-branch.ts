/**
 * One commit per run: writes are staged in memory and go to the state branch together, in a
 * single signed commit, when the run commits. Reads see the staged writes first, then the tip.
 * If publishing fails, the staged set is kept: nothing is lost.
 */
import type { StateBranch, TreeView } from './state-branch.ts';

/** Computes more files on the tree the commit will build on; called again on each retry. */
export type ExtraFiles = (base: TreeView) => Promise<ReadonlyMap<string, Uint8Array | null>>;

export class BufferedBranch {
  readonly branch: StateBranch;
  private readonly staged = new Map<string, Uint8Array | null>();

  constructor(branch: StateBranch) {
    this.branch = branch;
  }

  /** Stages a file's new content (a string is written as UTF-8), or null to delete it. */
  stage(path: string, content: Uint8Array | string | null): void {
    this.staged.set(path, typeof content === 'string' ? Buffer.from(content, 'utf8') : content);
  }

  hasStaged(): boolean {
    return this.staged.size > 0;
  }

  async read(path: string): Promise<Uint8Array | undefined> {
    if (this.staged.has(path)) return this.staged.get(path) ?? undefined;
    return (await this.branch.at()).readFile(path);
  }

  /** Names in `dir`: the tip's, plus what is staged there, minus what is staged for deletion. */
  async list(dir: string): Promise<string[]> {
    const prefix = dir.replace(/^\/+|\/+$/g, '');
    return this.listIn(prefix, await this.branch.at());
  }

  /**
   * Writes everything staged, plus `extra(base)`, in ONE commit through `branch.update`. On a
   * rejected push the branch rebuilds on the new tip and `extra` runs again there (this is how
   * the audit log re-sequences its events). Clears what was committed; returns undefined when
   * there was nothing to write.
   */
  async commit(message: string, extra?: ExtraFiles): Promise<{ readonly oid: string; readonly attempts: number } | undefined> {
    const snapshot = new Map(this.staged);
    if (!snapshot.size && !extra) return undefined;
    const result = await this.branch.update(async (base) => {
      const files = new Map(snapshot);
      if (extra) for (const [path, content] of await extra(base)) files.set(path, content);
      return files.size ? { files, message } : undefined;
    });
    // Only what went out: a path staged again while the commit was in flight stays staged.
    for (const [path, content] of snapshot) if (this.staged.get(path) === content) this.staged.delete(path);
    return result;
  }

  private async listIn(prefix: string, tip: TreeView): Promise<string[]> {
    const names = new Set(await tip.list(prefix));
    const lead = prefix ? `${prefix}/` : '';
    const doomed = new Set<string>();
    for (const [path, content] of this.staged) {
      if (!path.startsWith(lead)) continue;
      const [name, ...rest] = path.slice(lead.length).split('/');
      if (content !== null) names.add(name!);
      else if (!rest.length) names.delete(name!);
      else doomed.add(name!);
    }
    // A directory whose files are all staged for deletion disappears with them.
    for (const name of doomed) if (names.has(name) && !(await this.listIn(lead + name, tip)).length) names.delete(name);
    return [...names].sort();
  }
}
