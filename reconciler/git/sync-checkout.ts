/**
 * `reconcile` starts from the latest fleet repo: when the fleet repo is a branch checkout that
 * tracks a remote (or has `origin`), fetch that branch and fast-forward to it, the result being
 * what `git pull --ff-only` leaves: the same HEAD, index and files, with unrelated local edits kept.
 *
 * isomorphic-git fetches; the fast-forward is done here, because isomorphic-git's `checkout`
 * compares the target with the index rather than with the old HEAD (a staged edit to a file the
 * update does not touch would be silently overwritten) and leaves emptied directories behind.
 * Everything is checked before anything is written: a refusal changes nothing but the
 * remote-tracking ref, as with git. While writing, git's own `index.lock` and `<ref>.lock` keep
 * native git out, and the branch moves last, so a crash mid-way is finished by the next run
 * (files already at the new version count as clean).
 */
import fs from 'node:fs';
import { appendFile, lstat, mkdir, open, readFile, readdir, readlink, rename, rm, rmdir, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import git, { TREE, type WalkerEntry } from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { GitIndexManager } from 'isomorphic-git/managers';
import { FileSystem } from 'isomorphic-git/models';
import { ClawopsError } from '../errors.ts';
import type { Redactor } from '../redact/redactor.ts';
import { CREDENTIALS_HINT, GIT_TOKEN_ENVS, gitToken, isHttpUrl, isSshUrl, tokenHeaders, withoutCredentials } from './http-remote.ts';
import { findWorktree } from './worktree.ts';

export interface SyncResult {
  readonly status: 'not-git' | 'no-remote' | 'up-to-date' | 'fast-forwarded';
  /** HEAD after the sync. */
  readonly commit?: string;
  /** HEAD before a fast-forward. */
  readonly from?: string;
  /** The remote's URL, credentials removed. */
  readonly remote?: string;
}

export interface SyncCheckoutOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly redactor: Redactor;
}

export type SyncFailure = 'detached' | 'diverged' | 'local-changes' | 'fetch' | 'unsupported-remote' | 'remote-branch-missing' | 'unsupported-checkout' | 'locked';

export class SyncCheckoutError extends ClawopsError<{ repo: string; reason: SyncFailure; paths?: readonly string[] }> {
  readonly code = 'SYNC_CHECKOUT';
}

const NO_PULL = 'or pass --no-pull to reconcile what is checked out';
const short = (oid: string): string => oid.slice(0, 7);
const codeOf = (e: unknown): string | undefined => (e as { code?: string } | null)?.code;

/** A tree or index entry: content and mode (0o100644, 0o100755, 0o120000). */
interface Blob {
  readonly oid: string;
  readonly mode: number;
}
interface Change {
  readonly path: string;
  readonly old: Blob | undefined;
  readonly new: Blob | undefined;
}

