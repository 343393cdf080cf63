/**
 * The state branch published to a real git smart-HTTP server (`git http-backend` on loopback):
 * the remote ref is the compare-and-swap lock. A stale writer is refused before it sends
 * anything and rebuilds on the new tip; a true race (one push held at the server) has one winner
 * and the loser rebuilds; two writers racing for 50 rounds lose nothing; never a force push.
 * Plus tokens, shallow and full fetches, refusals that are not races, and clear failures.
 */
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStateBranch, StateBranchError, type StateBranchOptions } from '../reconciler/git/object-branch.ts';
import type { BranchWrite, StateBranch, TreeView } from '../reconciler/git/state-branch.ts';
import { acquireLease, releaseLease } from '../reconciler/state/leases.ts';
import { runGit, startGitHttpServer, type GitHttpServer } from './helpers/git-http-server.ts';

const TOKEN = 'test-token-9f8e7d';
const tmp = mkdtempSync(join(tmpdir(), 'clawops-remote-branch-'));
let server: GitHttpServer;
beforeAll(async () => {
  server = await startGitHttpServer({ token: TOKEN });
});
afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

let copies = 0;
/** A writer with its own local copy, as on another machine. */
const writer = (url: string, opts: Partial<StateBranchOptions> = {}) =>
  openStateBranch({ gitdir: join(tmp, `copy-${copies++}.git`), branch: 'clawops/audit', remote: { url, token: TOKEN }, author: { name: 'clawops', email: 'clawops@example.com' }, ...opts });
const text = async (view: TreeView, path: string) => {
  const b = await view.readFile(path);
  return b === undefined ? undefined : Buffer.from(b).toString('utf8');
};
const appendLine = (line: string, builds?: Array<string | undefined>) => async (base: TreeView): Promise<BranchWrite> => {
  builds?.push(base.head);
  return { files: new Map([['log.txt', Buffer.from(`${(await text(base, 'log.txt')) ?? ''}${line}\n`)]]), message: `append ${line}` };
};
const serverTip = async (repo: string) => (await runGit(['--git-dir', join(server.root, `${repo}.git`), 'rev-parse', '--verify', '-q', 'refs/heads/clawops/audit'])).stdout.trim() || undefined;
const serverLog = async (repo: string) => (await runGit(['--git-dir', join(server.root, `${repo}.git`), 'log', '--format=%s', 'clawops/audit'])).stdout.trim().split('\n');
const count = async (b: StateBranch) => {
  let n = 0;
  for await (const c of b.log()) if (c.oid) n++;
  return n;
};

