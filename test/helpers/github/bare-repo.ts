/**
 * The real git repository behind the fake GitHub: native git on a bare repository, always
 * spawned asynchronously (the fake serves HTTP from the same process; a synchronous spawn would
 * stall it, see test/helpers/git-http-server.ts). Trees are built in a throwaway index file, so
 * no work tree is ever needed; merges use `git merge-tree --write-tree` (git ≥ 2.38).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runGit } from '../git-http-server.ts';

export const ZERO_OID = '0000000000000000000000000000000000000000';

export interface GitPerson {
  readonly name: string;
  readonly email: string;
  /** ISO 8601; GitHub reports UTC with a `Z`. */
  readonly date: string;
}

export interface CommitInfo {
  readonly sha: string;
  readonly tree: string;
  readonly parents: readonly string[];
  readonly author: GitPerson;
  readonly committer: GitPerson;
  readonly message: string;
  /** The signature header (gpgsig), if the commit is signed, and the bytes it signs. */
  readonly signature?: { readonly signature: string; readonly payload: string };
}

export interface TreeEntry {
  readonly mode: string;
  readonly type: 'blob' | 'tree' | 'commit';
  readonly sha: string;
  readonly path: string;
  /** Blobs only. */
  readonly size?: number;
}

/** One entry of a `git/create-tree` request: content or sha (null deletes), as GitHub takes it. */
export interface TreeChange {
  readonly path: string;
  readonly mode?: string;
  readonly type?: 'blob' | 'tree' | 'commit';
  readonly sha?: string | null;
  readonly content?: string;
}

export class GitCommandError extends Error {}

/** Thrown by `buildTree` for an entry GitHub would refuse (unknown object, bad mode). */
export class BadTreeEntry extends Error {}

const toIso = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');

function parsePerson(line: string): GitPerson {
  const m = /^(.*) <([^>]*)> (\d+) ([+-]\d{4})$/.exec(line);
  if (!m) return { name: line, email: '', date: toIso(0) };
  return { name: m[1]!, email: m[2]!, date: toIso(Number(m[3])) };
}

/** Parses `git cat-file commit` output (headers, blank line, message). */
export function parseCommit(sha: string, raw: string): CommitInfo {
  const end = raw.indexOf('\n\n');
  const head = end === -1 ? raw : raw.slice(0, end);
  const message = end === -1 ? '' : raw.slice(end + 2);
  const lines = head.split('\n');
  const parents: string[] = [];
  let tree = '';
  let author: GitPerson = { name: '', email: '', date: toIso(0) };
  let committer = author;
  let signature: string | undefined;
  const unsigned: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const space = line.indexOf(' ');
    const key = line.slice(0, space);
    const value = line.slice(space + 1);
    if (key === 'gpgsig') {
      const sig = [value];
      while (lines[i + 1]?.startsWith(' ')) sig.push(lines[++i]!.slice(1));
      signature = sig.join('\n');
      continue;
    }
    unsigned.push(line);
    if (key === 'tree') tree = value;
    else if (key === 'parent') parents.push(value);
    else if (key === 'author') author = parsePerson(value);
    else if (key === 'committer') committer = parsePerson(value);
  }
  const info: CommitInfo = { sha, tree, parents, author, committer, message };
  return signature ? { ...info, signature: { signature, payload: `${unsigned.join('\n')}\n\n${message}` } } : info;
}

export class BareRepo {
  readonly gitdir: string;

  constructor(gitdir: string) {
    this.gitdir = gitdir;
  }

