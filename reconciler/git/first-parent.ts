/**
 * The main line of a branch as the approval check reads it: its first-parent commits, newest
 * first, and which of them changed given files. On the main line every merge, squash or rebase
 * of a pull request and every direct push is exactly one step (or, for a rebase, consecutive
 * steps), so "which pull request brought this file's changes" is a question per step.
 *
 * One reader serves a whole apply run: many agents share the same last-applied commit and the
 * same history, so each line is walked and indexed (path → steps that changed it) once, and every
 * change set after the first is a lookup (git objects never change, so nothing goes stale). A shallow clone ends early: the walk reports where, so a caller can fail closed and
 * say to fetch the full history (actions/checkout `fetch-depth: 0`).
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

export class MainLineReader {
  readonly #gitdir: string;
  readonly #limit: number;
  /** isomorphic-git's pack cache. */
  readonly #cache = {};
  readonly #parents = new Map<string, Promise<string | undefined>>();
  readonly #trees = new Map<string, Promise<ReadonlyMap<string, { readonly oid: string; readonly type: string }>>>();
  readonly #touched = new Map<string, Promise<{ line: MainLine; byPath: ReadonlyMap<string, readonly string[]> }>>();
  readonly #lines = new Map<string, Promise<MainLine>>();

  constructor(gitdir: string, opts: { limit?: number } = {}) {
    this.#gitdir = gitdir;
    this.#limit = opts.limit ?? 2000;
  }

  line(head: string, base?: string): Promise<MainLine> {
    const key = `${head}..${base ?? ''}`;
    let l = this.#lines.get(key);
    if (!l) this.#lines.set(key, (l = this.#walk(head, base)));
    return l;
  }

  async #walk(head: string, base: string | undefined): Promise<MainLine> {
    const commits: string[] = [];
    for (let at: string | undefined = head; at && at !== base; ) {
      if (commits.length >= this.#limit) return { commits, cutShort: `more than ${this.#limit} commits since ${base ? base.slice(0, 7) : 'the first commit'}` };
      let parent: string | undefined;
      try {
        parent = await this.#parent(at);
      } catch {
        return { commits, cutShort: `commit ${at.slice(0, 7)} is not in this clone (a shallow checkout? fetch the full history, e.g. actions/checkout with fetch-depth: 0)` };
      }
      commits.push(at);
      at = parent;
    }
    return { commits };
  }

  #parent(commit: string): Promise<string | undefined> {
    let p = this.#parents.get(commit);
    if (!p) {
      p = git.readCommit({ fs, gitdir: this.#gitdir, oid: commit, cache: this.#cache }).then((c) => c.commit.parent[0]);
      this.#parents.set(commit, p);
      // A missing object must not be remembered as an answer.
      p.catch(() => this.#parents.delete(commit));
    }
    return p;
  }

  /** The blob id of `path` at `commit`, or undefined when the file does not exist there. */
  async blobAt(commit: string, path: string): Promise<string | undefined> {
    const dir = posix.dirname(path);
    try {
      const { tree } = await git.readTree({ fs, gitdir: this.#gitdir, oid: commit, ...(dir === '.' ? {} : { filepath: dir }), cache: this.#cache });
      return tree.find((e) => e.path === posix.basename(path) && e.type === 'blob')?.oid;
    } catch {
      return undefined;
    }
  }

  /**
   * Every path each step of the line changed, as `path → steps` (newest first). Trees are compared
   * the way git does, skipping subtrees whose ids did not change, so a step costs what it touched,
   * not the size of the repo; the index is built once per line and shared by every change set.
   */
  touched(head: string, base?: string): Promise<{ readonly line: MainLine; readonly byPath: ReadonlyMap<string, readonly string[]> }> {
    const key = `${head}..${base ?? ''}`;
    let t = this.#touched.get(key);
    if (!t) {
      t = (async () => {
        const line = await this.line(head, base);
        const byPath = new Map<string, string[]>();
        for (const c of line.commits) {
          const parent = await this.#parent(c);
          const [now, before] = await Promise.all([this.#treeOf(c), parent ? this.#treeOf(parent) : Promise.resolve(undefined)]);
          for (const path of await this.#diff(now, before, '')) {
            let steps = byPath.get(path);
            if (!steps) byPath.set(path, (steps = []));
            steps.push(c);
          }
        }
        return { line, byPath };
      })();
      this.#touched.set(key, t);
    }
    return t;
  }

  async #treeOf(commit: string): Promise<string> {
    return (await git.readCommit({ fs, gitdir: this.#gitdir, oid: commit, cache: this.#cache })).commit.tree;
  }

  /** Paths (of blobs) that differ between two trees; `undefined` is the empty tree. */
  async #diff(a: string | undefined, b: string | undefined, prefix: string): Promise<string[]> {
    if (a === b) return [];
    const [ea, eb] = await Promise.all([this.#entries(a), this.#entries(b)]);
    const out: string[] = [];
    for (const name of new Set([...ea.keys(), ...eb.keys()])) {
      const x = ea.get(name);
      const y = eb.get(name);
      if (x?.oid === y?.oid && x?.type === y?.type) continue;
      const path = prefix ? `${prefix}/${name}` : name;
      const sub = (e: typeof x) => (e?.type === 'tree' ? e.oid : undefined);
      if (x?.type === 'tree' || y?.type === 'tree') out.push(...(await this.#diff(sub(x), sub(y), path)));
      if ((x && x.type !== 'tree') || (y && y.type !== 'tree')) out.push(path);
    }
    return out;
  }

  #entries(tree: string | undefined): Promise<ReadonlyMap<string, { readonly oid: string; readonly type: string }>> {
    if (!tree) return Promise.resolve(new Map());
    let e = this.#trees.get(tree);
    if (!e) {
      // Each step's tree is also the next step's parent tree: parse it once.
      e = git.readTree({ fs, gitdir: this.#gitdir, oid: tree, cache: this.#cache }).then(({ tree: entries }) => new Map(entries.map((x) => [x.path, { oid: x.oid, type: x.type }])));
      this.#trees.set(tree, e);
    }
    return e;
  }

  async readBlobText(oid: string): Promise<string> {
    const { blob } = await git.readBlob({ fs, gitdir: this.#gitdir, oid, cache: this.#cache });
    return Buffer.from(blob).toString('utf8');
  }
}