describe('publishing', () => {
  it('creates the branch with the first push, as an orphan next to the fleet branches', async () => {
    const url = await server.createRepo('first');
    const a = await writer(url);
    expect(await a.head()).toBeUndefined();
    const r = await a.update(appendLine('one'));
    expect(r).toEqual({ oid: expect.any(String), attempts: 1 });
    expect(await serverTip('first')).toBe(r!.oid);
    expect((await runGit(['--git-dir', join(server.root, 'first.git'), 'rev-list', '--max-parents=0', 'clawops/audit'])).stdout.trim()).toBe(r!.oid);
    const fsck = await runGit(['--git-dir', join(server.root, 'first.git'), 'fsck', '--strict', '--no-dangling']);
    expect(fsck.code, fsck.stderr).toBe(0);
  });

  it('a stale writer is refused, fetches, and rebuilds on the new tip', async () => {
    const url = await server.createRepo('stale');
    const [a, b] = [await writer(url), await writer(url)];
    await a.update(appendLine('a0'));
    await b.fetch();
    await a.update(appendLine('a1'));
    const pushesBefore = server.pushes;
    const builds: Array<string | undefined> = [];
    const r = await b.update(appendLine('b1', builds));
    expect(r!.attempts).toBe(2);
    expect(builds).toEqual([expect.any(String), await a.head()]);
    // Refused by the client from the advertised tip: only the retry reached the server.
    expect(server.pushes - pushesBefore).toBe(1);
    await a.fetch();
    expect(await text(await a.at(), 'log.txt')).toBe('a0\na1\nb1\n');
  });

  it('a true race has one winner; the loser is refused by the server and rebuilds', async () => {
    const url = await server.createRepo('race');
    const [a, b] = [await writer(url), await writer(url)];
    await a.update(appendLine('base'));
    await b.fetch();

    let arrived!: () => void;
    const heldAtServer = new Promise<void>((r) => (arrived = r));
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    server.beforeReceivePack = async () => {
      server.beforeReceivePack = undefined;
      arrived();
      await released;
    };
    const pushesBefore = server.pushes;
    const builds: Array<string | undefined> = [];
    const loser = b.update(appendLine('b', builds));
    await heldAtServer; // b saw the old tip and sent its push; the server holds it
    const winner = await a.update(appendLine('a'));
    release();
    const r = await loser;
    expect(r!.attempts).toBe(2);
    expect(builds[1]).toBe(winner!.oid);
    // b's first push reached the server (and lost there), then a's, then b's retry.
    expect(server.pushes - pushesBefore).toBe(3);
    expect(await serverLog('race')).toEqual(['append b', 'append a', 'append base']);
  });

  it('two writers racing for 50 rounds, each with its own copy: 0 lost writes', async () => {
    const url = await server.createRepo('rounds');
    const [a, b] = [await writer(url), await writer(url)];
    const rounds = 50;
    let attempts = 0;
    for (let i = 0; i < rounds; i++) {
      const results = await Promise.all([a.update(appendLine(`a${i}`)), b.update(appendLine(`b${i}`))]);
      attempts += results.reduce((sum, r) => sum + r!.attempts, 0);
    }
    const reader = await writer(url);
    await reader.fetch();
    const lines = (await text(await reader.at(), 'log.txt'))!.trim().split('\n');
    expect(lines).toHaveLength(2 * rounds);
    for (const w of ['a', 'b']) expect(lines.filter((l) => l[0] === w)).toEqual(Array.from({ length: rounds }, (_, i) => `${w}${i}`));
    expect(await serverLog('rounds')).toHaveLength(2 * rounds);
    // Each round starts with one writer behind (the previous round's winner), so each round costs at least one retry.
    expect(attempts).toBeGreaterThanOrEqual(3 * rounds);
  }, 120_000);

  it('gives up after maxAttempts when the branch keeps moving, saying nothing was lost', async () => {
    const url = await server.createRepo('moving');
    const [a, other] = [await writer(url, { maxAttempts: 2, retryDelayMs: 1 }), await writer(url)];
    await a.update(appendLine('base'));
    let n = 0;
    const err = await a
      .update(async (base) => {
        await other.update(appendLine(`other${++n}`));
        return appendLine('never')(base);
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateBranchError);
    expect((err as StateBranchError).data.reason).toBe('contention');
    expect((err as Error).message).toMatch(/kept moving: 2 attempts.*Nothing was lost/);
    expect(await serverLog('moving')).toEqual(['append other2', 'append other1', 'append base']);
  });

  it('a refusal that is not a race (a server hook) fails at once with the server message', async () => {
    const url = await server.createRepo('protected');
    const a = await writer(url);
    await a.update(appendLine('base'));
    const hook = join(server.root, 'protected.git', 'hooks', 'pre-receive');
    writeFileSync(hook, '#!/bin/sh\necho "branch is protected" >&2\nexit 1\n');
    chmodSync(hook, 0o755);
    const builds: Array<string | undefined> = [];
    const err = await a.update(appendLine('refused', builds)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STATE_BRANCH', data: { reason: 'rejected' } });
    expect((err as Error).message).toMatch(/refused the push to clawops\/audit: .*hook declined.*nothing was lost/);
    expect(builds).toHaveLength(1);
    rmSync(hook);
  });
});

describe('fetching', () => {
  it('keeps a shallow copy; a full fetch brings the whole history', async () => {
    const url = await server.createRepo('history');
    const a = await writer(url);
    for (let i = 0; i < 6; i++) await a.update(appendLine(`l${i}`));
    const c = await writer(url);
    await c.fetch();
    expect(await c.head()).toBe(await a.head());
    expect(await count(c)).toBe(1);
    expect(await text(await c.at(), 'log.txt')).toBe('l0\nl1\nl2\nl3\nl4\nl5\n');
    await expect(c.changedPaths((await c.head())!)).rejects.toMatchObject({ data: { reason: 'shallow' } });

    await c.fetch({ full: true });
    expect(await count(c)).toBe(6);
    const paths = [];
    for await (const commit of c.log()) paths.push(await c.changedPaths(commit.oid));
    expect(paths).toEqual(Array.from({ length: 6 }, () => ['log.txt']));
    // Writing on top of the full copy still works, and a shallow writer catches up.
    await c.update(appendLine('from c'));
    const r = await a.update(appendLine('from a'));
    expect(r!.attempts).toBe(2);
  });

  it('fetching a branch the remote does not have yet leaves the copy empty', async () => {
    const url = await server.createRepo('nobranch');
    const a = await writer(url);
    await a.fetch();
    expect(await a.head()).toBeUndefined();
    expect(await (await a.at()).list('')).toEqual([]);
  });

  it('a remote whose HEAD names no branch fails clearly and leaves the copy intact', async () => {
    const url = await server.createRepo('dangling', { empty: true });
    const a = await writer(url);
    await a.update(appendLine('only branch'));
    const gitdir = join(tmp, 'dangling-copy.git');
    const b = await writer(url, { gitdir });
    const err = await b.fetch().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STATE_BRANCH', data: { reason: 'remote' } });
    expect((err as Error).message).toMatch(/HEAD names a branch that does not exist.*push a default branch/);
    expect(await b.head()).toBeUndefined();
    expect(existsSync(join(gitdir, 'shallow'))).toBe(false);
  });
});

describe('leases through the remote', () => {
  it('one of two runners gets the shard; once released, the other sees that at once', async () => {
    const url = await server.createRepo('leases');
    const [a, b] = [await writer(url), await writer(url)];
    const now = () => new Date('2026-01-01T00:00:00Z');
    const results = await Promise.all([acquireLease(a, '0-of-1', 'runner-a', 60_000, now), acquireLease(b, '0-of-1', 'runner-b', 60_000, now)]);
    expect(results.map((r) => r.status).sort()).toEqual(['acquired', 'held']);
    const [winner, loser] = results[0]!.status === 'acquired' ? [a, b] : [b, a];
    const winnerName = results[0]!.status === 'acquired' ? 'runner-a' : 'runner-b';
    expect(await releaseLease(winner, '0-of-1', winnerName)).toBe(true);
    // The loser's copy still shows the lease; acquiring looks at the remote first.
    expect(await acquireLease(loser, '0-of-1', 'runner-c', 60_000, now)).toMatchObject({ status: 'acquired', lease: { holder: 'runner-c' } });
  });
});

describe('credentials', () => {
  it('sends the token as basic auth and never prints it', async () => {
    const url = await server.createRepo('auth');
    const wrong = await openStateBranch({ gitdir: join(tmp, 'wrong.git'), branch: 'clawops/audit', remote: { url, token: 'wrong-token-123' }, author: { name: 'c', email: 'c@example.com' } });
    const err = await wrong.update(appendLine('x')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STATE_BRANCH', data: { reason: 'remote' } });
    expect((err as Error).message).toMatch(/refused the credentials; set CLAWOPS_GIT_TOKEN/);
    expect(JSON.stringify(err)).not.toContain('wrong-token-123');
    expect((err as Error).message).not.toContain('wrong-token-123');

    const none = await openStateBranch({ gitdir: join(tmp, 'none.git'), branch: 'clawops/audit', remote: { url }, author: { name: 'c', email: 'c@example.com' } });
    await expect(none.fetch()).rejects.toMatchObject({ data: { reason: 'remote' } });

    const inUrl = await openStateBranch({ gitdir: join(tmp, 'in-url.git'), branch: 'clawops/audit', remote: { url: url.replace('http://', `http://x-access-token:${TOKEN}@`) }, author: { name: 'c', email: 'c@example.com' } });
    await inUrl.update(appendLine('credentials in the URL work too'));
    const closed = await openStateBranch({ gitdir: join(tmp, 'closed.git'), branch: 'clawops/audit', remote: { url: `http://x-access-token:${TOKEN}@127.0.0.1:1/nothing.git` }, author: { name: 'c', email: 'c@example.com' } });
    const down = await closed.fetch().catch((e: unknown) => e);
    expect((down as Error).message).toMatch(/^cannot fetch from http:\/\/127\.0\.0\.1:1\/nothing\.git/);
    expect((down as Error).message).not.toContain(TOKEN);
  });
});
