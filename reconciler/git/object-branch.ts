/**
 * The state branch in a git object store, at the object level only: blobs, trees, commits and
 * one ref; never a work tree, an index or a status scan (so it can live in the fleet repo's own
 * `.git` without touching anyone's checkout). Loose objects are read and written here, in git's
 * format (atomically, SHA-1 checked); isomorphic-git reads packs and does fetch and push.
 *
 * Publishing is compare-and-swap, never force. With a remote, the remote ref is the lock: a
 * non-fast-forward push is refused (by the client when it sees the advertised tip moved, by the
 * server when two pushes race), and the writer fetches, rebuilds on the new tip and tries again.
 * Without one, the local ref is updated under git's own `<ref>.lock` protocol, so native git and
 * other clawops processes on the same gitdir interleave safely. The working copy is shallow
 * (depth 1): isomorphic-git's push walks all local history, so a full copy makes every push
 * O(history).
 */
import { createHash, randomInt } from 'node:crypto';
import fs, { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { deflateSync, inflateSync } from 'node:zlib';
import git, { type TreeEntry } from 'isomorphic-git';
import http from 'isomorphic-git/http/web';
import { ClawopsError } from '../errors.ts';
import type { CommitSigner } from './signing-key.ts';
import type { BranchCommit, BranchWrite, StateBranch, TreeView } from './state-branch.ts';

export interface StateBranchOptions {
  /** The local object store; created as a bare repository when missing. */
  readonly gitdir: string;
  /** e.g. `clawops/audit`. */
  readonly branch: string;
  /** Publish to this remote (smart HTTP). The token goes as basic auth `x-access-token:<token>` and is never printed. */
  readonly remote?: { readonly url: string; readonly token?: string | undefined } | undefined;
  /** Absent: commits are unsigned. */
  readonly signer?: CommitSigner | undefined;
  /** Author and committer of every commit. */
  readonly author: { readonly name: string; readonly email: string };
  readonly now?: () => Date;
  /** Attempts at publishing before giving up because the branch kept moving (default 8). */
  readonly maxAttempts?: number;
  /** First retry delay in ms; it doubles per attempt (capped at 1 s), with ±50 % jitter so racing writers drift apart (default 20). */
  readonly retryDelayMs?: number;
  /** Local mode: a ref lock older than this is reported as left behind by a dead process (default 30 s). */
  readonly staleLockMs?: number;
}

export type StateBranchFailure = 'contention' | 'stale-lock' | 'remote' | 'rejected' | 'shallow' | 'invalid';

export class StateBranchError extends ClawopsError<{ branch: string; reason: StateBranchFailure }> {
  readonly code = 'STATE_BRANCH';
}

const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';
const TREE_MODE = '040000';
const FILE_MODE = '100644';
/** `deepen 2147483647` is how git says "unshallow". */
const INFINITE_DEPTH = 0x7fffffff;

/** A Map that forgets its oldest entries past a size: objects never change, so a hit is always right. */
class BoundedCache<V> extends Map<string, V> {
  private readonly max: number;
  constructor(max: number) {
    super();
    this.max = max;
  }
  override set(key: string, value: V): this {
    if (this.size >= this.max) this.delete(this.keys().next().value!);
    return super.set(key, value);
  }
}

type Tree = ReadonlyMap<string, TreeEntry>;

const codeOf = (e: unknown): string | undefined => (e && typeof e === 'object' && 'code' in e ? String((e as { code: unknown }).code) : undefined);

function checkBranchName(name: string): void {
  const ok =
    /^[A-Za-z0-9._/-]+$/.test(name) && !name.startsWith('/') && !name.endsWith('/') && !name.includes('..') && !name.includes('//') && !/(^|\/)\./.test(name) && !/\.lock(\/|$)/.test(name);
  if (!ok) throw new StateBranchError(`"${name}" is not a usable branch name: use letters, digits, ".", "_", "-" and "/" separated parts, e.g. clawops/audit`, { branch: name, reason: 'invalid' });
}

function checkPath(path: string): string[] {
  const parts = path.split('/');
  if (!path || parts.some((p) => !p || p === '.' || p === '..' || p === '.git' || p.includes('\0'))) throw new RangeError(`not a usable path in the state branch: "${path}"`);
  return parts;
}

function parseCommit(oid: string, raw: Uint8Array): BranchCommit {
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const blank = buf.indexOf('\n\n');
  const headers = buf.subarray(0, blank === -1 ? buf.length : blank).toString('utf8');
  let tree = '';
  const parents: string[] = [];
  let committer: BranchCommit['committer'] | undefined;
  for (const line of headers.split('\n')) {
    if (line.startsWith('tree ')) tree = line.slice(5);
    else if (line.startsWith('parent ')) parents.push(line.slice(7));
    else if (line.startsWith('committer ')) {
      const m = /^committer (.*) <(.*)> (\d+) ([+-])(\d\d)(\d\d)$/.exec(line);
      if (m) {
        // isomorphic-git's convention (and Date#getTimezoneOffset's): minutes *behind* UTC.
        const minutes = Number(m[5]) * 60 + Number(m[6]);
        committer = { name: m[1]!, email: m[2]!, timestamp: Number(m[3]), timezoneOffset: m[4] === '+' ? -minutes || 0 : minutes };
      }
    }
  }
  if (!tree || !committer) throw new RangeError(`commit ${oid} is malformed`);
  return { oid, parents, tree, raw, message: blank === -1 ? '' : buf.subarray(blank + 2).toString('utf8'), committer };
}

/** A tree object's entries: `<mode> <name>\0<20-byte oid>`, repeated. */
function parseTree(content: Uint8Array): Map<string, TreeEntry> {
  const buf = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  const out = new Map<string, TreeEntry>();
  for (let at = 0; at < buf.length; ) {
    const sp = buf.indexOf(0x20, at);
    const nul = buf.indexOf(0, sp);
    const mode = buf.subarray(at, sp).toString('latin1').padStart(6, '0');
    const path = buf.subarray(sp + 1, nul).toString('utf8');
    const oid = buf.subarray(nul + 1, nul + 21).toString('hex');
    out.set(path, { mode, path, oid, type: mode === TREE_MODE ? 'tree' : mode === '160000' ? 'commit' : 'blob' });
    at = nul + 21;
  }
  return out;
}

/** Git's order: bytewise by name, a directory compared as if its name ended in "/". */
function serializeTree(entries: readonly TreeEntry[]): Buffer {
  const key = (e: TreeEntry): Buffer => Buffer.from(e.type === 'tree' ? `${e.path}/` : e.path, 'utf8');
  const sorted = [...entries].sort((a, b) => Buffer.compare(key(a), key(b)));
  return Buffer.concat(sorted.flatMap((e) => [Buffer.from(`${e.mode.replace(/^0+/, '')} ${e.path}\0`, 'utf8'), Buffer.from(e.oid, 'hex')]));
}

async function readRefFile(gitdir: string, ref: string): Promise<string | undefined> {
  const loose = await readFile(join(gitdir, ref), 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return undefined;
    throw e;
  });
  if (loose !== undefined) return loose.trim() || undefined;
  const packed = await readFile(join(gitdir, 'packed-refs'), 'utf8').catch(() => '');
  for (const line of packed.split('\n')) if (line.endsWith(` ${ref}`) && /^[0-9a-f]{40} /.test(line)) return line.slice(0, 40);
  return undefined;
}

