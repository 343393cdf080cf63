/**
 * Syncing the fleet checkout before a reconcile, against a real smart-HTTP server (`git
 * http-backend`) and checked against native git: after a fast-forward the checkout's HEAD, files,
 * modes, index and status equal a second clone that ran `git pull --ff-only` with the same local
 * edits. Refusals (diverged, local changes, detached HEAD, ssh, credentials) change nothing.
 */
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync, chmodSync, symlinkSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redactor } from '../reconciler/redact/redactor.ts';
import { syncCheckout, SyncCheckoutError } from '../reconciler/git/sync-checkout.ts';
import { runGit, startGitHttpServer, type GitHttpServer } from './helpers/git-http-server.ts';

const TOKEN = 'sync-token-5a4b3c2d1e';
const AUTHOR = { GIT_AUTHOR_NAME: 'dev', GIT_AUTHOR_EMAIL: 'dev@example.com', GIT_COMMITTER_NAME: 'dev', GIT_COMMITTER_EMAIL: 'dev@example.com' };
const tmp = mkdtempSync(join(tmpdir(), 'clawops-sync-checkout-'));
let server: GitHttpServer;
let locked: GitHttpServer;
beforeAll(async () => {
  [server, locked] = await Promise.all([startGitHttpServer(), startGitHttpServer({ token: TOKEN })]);
});
afterAll(async () => {
  await Promise.all([server?.close(), locked?.close()]);
  rmSync(tmp, { recursive: true, force: true });
});

const authConfig = ['-c', `http.extraHeader=Authorization: Basic ${Buffer.from(`x-access-token:${TOKEN}`).toString('base64')}`];
async function g(cwd: string, ...args: string[]): Promise<string> {
  const r = await runGit([...authConfig, ...args], { cwd, env: AUTHOR });
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim();
}
let dirs = 0;
async function clone(url: string): Promise<string> {
  const dir = join(tmp, `clone-${dirs++}`);
  await g(tmp, 'clone', '--quiet', url, dir);
  return dir;
}
const sync = (dir: string, env: Record<string, string | undefined> = {}) => syncCheckout(dir, { env, redactor: new Redactor() });
const write = (dir: string, files: Record<string, string>) => {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
};
async function commitAndPush(dir: string, message: string, change: () => void): Promise<string> {
  change();
  await g(dir, 'add', '-A');
  await g(dir, 'commit', '--quiet', '-m', message);
  await g(dir, 'push', '--quiet', 'origin', 'HEAD:main');
  return g(dir, 'rev-parse', 'HEAD');
}
/** Every file under `dir` but .git: path, kind, exec bit, content or link target. */
function snapshot(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, prefix)).sort()) {
    const path = prefix ? `${prefix}/${name}` : name;
    if (path === '.git') continue;
    const st = lstatSync(join(dir, path));
    if (st.isDirectory()) out.push(`${path}/`, ...snapshot(dir, path));
    else if (st.isSymbolicLink()) out.push(`${path} -> ${readlinkSync(join(dir, path))}`);
    else out.push(`${path} ${st.mode & 0o100 ? 'x' : '-'} ${readFileSync(join(dir, path), 'utf8')}`);
  }
  return out;
}
async function refusal(p: Promise<unknown>): Promise<SyncCheckoutError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(SyncCheckoutError);
  return e as SyncCheckoutError;
}
/** A fleet repo on the server with a first commit, a publisher clone to push from, and its URL. */
async function fleet(name: string, on: GitHttpServer = server) {
  const url = await on.createRepo(name);
  const publisher = await clone(url);
  const first = await commitAndPush(publisher, 'first', () => write(publisher, { 'fleet/a.yaml': 'a: 1\n', 'clawops.yaml': 'kind: Repository\n' }));
  return { url, publisher, first };
}

