/**
 * The state branch (default `clawops/audit`) as clawops sees it: an append-only sequence of signed
 * commits read and written at the object level (blobs, trees, commits, refs), never through a
 * work tree or index. This file is the contract between the git layer (reconciler/git/, which
 * implements it) and its users (the audit log, the git state store).
 */

/** One commit of the branch, with the bytes its signature covers. */
export interface BranchCommit {
  readonly oid: string;
  readonly parents: readonly string[];
  readonly tree: string;
  /** The commit object's content exactly as stored (headers, `gpgsig`, message). */
  readonly raw: Uint8Array;
  readonly message: string;
  readonly committer: { readonly name: string; readonly email: string; readonly timestamp: number; readonly timezoneOffset: number };
}

/** A read-only view of the tree at one commit (or of the empty branch). */
export interface TreeView {
  /** The commit this view is of; undefined for a branch with no commits yet. */
  readonly head: string | undefined;
  readFile(path: string): Promise<Uint8Array | undefined>;
  /** Names (not paths) of the entries of a directory; [] when it does not exist. */
  list(dir: string): Promise<string[]>;
}

/** What one commit changes: path → new content, or null to delete the file. */
export interface BranchWrite {
  readonly files: ReadonlyMap<string, Uint8Array | null>;
  readonly message: string;
}

export interface StateBranch {
  /** The branch name, e.g. `clawops/audit`. */
  readonly name: string;
  /** The tip as this copy knows it (after the last fetch or write). */
  head(): Promise<string | undefined>;
  /** A view of the tree at `oid` (default: the tip). */
  at(oid?: string): Promise<TreeView>;
  readCommit(oid: string): Promise<BranchCommit>;
  /** Newest first, from the tip (or `from`) back to the root, stopping before `until`. */
  log(opts?: { from?: string; until?: string }): AsyncIterable<BranchCommit>;
  /** Paths a commit added, changed or deleted against its first parent (all paths for a root). */
  changedPaths(oid: string): Promise<string[]>;
  /**
   * Brings the local copy up to the remote's tip (no-op without a remote). The copy is shallow
   * (the tip only) unless `full` is set, which fetches the whole history (verification needs it).
   */
  fetch(opts?: { full?: boolean }): Promise<void>;
  /**
   * Writes one signed commit on top of the current tip and publishes it with a compare-and-swap
   * push (never force). `build` sees the tree it builds on; when the push is rejected because
   * someone else wrote, the branch fetches and calls `build` again on the new tip (bounded
   * retries), so a caller can re-sequence what it writes. `build` returning undefined writes
   * nothing.
   */
  update(build: (base: TreeView) => Promise<BranchWrite | undefined>): Promise<{ readonly oid: string; readonly attempts: number } | undefined>;
}