export async function syncCheckout(fleetRoot: string, opts: SyncCheckoutOptions): Promise<SyncResult> {
  const wt = await findWorktree(resolve(fleetRoot));
  if (!wt) return { status: 'not-git' };
  const dir = wt.root;
  const gitdir = await checkoutGitdir(wt.dotGit, dir);
  const fail = (message: string, reason: SyncFailure, paths?: readonly string[], cause?: unknown): SyncCheckoutError =>
    new SyncCheckoutError(opts.redactor.redact(message), { repo: dir, reason, ...(paths ? { paths } : {}) }, cause === undefined ? undefined : { cause });
  const config = (path: string): Promise<string | undefined> =>
    git.getConfig({ fs, gitdir, path }).then(
      (v: unknown) => (typeof v === 'string' ? v : undefined),
      () => undefined,
    );

  const remotes = await git.listRemotes({ fs, gitdir });
  if (remotes.length === 0) return { status: 'no-remote' };
  const branch = await git.currentBranch({ fs, gitdir, fullname: false });
  if (!branch) {
    const head = await git.resolveRef({ fs, gitdir, ref: 'HEAD' }).catch(() => 'an unknown commit');
    throw fail(`${dir}: HEAD is detached (at ${short(head)}); reconcile runs on a branch checkout so it can fast-forward it: run \`git switch main\` there (or the branch you deploy from), ${NO_PULL}`, 'detached');
  }
  const tracked = await config(`branch.${branch}.remote`);
  const remoteName = tracked ?? (remotes.some((r) => r.remote === 'origin') ? 'origin' : undefined);
  if (!remoteName || remoteName === '.') return { status: 'no-remote' };
  const mergeRef = (await config(`branch.${branch}.merge`)) ?? `refs/heads/${branch}`;
  const rawUrl = remotes.find((r) => r.remote === remoteName)?.url;
  if (!rawUrl) return { status: 'no-remote' };
  const token = gitToken(rawUrl, opts.env, opts.redactor);
  const url = withoutCredentials(rawUrl);
  const upstream = `${remoteName}/${mergeRef.replace(/^refs\/heads\//, '')}`;

  if (!isHttpUrl(rawUrl)) {
    if (isSshUrl(rawUrl)) {
      const https = /^[^/:@\s]+@([^/:\s]+):(.+)$/.exec(rawUrl);
      const suggestion = https ? ` (\`git remote set-url ${remoteName} https://${https[1]}/${https[2]}\`)` : '';
      throw fail(
        `the fleet repo's remote ${remoteName} is an ssh URL (${url}), which clawops cannot fetch (it speaks git over HTTPS only): use an https remote${suggestion} with a token in ${GIT_TOKEN_ENVS[0]} (or ${GIT_TOKEN_ENVS[1]}), ${NO_PULL}`,
        'unsupported-remote',
      );
    }
    throw fail(`the fleet repo's remote ${remoteName} (${url}) is not an http(s) URL, which is all clawops can fetch: use an https remote with a token in ${GIT_TOKEN_ENVS[0]}, ${NO_PULL}`, 'unsupported-remote');
  }

  let tip: string | null;
  try {
    const r = await git.fetch({ fs, http, gitdir, url: rawUrl, remote: remoteName, ref: branch, remoteRef: mergeRef, singleBranch: true, tags: false, headers: tokenHeaders(token) });
    tip = r.fetchHead;
  } catch (e) {
    if (codeOf(e) === 'NotFoundError' && (e as { data?: { what?: string } }).data?.what === mergeRef) tip = null;
    else {
      const status = (e as { data?: { statusCode?: number } }).data?.statusCode;
      const why =
        status === 401 || status === 403
          ? `${token ? 'the remote refused the token' : 'the remote requires credentials and none were given'} (HTTP ${status}): ${CREDENTIALS_HINT}`
          : withoutCredentials(e instanceof Error ? e.message : String(e));
      throw fail(`cannot fetch ${upstream} from ${url}: ${why}; ${NO_PULL}`, 'fetch', undefined, e);
    }
  }
  if (!tip) throw fail(`${url} has no branch ${mergeRef.replace(/^refs\/heads\//, '')} (the upstream of ${branch}): push it, or set the upstream with \`git branch --set-upstream-to\`; ${NO_PULL}`, 'remote-branch-missing');

  const local = await git.resolveRef({ fs, gitdir, ref: `refs/heads/${branch}` }).catch(() => undefined);
  if (local === tip) return { status: 'up-to-date', commit: local, remote: url };
  if (local !== undefined) {
    const descends = (oid: string, ancestor: string): Promise<boolean> => git.isDescendent({ fs, gitdir, oid, ancestor, depth: -1 }).catch(() => false);
    if (await descends(local, tip)) return { status: 'up-to-date', commit: local, remote: url };
    if (!(await descends(tip, local))) {
      throw fail(
        `${branch} (${short(local)}) and ${upstream} (${short(tip)}) have diverged, and reconcile only fast-forwards: publish or rebase the local commits (\`git pull --rebase\`, then push), or reset ${branch} to ${upstream} if they are not wanted; ${NO_PULL}`,
        'diverged',
      );
    }
  }

  await fastForward({ dir, gitdir, branch, from: local, to: tip, upstream, fail });
  return { status: 'fast-forwarded', commit: tip, ...(local ? { from: local } : {}), remote: url };
}