async function readShallow(gitdir: string): Promise<Set<string>> {
  const text = await readFile(join(gitdir, 'shallow'), 'utf8').catch(() => '');
  return new Set(text.split('\n').filter(Boolean));
}

const redactUrl = (url: string): string => url.replace(/\/\/[^/@\s]*@/, '//');

/** Opens (creating when missing) the local object store and returns the branch in it. */
export async function openStateBranch(opts: StateBranchOptions): Promise<StateBranch> {
  checkBranchName(opts.branch);
  for (const [field, v] of Object.entries(opts.author)) {
    if (!v || /[<>\n]/.test(v)) throw new StateBranchError(`the commit author's ${field} "${v}" is empty or contains <, > or a newline`, { branch: opts.branch, reason: 'invalid' });
  }
  const hasRepo = await stat(join(opts.gitdir, 'objects')).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!hasRepo) {
    await mkdir(opts.gitdir, { recursive: true });
    await git.init({ fs, dir: opts.gitdir, bare: true });
  }
  // isomorphic-git's fetch files what it fetched under the remote's refspec and fails without one.
  if (opts.remote && !(await git.getConfig({ fs, gitdir: opts.gitdir, path: 'remote.origin.fetch' }))) {
    await git.setConfig({ fs, gitdir: opts.gitdir, path: 'remote.origin.fetch', value: '+refs/heads/*:refs/remotes/origin/*' });
  }
  return new ObjectStateBranch(opts);
}