  /** Runs git in this repository; rejects with git's stderr on failure. */
  async git(args: readonly string[], opts: { env?: NodeJS.ProcessEnv; input?: string | Uint8Array } = {}): Promise<string> {
    const r = await this.tryGit(args, opts);
    if (r.code !== 0) throw new GitCommandError(`git ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
  }

  tryGit(args: readonly string[], opts: { env?: NodeJS.ProcessEnv; input?: string | Uint8Array } = {}): Promise<{ stdout: string; stderr: string; code: number }> {
    return runGit(['--git-dir', this.gitdir, ...args], opts);
  }

  static async init(gitdir: string, defaultBranch: string): Promise<BareRepo> {
    const r = await runGit(['init', '--bare', '--quiet', `--initial-branch=${defaultBranch}`, gitdir]);
    if (r.code !== 0) throw new GitCommandError(`git init ${gitdir} failed: ${r.stderr}`);
    const repo = new BareRepo(gitdir);
    // Pushes from tests land here directly (`git push <bareRepo>`), as on a real origin.
    await repo.git(['config', 'receive.denyCurrentBranch', 'ignore']);
    return repo;
  }

  /** The commit a revision names, or undefined (unknown, or not a commit). */
  async resolveCommit(rev: string): Promise<string | undefined> {
    if (rev.startsWith('-')) return undefined;
    const r = await this.tryGit(['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`]);
    return r.code === 0 ? r.stdout.trim() : undefined;
  }

  async objectType(sha: string): Promise<string | undefined> {
    if (!/^[0-9a-f]{4,40}$/.test(sha)) return undefined;
    const r = await this.tryGit(['cat-file', '-t', sha]);
    return r.code === 0 ? r.stdout.trim() : undefined;
  }

  /** Every ref and the object it points at, in one call. */
  async refs(): Promise<Map<string, string>> {
    const out = await this.git(['for-each-ref', '--format=%(refname) %(objectname)']);
    const map = new Map<string, string>();
    for (const line of out.split('\n')) {
      const [name, sha] = line.split(' ');
      if (name && sha) map.set(name, sha);
    }
    return map;
  }

  async isEmpty(): Promise<boolean> {
    return (await this.refs()).size === 0;
  }

  /** Compare-and-swap: moves `ref` to `sha` only if it is at `expected` (undefined: must not exist). */
  async updateRef(ref: string, sha: string, expected: string | undefined): Promise<boolean> {
    const r = await this.tryGit(['update-ref', ref, sha, expected ?? ZERO_OID]);
    return r.code === 0;
  }

  async deleteRef(ref: string, expected: string): Promise<boolean> {
    const r = await this.tryGit(['update-ref', '-d', ref, expected]);
    return r.code === 0;
  }

  async isAncestor(ancestor: string, of: string): Promise<boolean> {
    return (await this.tryGit(['merge-base', '--is-ancestor', ancestor, of])).code === 0;
  }

  async readCommit(sha: string): Promise<CommitInfo | undefined> {
    if ((await this.objectType(sha)) !== 'commit') return undefined;
    const full = (await this.git(['rev-parse', sha])).trim();
    return parseCommit(full, await this.git(['cat-file', 'commit', full]));
  }

  /** Commits in `head` but not in `base`, oldest first (like a pull request's commit list). */
  async commitsBetween(base: string, head: string): Promise<string[]> {
    const out = await this.git(['rev-list', '--reverse', '--topo-order', `${base}..${head}`]);
    return out.split('\n').filter(Boolean);
  }

  async writeBlob(content: string | Uint8Array): Promise<string> {
    return (await this.git(['hash-object', '-w', '--stdin'], { input: content })).trim();
  }

  /** The top level of a tree (or a subtree given as `<tree>:<path>`), sizes included. */
  async listTree(treeish: string, recursive = false): Promise<TreeEntry[]> {
    const out = await this.git(['ls-tree', '-l', '-z', ...(recursive ? ['-r'] : []), treeish]);
    return out
      .split('\0')
      .filter(Boolean)
      .map((line) => {
        const tab = line.indexOf('\t');
        const [mode, type, sha, size] = line.slice(0, tab).split(/\s+/) as [string, TreeEntry['type'], string, string];
        return { mode, type, sha, path: line.slice(tab + 1), ...(type === 'blob' ? { size: Number(size) } : {}) };
      });
  }

  /** `base` (a tree, or nothing) with the changes applied; returns the new tree's sha. */
  async buildTree(base: string | undefined, changes: readonly TreeChange[]): Promise<string> {
    const index = join(tmpdir(), `clawops-fake-github-index-${randomBytes(6).toString('hex')}`);
    const env = { GIT_INDEX_FILE: index };
    try {
      if (base) await this.git(['read-tree', base], { env });
      const present = (await this.git(['ls-files', '-z'], { env })).split('\0').filter(Boolean);
      const lines: string[] = [];
      const remove = (path: string) => {
        for (const p of present) if (p === path || p.startsWith(`${path}/`)) lines.push(`0 ${ZERO_OID}\t${p}`);
      };
      for (const change of changes) {
        const path = change.path.replace(/^\/+|\/+$/g, '');
        if (!path) throw new BadTreeEntry('a tree entry has an empty path');
        if (change.sha === null) {
          remove(path);
          continue;
        }
        const type = change.type ?? (change.mode === '040000' ? 'tree' : change.mode === '160000' ? 'commit' : 'blob');
        const mode = change.mode ?? (type === 'tree' ? '040000' : type === 'commit' ? '160000' : '100644');
        remove(path);
        if (type === 'tree') {
          if (!change.sha || (await this.objectType(change.sha)) !== 'tree') throw new BadTreeEntry(`tree.sha ${change.sha ?? '(none)'} is not a valid tree`);
          for (const e of await this.listTree(change.sha, true)) lines.push(`${e.mode} ${e.sha}\t${path}/${e.path}`);
          continue;
        }
        let sha = change.sha;
        if (change.content !== undefined) sha = await this.writeBlob(change.content);
        else if (type === 'blob' && (!sha || (await this.objectType(sha)) !== 'blob')) throw new BadTreeEntry(`tree.sha ${sha ?? '(none)'} is not a valid blob`);
        if (!sha) throw new BadTreeEntry(`tree entry ${path} has neither content nor sha`);
        lines.push(`${mode} ${sha}\t${path}`);
      }
      if (lines.length > 0) await this.git(['update-index', '--add', '--index-info'], { env, input: `${lines.join('\n')}\n` });
      return (await this.git(['write-tree'], { env })).trim();
    } finally {
      await rm(index, { force: true });
    }
  }

  /**
   * Writes a commit object as given (dates in UTC); `signature` becomes its `gpgsig` header, as
   * GitHub does with git/create-commit's `signature`.
   */
  async commitTree(opts: { tree: string; parents: readonly string[]; message: string; author: GitPerson; committer: GitPerson; signature?: string }): Promise<string> {
    const person = (p: GitPerson) => `${p.name} <${p.email}> ${Math.floor(Date.parse(p.date) / 1000)} +0000`;
    const lines = [`tree ${opts.tree}`, ...opts.parents.map((p) => `parent ${p}`), `author ${person(opts.author)}`, `committer ${person(opts.committer)}`];
    if (opts.signature) lines.push(`gpgsig ${opts.signature.replace(/\n$/, '').split('\n').join('\n ')}`);
    const message = opts.message.endsWith('\n') ? opts.message : `${opts.message}\n`;
    return (await this.git(['hash-object', '-t', 'commit', '-w', '--stdin'], { input: `${lines.join('\n')}\n\n${message}` })).trim();
  }

  /** Commits every file under `dir` (a plain folder) as the root commit of `branch`. */
  async commitDirectory(dir: string, branch: string, message: string, author: GitPerson): Promise<string> {
    const index = join(tmpdir(), `clawops-fake-github-index-${randomBytes(6).toString('hex')}`);
    try {
      await this.git(['--work-tree', dir, 'add', '--all', '--force', '.'], { env: { GIT_INDEX_FILE: index } });
      const tree = (await this.git(['write-tree'], { env: { GIT_INDEX_FILE: index } })).trim();
      const sha = await this.commitTree({ tree, parents: [], message, author, committer: author });
      await this.git(['update-ref', `refs/heads/${branch}`, sha]);
      return sha;
    } finally {
      await rm(index, { force: true });
    }
  }

  /** A three-way merge of two commits: the merged tree, or undefined on a conflict. */
  async mergeTrees(ours: string, theirs: string): Promise<string | undefined> {
    const r = await this.tryGit(['merge-tree', '--write-tree', '--no-messages', ours, theirs]);
    if (r.code === 1) return undefined;
    if (r.code !== 0) throw new GitCommandError(`git merge-tree failed: ${r.stderr}`);
    return r.stdout.split('\n')[0]!.trim();
  }

  /**
   * The tree of `commit` replayed onto `onto` (a cherry-pick), or undefined on a conflict.
   * merge-tree learnt `--merge-base` only in git 2.40, so the merge base is staged as two
   * throwaway commits that share a root holding the parent's tree.
   */
  async replayTree(commit: CommitInfo, onto: string): Promise<string | undefined> {
    const stamp: GitPerson = { name: 'replay', email: 'replay@localhost', date: '2000-01-01T00:00:00Z' };
    const parentTree = commit.parents[0] ? (await this.git(['rev-parse', `${commit.parents[0]}^{tree}`])).trim() : await this.buildTree(undefined, []);
    const root = await this.commitTree({ tree: parentTree, parents: [], message: 'base', author: stamp, committer: stamp });
    const theirs = await this.commitTree({ tree: commit.tree, parents: [root], message: 'theirs', author: stamp, committer: stamp });
    const ontoTree = (await this.git(['rev-parse', `${onto}^{tree}`])).trim();
    const ours = await this.commitTree({ tree: ontoTree, parents: [root], message: 'ours', author: stamp, committer: stamp });
    return this.mergeTrees(ours, theirs);
  }

  /** Lines added and deleted and files changed between the merge base of `base` and `head`, and `head`. */
  async diffStat(base: string, head: string): Promise<{ additions: number; deletions: number; changedFiles: number }> {
    const out = await this.git(['diff', '--numstat', '-z', `${base}...${head}`]);
    let additions = 0;
    let deletions = 0;
    let changedFiles = 0;
    for (const rec of out.split('\0')) {
      const m = /^(\d+|-)\t(\d+|-)\t/.exec(rec);
      if (!m) continue;
      changedFiles++;
      additions += m[1] === '-' ? 0 : Number(m[1]);
      deletions += m[2] === '-' ? 0 : Number(m[2]);
    }
    return { additions, deletions, changedFiles };
  }

  /** Copies a commit (and what it needs) from another repository into `ref` here. */
  async fetchCommit(from: BareRepo, sha: string, ref: string): Promise<void> {
    await this.git(['fetch', '--quiet', '--no-tags', from.gitdir, `+${sha}:${ref}`]);
  }

  readBlob(sha: string): Promise<Buffer> {
    return runGitBuffer(['--git-dir', this.gitdir, 'cat-file', 'blob', sha]);
  }
}

/** Like runGit, but keeps stdout as bytes (file contents need not be UTF-8). */
function runGitBuffer(args: readonly string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new GitCommandError(`git ${args.join(' ')} failed (${code}): ${stderr.trim()}`))));
  });
}