/** The directory holding this checkout's HEAD and index; linked work trees share refs with another one, which isomorphic-git cannot follow. */
async function checkoutGitdir(dotGit: string, root: string): Promise<string> {
  if ((await stat(dotGit)).isDirectory()) return dotGit;
  const m = /^gitdir: (.+)$/m.exec(await readFile(dotGit, 'utf8'));
  const gitdir = m ? resolve(root, m[1]!.trim()) : undefined;
  if (!gitdir || (await stat(join(gitdir, 'commondir')).then(() => true, () => false))) {
    throw new SyncCheckoutError(`${root} is a linked git work tree (or its .git file is unreadable), which clawops cannot update: reconcile from a plain clone, ${NO_PULL}`, {
      repo: root,
      reason: 'unsupported-checkout',
    });
  }
  return gitdir;
}

interface FastForward {
  readonly dir: string;
  readonly gitdir: string;
  readonly branch: string;
  readonly from: string | undefined;
  readonly to: string;
  readonly upstream: string;
  readonly fail: (message: string, reason: SyncFailure, paths?: readonly string[]) => SyncCheckoutError;
}

async function fastForward(ff: FastForward): Promise<void> {
  const { dir, gitdir, branch, from, to } = ff;
  const changes = await diffTrees(gitdir, from, to);
  const refFile = join(gitdir, 'refs', 'heads', ...branch.split('/'));
  await mkdir(dirname(refFile), { recursive: true });
  const locks: string[] = [];
  try {
    for (const lock of [join(gitdir, 'index.lock'), `${refFile}.lock`]) {
      await open(lock, 'wx').then(
        (h) => h.close(),
        (e: unknown) => {
          if (codeOf(e) !== 'EEXIST') throw e;
          throw ff.fail(`${lock} exists: another git process is working in ${dir}; wait for it to finish, or remove the file if none is running`, 'locked');
        },
      );
      locks.push(lock);
    }
    // Under the ref lock: the branch must still be where we compared it.
    const now = await git.resolveRef({ fs, gitdir, ref: `refs/heads/${branch}` }).catch(() => undefined);
    if (now !== from) throw ff.fail(`${branch} moved while clawops was syncing it (now ${now ? short(now) : 'unborn'}); run reconcile again`, 'locked');
    const fileMode = (await git.getConfig({ fs, gitdir, path: 'core.filemode' }).catch(() => undefined)) !== false;
    await GitIndexManager.acquire({ fs: new FileSystem(fs), gitdir, cache: {} }, async (index: GitIndexLike) => {
      await checkClean(ff, changes, index, fileMode);
      await applyChanges(ff, changes, index);
    });
    if (from) await writeFile(join(gitdir, 'ORIG_HEAD'), `${from}\n`);
    await writeFile(`${refFile}.lock`, `${to}\n`);
    await rename(`${refFile}.lock`, refFile);
    locks.splice(locks.indexOf(`${refFile}.lock`), 1);
    await logRefUpdate(gitdir, branch, from, to, ff.upstream);
  } finally {
    for (const lock of locks) await unlink(lock).catch(() => undefined);
  }
}

/** The part of isomorphic-git's GitIndex used here (its own typings say `any`). */
interface GitIndexLike {
  readonly unmergedPaths: readonly string[];
  readonly entriesMap: ReadonlyMap<string, { readonly oid: string; readonly mode: number }>;
  insert(entry: { filepath: string; stats: fs.Stats; oid: string }): void;
  delete(entry: { filepath: string }): void;
}