describe('nothing to sync', () => {
  it('a folder outside any git checkout is not-git', async () => {
    const dir = mkdtempSync(join(tmp, 'plain-'));
    expect(await sync(dir)).toEqual({ status: 'not-git' });
  });

  it('a checkout without remotes is no-remote, and one whose branch tracks a local branch too', async () => {
    const dir = join(tmp, 'local-only');
    await g(tmp, 'init', '--quiet', '--initial-branch=main', dir);
    write(dir, { 'a.yaml': 'a: 1\n' });
    await g(dir, 'add', '-A');
    await g(dir, 'commit', '--quiet', '-m', 'one');
    expect(await sync(dir)).toEqual({ status: 'no-remote' });
    await g(dir, 'remote', 'add', 'upstream', 'https://example.invalid/fleet.git');
    await g(dir, 'switch', '--quiet', '-c', 'work', '--track', 'main');
    expect(await sync(dir)).toEqual({ status: 'no-remote' });
  });

  it('a fresh clone is up to date, found from a folder inside the checkout', async () => {
    const { url, first } = await fleet('fresh');
    const dir = await clone(url);
    expect(await sync(join(dir, 'fleet'))).toEqual({ status: 'up-to-date', commit: first, remote: url });
  });

  it('a checkout ahead of its remote is up to date (as `git pull --ff-only` says) and keeps its commit', async () => {
    const { url } = await fleet('ahead');
    const dir = await clone(url);
    write(dir, { 'local.yaml': 'x: 1\n' });
    await g(dir, 'add', '-A');
    await g(dir, 'commit', '--quiet', '-m', 'local');
    const head = await g(dir, 'rev-parse', 'HEAD');
    expect(await sync(dir)).toMatchObject({ status: 'up-to-date', commit: head });
  });
});

describe('fast-forward', () => {
  it('equals native `git pull --ff-only`: HEAD, files, modes, symlinks, index, status, reflog; unrelated local edits kept', async () => {
    const { url, publisher } = await fleet('ff');
    const base = await commitAndPush(publisher, 'base', () => {
      write(publisher, { 'fleet/b.yaml': 'b: 1\n', 'old/only.yaml': 'o: 1\n', 'becomes-dir': 'file\n', 'run.sh': 'echo hi\n', 'keep.yaml': 'k: 1\n', 'staged.yaml': 's: 1\n' });
      symlinkSync('fleet/a.yaml', join(publisher, 'link'));
    });
    const [ours, theirs] = [await clone(url), await clone(url)];
    // The same local state in both: an edit and a staged edit to files the update does not touch, an untracked file.
    for (const dir of [ours, theirs]) {
      write(dir, { 'keep.yaml': 'k: local edit\n', 'staged.yaml': 's: staged\n', 'notes.txt': 'untracked\n' });
      await g(dir, 'add', 'staged.yaml');
    }
    const tip = await commitAndPush(publisher, 'update', () => {
      write(publisher, { 'fleet/a.yaml': 'a: 2\n', 'new/deep/c.yaml': 'c: 1\n' });
      rmSync(join(publisher, 'old'), { recursive: true });
      rmSync(join(publisher, 'becomes-dir'));
      write(publisher, { 'becomes-dir/inside.yaml': 'i: 1\n' });
      chmodSync(join(publisher, 'run.sh'), 0o755);
      rmSync(join(publisher, 'link'));
      symlinkSync('fleet/b.yaml', join(publisher, 'link'));
    });

    expect(await sync(ours)).toEqual({ status: 'fast-forwarded', commit: tip, from: base, remote: url });
    await g(theirs, 'pull', '--quiet', '--ff-only');

    expect(await g(ours, 'rev-parse', 'HEAD')).toBe(await g(theirs, 'rev-parse', 'HEAD'));
    expect(await g(ours, 'symbolic-ref', 'HEAD')).toBe('refs/heads/main');
    expect(snapshot(ours)).toEqual(snapshot(theirs));
    expect(snapshot(ours)).not.toContain('old/');
    expect(await g(ours, 'status', '--porcelain=v1', '--branch', '--untracked-files=all')).toBe(await g(theirs, 'status', '--porcelain=v1', '--branch', '--untracked-files=all'));
    expect(await g(ours, 'ls-files', '--stage')).toBe(await g(theirs, 'ls-files', '--stage'));
    expect(await g(ours, 'diff', '--cached', '--name-only')).toBe('staged.yaml');
    expect(await g(ours, 'rev-parse', 'ORIG_HEAD')).toBe(base);
    expect(await g(ours, 'reflog', '-1', '--format=%H %gs')).toMatch(new RegExp(`^${tip} pull: fast-forward`));
    expect(existsSync(join(ours, '.git', 'index.lock'))).toBe(false);
    const fsck = await runGit(['fsck', '--strict', '--no-dangling'], { cwd: ours });
    expect(fsck.code, fsck.stderr).toBe(0);
    // And the next run has nothing to do.
    expect(await sync(ours)).toEqual({ status: 'up-to-date', commit: tip, remote: url });
  });

  it('files already at the new version count as clean (a run that crashed mid-way is finished by the next)', async () => {
    const { url, publisher } = await fleet('resume');
    const dir = await clone(url);
    const tip = await commitAndPush(publisher, 'update', () => write(publisher, { 'fleet/a.yaml': 'a: 2\n', 'fleet/new.yaml': 'n: 1\n' }));
    write(dir, { 'fleet/a.yaml': 'a: 2\n', 'fleet/new.yaml': 'n: 1\n' });
    expect(await sync(dir)).toMatchObject({ status: 'fast-forwarded', commit: tip });
    expect(await g(dir, 'status', '--porcelain')).toBe('');
  });
});