class ObjectStateBranch implements StateBranch {
  readonly name: string;
  readonly gitdir: string;
  private readonly ref: string;
  private readonly opts: StateBranchOptions;
  private readonly now: () => Date;
  /** isomorphic-git's pack index cache, shared by every read. */
  private readonly cache: object = {};
  private readonly trees = new BoundedCache<Tree>(16_384);
  private readonly commits = new BoundedCache<BranchCommit>(4_096);
  private readonly headers: Record<string, string>;
  private fetched = false;
  /** One update or fetch at a time per instance: concurrent ones would only race each other. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: StateBranchOptions) {
    this.opts = opts;
    this.name = opts.branch;
    this.gitdir = opts.gitdir;
    this.ref = `refs/heads/${opts.branch}`;
    this.now = opts.now ?? (() => new Date());
    const token = opts.remote?.token;
    this.headers = token ? { Authorization: `Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}` } : {};
  }

  head(): Promise<string | undefined> {
    return readRefFile(this.gitdir, this.ref);
  }

  async at(oid?: string): Promise<TreeView> {
    const head = oid ?? (await this.head());
    const root = head ? (await this.readCommit(head)).tree : undefined;
    return {
      head,
      readFile: async (path) => {
        const entry = root ? await this.lookup(root, checkPath(path)) : undefined;
        if (entry?.type !== 'blob') return undefined;
        return (await this.readObject(entry.oid, 'blob')).content;
      },
      list: async (dir) => {
        const clean = dir.replace(/^\/+|\/+$/g, '');
        if (!root) return [];
        const entry = clean === '' || clean === '.' ? undefined : await this.lookup(root, checkPath(clean));
        const tree = clean === '' || clean === '.' ? root : entry?.type === 'tree' ? entry.oid : undefined;
        return tree === undefined ? [] : [...(await this.readTree(tree)).keys()].sort();
      },
    };
  }

  async readCommit(oid: string): Promise<BranchCommit> {
    const hit = this.commits.get(oid);
    if (hit) return hit;
    const commit = parseCommit(oid, (await this.readObject(oid, 'commit')).content);
    this.commits.set(oid, commit);
    return commit;
  }

  async *log(opts: { from?: string; until?: string } = {}): AsyncIterable<BranchCommit> {
    const shallow = await readShallow(this.gitdir);
    // First-parent history: clawops only ever appends, so the branch is a line.
    for (let oid = opts.from ?? (await this.head()); oid && oid !== opts.until; ) {
      const commit = await this.readCommit(oid);
      yield commit;
      if (shallow.has(oid)) return;
      oid = commit.parents[0];
    }
  }

  async changedPaths(oid: string): Promise<string[]> {
    const commit = await this.readCommit(oid);
    const parent = commit.parents[0];
    let base: string | undefined;
    if (parent) {
      try {
        base = (await this.readCommit(parent)).tree;
      } catch (e) {
        if (codeOf(e) !== 'NotFoundError' || !(await readShallow(this.gitdir)).has(oid)) throw e;
        throw new StateBranchError(`the local copy of ${this.name} starts at ${oid.slice(0, 12)} (a shallow fetch); fetch the full history first`, { branch: this.name, reason: 'shallow' });
      }
    }
    const out: string[] = [];
    await this.diffTrees(base, commit.tree, '', out);
    return out.sort();
  }

  fetch(opts: { full?: boolean } = {}): Promise<void> {
    return this.serially(() => this.fetchNow(opts.full === true));
  }

  update(build: (base: TreeView) => Promise<BranchWrite | undefined>): Promise<{ readonly oid: string; readonly attempts: number } | undefined> {
    return this.serially(async () => {
      const max = Math.max(1, this.opts.maxAttempts ?? 8);
      // A copy that never fetched may be days old: building on it would only cost a rejected push.
      if (this.opts.remote && !this.fetched) await this.fetchNow(false);
      for (let attempt = 1; ; attempt++) {
        const base = await this.head();
        const write = await build(await this.at(base));
        if (!write) return undefined;
        const baseTree = base ? (await this.readCommit(base)).tree : undefined;
        const files = [...write.files].map(([path, content]) => [checkPath(path), content] as const);
        const tree = (await this.writeTreeWith(baseTree, files)) ?? this.writeObject('tree', serializeTree([]));
        // Nothing changed: an empty commit would only add noise to the audit trail.
        if (tree === (baseTree ?? EMPTY_TREE)) return undefined;
        const oid = await this.writeCommit(tree, base, write.message);
        if (await this.publish(base, oid)) return { oid, attempts: attempt };
        if (attempt >= max) {
          throw new StateBranchError(
            `${this.name} kept moving: ${max} attempts to write on top of it were each beaten by another writer. Nothing was lost (nothing of this write was published, and clawops still holds it); run the command again`,
            { branch: this.name, reason: 'contention' },
          );
        }
        await sleep(this.backoff(attempt));
        if (this.opts.remote) await this.fetchNow(false);
      }
    });
  }

  // ── internals ──

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private backoff(attempt: number): number {
    const base = Math.min(1000, (this.opts.retryDelayMs ?? 20) * 2 ** (attempt - 1));
    return Math.round(base * (0.5 + randomInt(1000) / 1000));
  }

  /**
   * Loose objects are read here (inflate and SHA-1 check in-process: isomorphic-git's async
   * streams cost 5–10× more per object, and verification reads thousands); packed ones (what a
   * fetch brings) through isomorphic-git.
   */
  private async readObject(oid: string, expected: 'commit' | 'tree' | 'blob'): Promise<{ content: Uint8Array }> {
    const file = join(this.gitdir, 'objects', oid.slice(0, 2), oid.slice(2));
    let type: string;
    let content: Uint8Array;
    if (existsSync(file)) {
      const wrapped = inflateSync(readFileSync(file));
      if (createHash('sha1').update(wrapped).digest('hex') !== oid) throw new RangeError(`object ${oid} in ${this.gitdir} is corrupt (its content does not hash to its name)`);
      const nul = wrapped.indexOf(0);
      type = wrapped.subarray(0, wrapped.indexOf(0x20)).toString('latin1');
      content = wrapped.subarray(nul + 1);
    } else {
      const r = await git.readObject({ fs, gitdir: this.gitdir, oid, format: 'content', cache: this.cache });
      type = r.type;
      content = r.object as Uint8Array;
    }
    if (type !== expected) throw new RangeError(`object ${oid} is a ${type}, not a ${expected}`);
    return { content };
  }