/** Paths whose blob differs between two commits (`from` undefined: an unborn branch, everything is new). */
async function diffTrees(gitdir: string, from: string | undefined, to: string): Promise<Change[]> {
  const changes: Change[] = [];
  const blobOf = async (e: WalkerEntry | null | undefined): Promise<Blob | undefined> => {
    const type = e ? await e.type() : undefined;
    return type === 'blob' ? { oid: await e!.oid(), mode: await e!.mode() } : undefined;
  };
  await git.walk({
    fs,
    gitdir,
    trees: from ? [TREE({ ref: from }), TREE({ ref: to })] : [TREE({ ref: to })],
    map: async (path, entries) => {
      const [a, b] = from ? entries : [null, entries[0] ?? null];
      const [ta, tb] = [a ? await a.type() : undefined, b ? await b.type() : undefined];
      if (ta === 'tree' && tb === 'tree' && (await a!.oid()) === (await b!.oid())) return null;
      if (path === '.') return undefined;
      if (ta === 'commit' || tb === 'commit') throw new SyncCheckoutError(`the update changes the submodule ${path}, which clawops cannot check out: sync this checkout with native git, ${NO_PULL}`, { repo: gitdir, reason: 'unsupported-checkout' });
      const [oldBlob, newBlob] = [await blobOf(a), await blobOf(b)];
      if (!sameBlob(oldBlob, newBlob)) changes.push({ path, old: oldBlob, new: newBlob });
      return undefined;
    },
  });
  return changes;
}

const sameBlob = (x: Blob | undefined, y: Blob | undefined, fileMode = true): boolean =>
  x === y || (x !== undefined && y !== undefined && x.oid === y.oid && (x.mode === y.mode || (!fileMode && x.mode !== 0o120000 && y.mode !== 0o120000)));

type OnDisk = { readonly kind: 'dir' } | ({ readonly kind: 'blob' } & Blob) | undefined;

async function onDisk(file: string): Promise<OnDisk> {
  const st = await lstat(file).catch((e: unknown) => {
    if (codeOf(e) === 'ENOENT' || codeOf(e) === 'ENOTDIR') return undefined;
    throw e;
  });
  if (!st) return undefined;
  if (st.isDirectory()) return { kind: 'dir' };
  const content = st.isSymbolicLink() ? Buffer.from(await readlink(file)) : await readFile(file);
  const { oid } = await git.hashBlob({ object: content });
  return { kind: 'blob', oid, mode: st.isSymbolicLink() ? 0o120000 : st.mode & 0o100 ? 0o100755 : 0o100644 };
}

async function filesUnder(root: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(root, prefix), { withFileTypes: true })) {
    const path = `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await filesUnder(root, path)));
    else out.push(path);
  }
  return out;
}

/**
 * git's rule for a fast-forward: a path the update changes must be unmodified in the index and
 * the work tree (or already at the new version, or missing from the work tree); nothing untracked
 * may stand where a new file goes. Stricter than git in one way: ignored files are never overwritten.
 */
async function checkClean(ff: FastForward, changes: readonly Change[], index: GitIndexLike, fileMode: boolean): Promise<void> {
  if (index.unmergedPaths.length > 0) throw ff.fail(`${ff.dir} has unmerged files (${index.unmergedPaths.slice(0, 5).join(', ')}): finish or abort the merge first, ${NO_PULL}`, 'local-changes', index.unmergedPaths);
  const deleted = new Set(changes.filter((c) => c.old && !c.new).map((c) => c.path));
  const staged: string[] = [];
  const modified: string[] = [];
  const untracked: string[] = [];
  for (const c of changes) {
    const idx = index.entriesMap.get(c.path);
    const inIndex = idx ? { oid: idx.oid, mode: idx.mode } : undefined;
    const indexAtOld = sameBlob(inIndex, c.old, fileMode);
    if (!indexAtOld && !sameBlob(inIndex, c.new, fileMode)) {
      staged.push(c.path);
      continue;
    }
    const disk = await onDisk(join(ff.dir, c.path));
    if (disk?.kind === 'dir') {
      const inside = c.new ? await filesUnder(ff.dir, c.path) : [c.path];
      if (!inside.every((p) => deleted.has(p))) untracked.push(c.path);
    } else if (disk && !sameBlob(disk, c.new, fileMode) && !(indexAtOld && sameBlob(disk, c.old, fileMode))) {
      (c.old || inIndex ? modified : untracked).push(c.path);
    }
    // A new file's parent folders must be folders, or files the update deletes (never symlinks to elsewhere).
    if (c.new) {
      const parts = c.path.split('/');
      for (let i = 1; i < parts.length; i++) {
        const parent = parts.slice(0, i).join('/');
        const st = await lstat(join(ff.dir, parent)).catch(() => undefined);
        if (st && !st.isDirectory() && !deleted.has(parent)) {
          untracked.push(parent);
          break;
        }
      }
    }
  }
  const problems = [...staged, ...modified, ...untracked];
  if (problems.length === 0) return;
  const list = (paths: string[]) => paths.slice(0, 10).join(', ') + (paths.length > 10 ? ` and ${paths.length - 10} more` : '');
  const parts = [
    staged.length ? `staged changes to ${list(staged)}` : '',
    modified.length ? `local changes to ${list(modified)}` : '',
    untracked.length ? `untracked files where the update puts files: ${list(untracked)}` : '',
  ].filter(Boolean);
  throw ff.fail(
    `the fast-forward of ${ff.branch} to ${ff.upstream} (${short(ff.to)}) would overwrite ${parts.join('; ')}; nothing was changed: commit, stash (\`git stash -u\`) or remove them, ${NO_PULL}`,
    'local-changes',
    problems,
  );
}