describe('refusals change nothing', () => {
  it('a diverged branch', async () => {
    const { url, publisher } = await fleet('diverged');
    const dir = await clone(url);
    write(dir, { 'local.yaml': 'x: 1\n' });
    await g(dir, 'add', '-A');
    await g(dir, 'commit', '--quiet', '-m', 'local');
    const head = await g(dir, 'rev-parse', 'HEAD');
    await commitAndPush(publisher, 'remote', () => write(publisher, { 'fleet/a.yaml': 'a: 2\n' }));
    const e = await refusal(sync(dir));
    expect(e.data.reason).toBe('diverged');
    expect(e.message).toMatch(/main \([0-9a-f]{7}\) and origin\/main \([0-9a-f]{7}\) have diverged.*--no-pull/);
    expect(await g(dir, 'rev-parse', 'HEAD')).toBe(head);
    expect(await g(dir, 'status', '--porcelain')).toBe('');
  });

  it('local changes to a tracked file the update changes, and an untracked file where it adds one', async () => {
    const { url, publisher, first } = await fleet('dirty');
    const dir = await clone(url);
    write(dir, { 'fleet/a.yaml': 'a: my edit\n', 'fleet/new.yaml': 'mine\n' });
    const before = [snapshot(dir), await g(dir, 'status', '--porcelain'), await g(dir, 'ls-files', '--stage')];
    await commitAndPush(publisher, 'remote', () => write(publisher, { 'fleet/a.yaml': 'a: 2\n', 'fleet/new.yaml': 'theirs\n' }));
    const e = await refusal(sync(dir));
    expect(e.data).toMatchObject({ reason: 'local-changes', paths: ['fleet/a.yaml', 'fleet/new.yaml'] });
    expect(e.message).toContain('local changes to fleet/a.yaml; untracked files where the update puts files: fleet/new.yaml; nothing was changed');
    expect([snapshot(dir), await g(dir, 'status', '--porcelain'), await g(dir, 'ls-files', '--stage')]).toEqual(before);
    expect(await g(dir, 'rev-parse', 'HEAD')).toBe(first);
    // Native git refuses the same pull.
    expect((await runGit(['pull', '--ff-only'], { cwd: dir })).code).not.toBe(0);
  });

  it('a staged change to a file the update changes', async () => {
    const { url, publisher, first } = await fleet('staged');
    const dir = await clone(url);
    write(dir, { 'fleet/a.yaml': 'a: staged\n' });
    await g(dir, 'add', 'fleet/a.yaml');
    write(dir, { 'fleet/a.yaml': 'a: 2\n' });
    await commitAndPush(publisher, 'remote', () => write(publisher, { 'fleet/a.yaml': 'a: 2\n' }));
    const e = await refusal(sync(dir));
    expect(e.data.paths).toEqual(['fleet/a.yaml']);
    expect(e.message).toContain('staged changes to fleet/a.yaml');
    expect(await g(dir, 'rev-parse', 'HEAD')).toBe(first);
  });

  it('a detached HEAD', async () => {
    const { url, first } = await fleet('detached');
    const dir = await clone(url);
    await g(dir, 'switch', '--quiet', '--detach');
    const e = await refusal(sync(dir));
    expect(e.data.reason).toBe('detached');
    expect(e.message).toContain(`HEAD is detached (at ${first.slice(0, 7)})`);
    expect(e.message).toContain('git switch main');
  });

  it('an ssh remote, with the https remote to use instead', async () => {
    const { url } = await fleet('ssh');
    const dir = await clone(url);
    await g(dir, 'remote', 'set-url', 'origin', 'git@github.com:acme/fleet.git');
    const e = await refusal(sync(dir));
    expect(e.data.reason).toBe('unsupported-remote');
    expect(e.message).toContain('`git remote set-url origin https://github.com/acme/fleet.git`');
    expect(e.message).toContain('CLAWOPS_GIT_TOKEN');
    expect(e.message).toContain('--no-pull');
  });
});