  /**
   * Writes a loose object the way git does: to a temporary file renamed into place, so a reader
   * (or a crash) never sees half an object; isomorphic-git writes in place. Synchronous on
   * purpose: a few small files, and Node's async fs costs ~10× more per file here.
   */
  private writeObject(type: 'commit' | 'tree' | 'blob', content: Uint8Array): string {
    const wrapped = Buffer.concat([Buffer.from(`${type} ${content.length}\0`), content]);
    const oid = createHash('sha1').update(wrapped).digest('hex');
    const dir = join(this.gitdir, 'objects', oid.slice(0, 2));
    const file = join(dir, oid.slice(2));
    if (existsSync(file)) return oid;
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `tmp_obj_${process.pid}_${randomInt(1e9)}`);
    writeFileSync(tmp, deflateSync(wrapped), { mode: 0o444 });
    renameSync(tmp, file);
    return oid;
  }

  private async readTree(oid: string): Promise<Tree> {
    const hit = this.trees.get(oid);
    if (hit) return hit;
    const map = parseTree((await this.readObject(oid, 'tree')).content);
    this.trees.set(oid, map);
    return map;
  }

  private async lookup(root: string, parts: readonly string[]): Promise<TreeEntry | undefined> {
    let entry: TreeEntry | undefined = { mode: TREE_MODE, path: '', oid: root, type: 'tree' };
    for (const part of parts) {
      if (entry?.type !== 'tree') return undefined;
      entry = (await this.readTree(entry.oid)).get(part);
    }
    return entry;
  }

  private async diffTrees(a: string | undefined, b: string | undefined, prefix: string, out: string[]): Promise<void> {
    if (a === b) return;
    const ta = a ? await this.readTree(a) : new Map<string, TreeEntry>();
    const tb = b ? await this.readTree(b) : new Map<string, TreeEntry>();
    for (const name of new Set([...ta.keys(), ...tb.keys()])) {
      const x = ta.get(name);
      const y = tb.get(name);
      if (x && y && x.oid === y.oid && x.mode === y.mode) continue;
      const xt = x?.type === 'tree' ? x.oid : undefined;
      const yt = y?.type === 'tree' ? y.oid : undefined;
      if (xt || yt) await this.diffTrees(xt, yt, `${prefix}${name}/`, out);
      if ((x && !xt) || (y && !yt)) out.push(prefix + name);
    }
  }

  /** Writes the tree `base` with `files` (split paths → content, null deletes) applied; undefined when the result is empty. */
  private async writeTreeWith(base: string | undefined, files: ReadonlyArray<readonly [readonly string[], Uint8Array | null]>): Promise<string | undefined> {
    const here = new Map<string, Uint8Array | null>();
    const below = new Map<string, Array<readonly [readonly string[], Uint8Array | null]>>();
    for (const [[head, ...rest], content] of files) {
      if (!rest.length) here.set(head!, content);
      else {
        let list = below.get(head!);
        if (!list) below.set(head!, (list = []));
        list.push([rest, content]);
      }
    }
    const entries = new Map(base ? await this.readTree(base) : []);
    let changed = false;
    for (const [name, content] of here) {
      const old = entries.get(name);
      if (content === null) {
        if (old) changed = entries.delete(name);
        continue;
      }
      const oid = this.writeObject('blob', content);
      if (old?.oid !== oid || old.mode !== FILE_MODE) {
        entries.set(name, { mode: FILE_MODE, path: name, oid, type: 'blob' });
        changed = true;
      }
    }
    for (const [name, sub] of below) {
      const old = entries.get(name);
      const oid = await this.writeTreeWith(old?.type === 'tree' ? old.oid : undefined, sub);
      if (oid === undefined) {
        if (old) changed = entries.delete(name);
      } else if (old?.oid !== oid || old.type !== 'tree') {
        entries.set(name, { mode: TREE_MODE, path: name, oid, type: 'tree' });
        changed = true;
      }
    }
    if (!changed) return base;
    if (!entries.size) return undefined;
    return this.writeObject('tree', serializeTree([...entries.values()]));
  }

  /** Renders the commit object itself: `git.commit` would read and lock the index, which a state branch must never touch. */
  private async writeCommit(tree: string, parent: string | undefined, message: string): Promise<string> {
    const { name, email } = this.opts.author;
    const ident = `${name} <${email}> ${Math.floor(this.now().getTime() / 1000)} +0000`;
    const headers = `tree ${tree}\n${parent ? `parent ${parent}\n` : ''}author ${ident}\ncommitter ${ident}\n`;
    const body = `\n${message.endsWith('\n') ? message : `${message}\n`}`;
    let text = headers + body;
    const signer = this.opts.signer;
    if (signer) {
      // Where and how native git puts it: right after `committer`, continuation lines indented by one space.
      const sig = signer.sign(Buffer.from(text, 'utf8')).trimEnd().split('\n').join('\n ');
      text = `${headers}gpgsig ${sig}\n${body}`;
    }
    return this.writeObject('commit', Buffer.from(text, 'utf8'));
  }

  private publish(base: string | undefined, oid: string): Promise<boolean> {
    return this.opts.remote ? this.push(oid) : this.swapLocalRef(base, oid);
  }

  private async push(oid: string): Promise<boolean> {
    const remote = this.opts.remote!;
    try {
      await git.push({ fs, http, gitdir: this.gitdir, url: remote.url, ref: oid, remoteRef: this.ref, headers: this.headers, cache: this.cache });
    } catch (e) {
      if (codeOf(e) === 'PushRejectedError') return false;
      if (codeOf(e) === 'GitPushError') {
        const result = (e as { data?: { result?: { ok?: boolean; refs?: Record<string, { ok: boolean; error?: string }> } } }).data?.result;
        const why = result?.refs?.[this.ref]?.error ?? '';
        // The server's compare-and-swap: another push moved the ref between our look and our write.
        if (result?.ok && /failed to update ref|fetch first|non-fast-forward|stale info|cannot lock ref/i.test(why)) return false;
        throw new StateBranchError(`${redactUrl(remote.url)} refused the push to ${this.name}: ${why || 'the pack was not accepted'}; nothing was lost (clawops still holds what it meant to write)`, {
          branch: this.name,
          reason: 'rejected',
        });
      }
      throw this.remoteError(e, 'push to');
    }
    await this.setLocalRef(oid);
    return true;
  }

  private async fetchNow(full: boolean): Promise<void> {
    const remote = this.opts.remote;
    if (!remote) return;
    const shallowBefore = await readFile(join(this.gitdir, 'shallow'), 'utf8').catch(() => '');
    const shallow = full && shallowBefore.trim() !== '';
    let tip: string | undefined;
    try {
      const r = await git.fetch({
        fs,
        http,
        gitdir: this.gitdir,
        url: remote.url,
        ref: this.ref,
        remoteRef: this.ref,
        singleBranch: true,
        tags: false,
        ...(full ? (shallow ? { depth: INFINITE_DEPTH } : {}) : { depth: 1 }),
        headers: this.headers,
        cache: this.cache,
      });
      tip = r.fetchHead ?? undefined;
    } catch (e) {
      const missing = codeOf(e) === 'NotFoundError' ? (e as { data?: { what?: string } }).data?.what : undefined;
      // The remote has no such branch yet (or no refs at all): the first push creates it.
      if (missing === this.ref) tip = undefined;
      else {
        // A failed fetch may have recorded shallow commits whose objects never arrived.
        if (shallowBefore) await writeFile(join(this.gitdir, 'shallow'), shallowBefore);
        else await unlink(join(this.gitdir, 'shallow')).catch(() => undefined);
        if (missing === 'HEAD') {
          // isomorphic-git (1.44) cannot fetch when the remote's HEAD names a branch that does not exist.
          throw new StateBranchError(
            `cannot fetch ${this.name} from ${redactUrl(remote.url)}: its HEAD names a branch that does not exist, which isomorphic-git cannot handle; push a default branch (e.g. main) to it or point its HEAD at an existing branch`,
            { branch: this.name, reason: 'remote' },
            { cause: e },
          );
        }
        throw this.remoteError(e, 'fetch from');
      }
    }
    await this.setLocalRef(tip);
    this.fetched = true;
  }

  private remoteError(e: unknown, action: string): StateBranchError {
    const url = redactUrl(this.opts.remote!.url);
    const status = (e as { data?: { statusCode?: number } }).data?.statusCode;
    const token = this.opts.remote?.token;
    let detail = e instanceof Error ? e.message : String(e);
    if (token) detail = detail.split(token).join('***');
    detail = redactUrl(detail);
    const hint =
      status === 401 || status === 403
        ? ': the remote refused the credentials; set CLAWOPS_GIT_TOKEN (or GITHUB_TOKEN) to a token that may read and push to this repository'
        : `: ${detail}`;
    return new StateBranchError(`cannot ${action} ${url} (branch ${this.name})${hint}`, { branch: this.name, reason: 'remote' }, { cause: e });
  }

  /** The private cache mirrors the remote: nothing unpublished lives there, so this is not a lost write. */
  private async setLocalRef(oid: string | undefined): Promise<void> {
    const file = join(this.gitdir, this.ref);
    if (oid === undefined) {
      await unlink(file).catch(() => undefined);
      return;
    }
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${randomInt(1e9)}.tmp`;
    await writeFile(tmp, `${oid}\n`);
    await rename(tmp, file);
  }

  /**
   * git's ref transaction for one ref: create `<ref>.lock` exclusively, check the ref still holds
   * what we built on, write, rename over. Native git honours the same lock.
   */
  private async swapLocalRef(expected: string | undefined, next: string): Promise<boolean> {
    const file = join(this.gitdir, this.ref);
    const lock = `${file}.lock`;
    await mkdir(dirname(file), { recursive: true });
    const staleMs = this.opts.staleLockMs ?? 30_000;
    for (let wait = 1; ; wait++) {
      const handle = await open(lock, 'wx').catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
        return undefined;
      });
      if (handle) {
        let renamed = false;
        try {
          if ((await readRefFile(this.gitdir, this.ref)) !== expected) return false;
          await handle.writeFile(`${next}\n`);
          await handle.close();
          await rename(lock, file);
          renamed = true;
          return true;
        } finally {
          if (!renamed) {
            await handle.close().catch(() => undefined);
            await unlink(lock).catch(() => undefined);
          }
        }
      }
      const age = await stat(lock).then(
        // Real time, not `now`: the file's mtime comes from the real clock.
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > staleMs) {
        throw new StateBranchError(
          `${lock} has existed for ${Math.round(age / 1000)} s: a git or clawops process that was updating ${this.name} died while holding it. If none is running, delete that file and run again`,
          { branch: this.name, reason: 'stale-lock' },
        );
      }
      await sleep(Math.min(100, 2 * wait) + randomInt(5));
    }
  }
}