async function applyChanges(ff: FastForward, changes: readonly Change[], index: GitIndexLike): Promise<void> {
  // Deletions first: a file the update removes may be where a new folder goes, and the reverse.
  for (const c of changes.filter((x) => !x.new)) {
    await rm(join(ff.dir, c.path), { force: true });
    index.delete({ filepath: c.path });
    await pruneEmptyParents(ff.dir, c.path);
  }
  for (const c of changes) {
    if (!c.new) continue;
    const file = join(ff.dir, c.path);
    await mkdir(dirname(file), { recursive: true });
    if ((await onDisk(file))?.kind === 'dir') await rmdir(file);
    const { blob } = await git.readBlob({ fs, gitdir: ff.gitdir, oid: c.new.oid });
    const tmp = `${file}.clawops-${process.pid}.tmp`;
    await rm(tmp, { force: true });
    if (c.new.mode === 0o120000) await symlink(Buffer.from(blob).toString('utf8'), tmp);
    else await writeFile(tmp, blob, { mode: c.new.mode === 0o100755 ? 0o777 : 0o666 });
    await rename(tmp, file);
    index.insert({ filepath: c.path, stats: await lstat(file), oid: c.new.oid });
  }
}

/** git removes the folders a deletion leaves empty. */
async function pruneEmptyParents(root: string, path: string): Promise<void> {
  for (let at = dirname(path); at !== '.' && at !== ''; at = dirname(at)) {
    const removed = await rmdir(join(root, at)).then(
      () => true,
      () => false,
    );
    if (!removed) return;
  }
}

/** The reflog lines `git pull` writes, so `git reflog` shows the update and ORIG_HEAD/`@{1}` undo it. */
async function logRefUpdate(gitdir: string, branch: string, from: string | undefined, to: string, upstream: string): Promise<void> {
  const name = (await git.getConfig({ fs, gitdir, path: 'user.name' }).catch(() => undefined)) ?? 'clawops';
  const email = (await git.getConfig({ fs, gitdir, path: 'user.email' }).catch(() => undefined)) ?? 'clawops@localhost';
  const d = new Date();
  const off = -d.getTimezoneOffset();
  const tz = `${off < 0 ? '-' : '+'}${String(Math.floor(Math.abs(off) / 60)).padStart(2, '0')}${String(Math.abs(off) % 60).padStart(2, '0')}`;
  const line = `${from ?? '0'.repeat(40)} ${to} ${String(name)} <${String(email)}> ${Math.floor(d.getTime() / 1000)} ${tz}\tpull: fast-forward to ${upstream} (clawops)\n`;
  for (const log of [join(gitdir, 'logs', 'refs', 'heads', ...branch.split('/')), join(gitdir, 'logs', 'HEAD')]) {
    // Only where git keeps reflogs already (core.logAllRefUpdates): never start one it would not.
    if (await stat(log).then(() => true, () => false)) await appendFile(log, line);
  }
}