describe('a remote that requires a token', () => {
  it('fails without one, naming the variable; fast-forwards with CLAWOPS_GIT_TOKEN or GITHUB_TOKEN', async () => {
    const { url, publisher } = await fleet('private', locked);
    const dir = await clone(url);
    const tip = await commitAndPush(publisher, 'update', () => write(publisher, { 'fleet/a.yaml': 'a: 2\n' }));
    const e = await refusal(sync(dir));
    expect(e.data.reason).toBe('fetch');
    expect(e.message).toContain(`cannot fetch origin/main from ${url}: the remote requires credentials and none were given (HTTP 401): set CLAWOPS_GIT_TOKEN (or GITHUB_TOKEN)`);
    expect(await sync(dir, { GITHUB_TOKEN: TOKEN })).toMatchObject({ status: 'fast-forwarded', commit: tip });
    const next = await commitAndPush(publisher, 'again', () => write(publisher, { 'fleet/a.yaml': 'a: 3\n' }));
    expect(await sync(dir, { CLAWOPS_GIT_TOKEN: TOKEN, GITHUB_TOKEN: 'ignored-second' })).toMatchObject({ status: 'fast-forwarded', commit: next });
    expect(readFileSync(join(dir, 'fleet/a.yaml'), 'utf8')).toBe('a: 3\n');
  });

  it('a refused token, from the environment or written into the remote URL, never appears in the error', async () => {
    const { url } = await fleet('refused', locked);
    const dir = await clone(url);
    const wrong = 'wrong-token-0123456789';
    let e = await refusal(sync(dir, { CLAWOPS_GIT_TOKEN: wrong }));
    expect(e.message).toContain('the remote refused the token (HTTP 401)');
    expect(JSON.stringify(e.toJSON())).not.toContain(wrong);
    await g(dir, 'remote', 'set-url', 'origin', url.replace('//', `//x-access-token:${wrong}@`));
    e = await refusal(sync(dir));
    expect(e.message).toContain(`from ${url}:`);
    expect(JSON.stringify(e.toJSON())).not.toContain(wrong);
  });
});
