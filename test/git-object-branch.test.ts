/**
 * The state branch in a local object store (air-gapped use, and the fleet repo's own `.git`):
 * reads through trees and history, writes at the object level only (the work tree, index and
 * HEAD of a checkout are never touched), and compare-and-swap on the ref under git's own lock
 * file, so concurrent writers on one gitdir lose nothing and a dead writer's lock is reported.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStateBranch, StateBranchError, type StateBranchOptions } from '../reconciler/git/object-branch.ts';
import type { BranchWrite, StateBranch, TreeView } from '../reconciler/git/state-branch.ts';
import { run, runGit } from './helpers/git-http-server.ts';

const tmp = mkdtempSync(join(tmpdir(), 'clawops-object-branch-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const AUTHOR = { name: 'clawops', email: 'clawops@example.com' };
let n = 0;
const open = (opts: Partial<StateBranchOptions> = {}) => openStateBranch({ gitdir: join(tmp, `repo-${n++}.git`), branch: 'clawops/audit', author: AUTHOR, ...opts });
const text = async (view: TreeView, path: string) => {
  const b = await view.readFile(path);
  return b === undefined ? undefined : Buffer.from(b).toString('utf8');
};
const write = (files: Record<string, string | null>, message = 'write'): (() => Promise<BranchWrite>) => async () => ({
  files: new Map(Object.entries(files).map(([p, c]) => [p, c === null ? null : Buffer.from(c)])),
  message,
});
/** Appends one line to `log.txt`, reading what is there on the tree it builds on. */
const appendLine = (line: string) => async (base: TreeView): Promise<BranchWrite> => ({
  files: new Map([['log.txt', Buffer.from(`${(await text(base, 'log.txt')) ?? ''}${line}\n`)]]),
  message: `append ${line}`,
});
const all = async (b: StateBranch) => {
  const out = [];
  for await (const c of b.log()) out.push(c);
  return out;
};

describe('reading and writing', () => {
  it('starts empty, then reads files, directories and history back', async () => {
    const b = await open({ now: () => new Date('2026-03-01T10:00:00Z') });
    expect(await b.head()).toBeUndefined();
    const empty = await b.at();
    expect(empty.head).toBeUndefined();
    expect(await empty.readFile('a')).toBeUndefined();
    expect(await empty.list('')).toEqual([]);
    expect(await all(b)).toEqual([]);

    const first = await b.update(write({ 'events/2026/03/01.jsonl': '1\n', 'state/live/a.json': '{}\n', 'README': 'r\n' }, 'first'));
    expect(first).toEqual({ oid: expect.stringMatching(/^[0-9a-f]{40}$/), attempts: 1 });
    const second = await b.update(write({ 'events/2026/03/01.jsonl': '1\n2\n', 'state/live/b.json': '{}\n', 'README': null }, 'second\n\nbody\n'));
    expect(await b.head()).toBe(second!.oid);

    const view = await b.at();
    expect(await text(view, 'events/2026/03/01.jsonl')).toBe('1\n2\n');
    expect(await view.readFile('README')).toBeUndefined();
    expect(await view.readFile('events')).toBeUndefined(); // a directory is not a file
    expect(await view.list('')).toEqual(['events', 'state']);
    expect(await view.list('state/live/')).toEqual(['a.json', 'b.json']);
    expect(await view.list('state/live/a.json')).toEqual([]); // a file is not a directory
    expect(await view.list('nope')).toEqual([]);
    expect(await text(await b.at(first!.oid), 'README')).toBe('r\n');

    const log = await all(b);
    expect(log.map((c) => c.message)).toEqual(['second\n\nbody\n', 'first\n']);
    expect(log[0]).toMatchObject({ parents: [first!.oid], committer: { name: 'clawops', email: 'clawops@example.com', timestamp: Date.parse('2026-03-01T10:00:00Z') / 1000, timezoneOffset: 0 } });
    expect(log[1]!.parents).toEqual([]);
    expect(await b.changedPaths(second!.oid)).toEqual(['README', 'events/2026/03/01.jsonl', 'state/live/b.json']);
    expect(await b.changedPaths(first!.oid)).toEqual(['README', 'events/2026/03/01.jsonl', 'state/live/a.json']);
    const third = await b.update(write({ 'x': 'x\n' }));
    expect((await (async () => { const out = []; for await (const c of b.log({ until: first!.oid })) out.push(c.oid); return out; })())).toEqual([third!.oid, second!.oid]);
    expect((await (async () => { const out = []; for await (const c of b.log({ from: second!.oid })) out.push(c.oid); return out; })())).toEqual([second!.oid, first!.oid]);
  });

  it('writes nothing when build returns undefined or changes nothing', async () => {
    const b = await open();
    expect(await b.update(async () => undefined)).toBeUndefined();
    expect(await b.update(write({ 'a': null }))).toBeUndefined();
    expect(await b.head()).toBeUndefined();
    const first = await b.update(write({ 'a/b/c': 'c\n' }));
    expect(await b.update(write({ 'a/b/c': 'c\n', 'z': null }))).toBeUndefined();
    expect(await b.head()).toBe(first!.oid);
  });

  it('replaces a file by a directory and drops directories that become empty', async () => {
    const gitdir = join(tmp, 'replace.git');
    const b = await open({ gitdir });
    await b.update(write({ 'a': 'file\n', 'd/e/f': 'f\n', 'd/g': 'g\n' }));
    await b.update(write({ 'a/inner': 'now a dir\n', 'd/e/f': null }));
    const view = await b.at();
    expect(await view.list('')).toEqual(['a', 'd']);
    expect(await view.list('d')).toEqual(['g']);
    expect(await text(view, 'a/inner')).toBe('now a dir\n');
    const fsck = await runGit(['--git-dir', gitdir, 'fsck', '--strict', '--no-dangling']);
    expect(fsck.code, fsck.stderr).toBe(0);
  });

  it('refuses unusable paths, branch names and authors', async () => {
    const b = await open();
    for (const bad of ['', '/abs', 'a//b', 'a/../b', './a', '.git/config', 'trailing/']) {
      await expect(b.update(write({ [bad]: 'x' }))).rejects.toThrow(/not a usable path/);
    }
    for (const name of ['../x', 'a..b', '.hidden', 'x.lock', 'has space', '/lead']) {
      await expect(open({ branch: name })).rejects.toMatchObject({ code: 'STATE_BRANCH', data: { reason: 'invalid' } });
    }
    await expect(open({ author: { name: 'a <b>', email: 'x@example.com' } })).rejects.toThrow(/contains <, > or a newline/);
  });

  it('touches only objects and its ref in a checkout: work tree, index and HEAD stay as they were', async () => {
    const work = join(tmp, 'checkout');
    await runGit(['init', '-q', '-b', 'main', work]);
    writeFileSync(join(work, 'fleet.yaml'), 'kind: Agent\n');
    const env = { GIT_AUTHOR_NAME: 'u', GIT_AUTHOR_EMAIL: 'u@example.com', GIT_COMMITTER_NAME: 'u', GIT_COMMITTER_EMAIL: 'u@example.com' };
    await runGit(['-C', work, 'add', '.'], { env });
    await runGit(['-C', work, 'commit', '-q', '-m', 'fleet'], { env });
    writeFileSync(join(work, 'dirty.txt'), 'uncommitted\n');
    const index = readFileSync(join(work, '.git', 'index'));
    const before = await runGit(['-C', work, 'status', '--porcelain']);

    const b = await openStateBranch({ gitdir: join(work, '.git'), branch: 'clawops/audit', author: AUTHOR });
    const r = await b.update(write({ 'state/x.json': '{}\n' }));
    expect(readFileSync(join(work, '.git', 'index')).equals(index)).toBe(true);
    expect(readFileSync(join(work, '.git', 'HEAD'), 'utf8')).toBe('ref: refs/heads/main\n');
    expect((await runGit(['-C', work, 'status', '--porcelain'])).stdout).toBe(before.stdout);
    expect((await runGit(['-C', work, 'rev-parse', 'clawops/audit'])).stdout.trim()).toBe(r!.oid);
    expect((await runGit(['-C', work, 'rev-list', '--max-parents=0', 'clawops/audit'])).stdout.trim()).toBe(r!.oid);

    // A ref native git has packed is still the one compared against.
    await runGit(['-C', work, 'pack-refs', '--all']);
    expect(existsSync(join(work, '.git', 'refs', 'heads', 'clawops', 'audit'))).toBe(false);
    expect(await b.head()).toBe(r!.oid);
    const r2 = await b.update(write({ 'state/y.json': '{}\n' }));
    expect((await runGit(['-C', work, 'rev-parse', 'clawops/audit^'])).stdout.trim()).toBe(r!.oid);
    expect((await runGit(['-C', work, 'rev-parse', 'clawops/audit'])).stdout.trim()).toBe(r2!.oid);
    // Objects git packed are read too.
    await runGit(['-C', work, 'gc', '-q']);
    expect(await text(await b.at(), 'state/x.json')).toBe('{}\n');
    expect(await b.changedPaths(r2!.oid)).toEqual(['state/y.json']);
  });
});

describe('compare-and-swap on a local ref', () => {
  it('two writers on one gitdir, racing, lose nothing', async () => {
    const gitdir = join(tmp, 'shared.git');
    const [a, b] = await Promise.all([openStateBranch({ gitdir, branch: 'clawops/audit', author: AUTHOR }), openStateBranch({ gitdir, branch: 'clawops/audit', author: AUTHOR })]);
    const rounds = 40;
    const results = await Promise.all([
      (async () => { const r = []; for (let i = 0; i < rounds; i++) r.push(await a.update(appendLine(`a${i}`))); return r; })(),
      (async () => { const r = []; for (let i = 0; i < rounds; i++) r.push(await b.update(appendLine(`b${i}`))); return r; })(),
    ]);
    const lines = (await text(await a.at(), 'log.txt'))!.trim().split('\n');
    expect(lines).toHaveLength(2 * rounds);
    expect(lines.filter((l) => l.startsWith('a'))).toEqual(Array.from({ length: rounds }, (_, i) => `a${i}`));
    expect(lines.filter((l) => l.startsWith('b'))).toEqual(Array.from({ length: rounds }, (_, i) => `b${i}`));
    expect(await all(a)).toHaveLength(2 * rounds);
    // Every commit both writers made is on the branch.
    const onBranch = new Set((await all(a)).map((c) => c.oid));
    for (const r of results.flat()) expect(onBranch.has(r!.oid)).toBe(true);
    expect(existsSync(join(gitdir, 'refs', 'heads', 'clawops', 'audit.lock'))).toBe(false);
    // They did race: some writes had to be rebuilt on the other's tip.
    expect(results.flat().some((r) => r!.attempts > 1)).toBe(true);
  });

  it('a writer in another process on the same gitdir loses nothing either', async () => {
    const gitdir = join(tmp, 'two-processes.git');
    const mine = await openStateBranch({ gitdir, branch: 'clawops/audit', author: AUTHOR });
    await mine.update(appendLine('start'));
    const script = join(tmp, 'writer.ts');
    writeFileSync(
      script,
      `import { writeFileSync } from 'node:fs';
import { openStateBranch } from ${JSON.stringify(join(import.meta.dirname, '..', 'reconciler', 'git', 'object-branch.ts'))};
const b = await openStateBranch({ gitdir: ${JSON.stringify(gitdir)}, branch: 'clawops/audit', author: { name: 'child', email: 'child@example.com' } });
writeFileSync(${JSON.stringify(join(tmp, 'child-ready'))}, '');
let retried = 0;
for (let i = 0; i < 30; i++) {
  const r = await b.update(async (base) => {
    const old = base.head ? Buffer.from((await base.readFile('log.txt')) ?? []).toString() : '';
    return { files: new Map([['log.txt', Buffer.from(old + 'child' + i + '\\n')]]), message: 'child ' + i };
  });
  if (r.attempts > 1) retried++;
}
process.stdout.write(String(retried));
`,
    );
    const child = run(process.execPath, [script]);
    while (!existsSync(join(tmp, 'child-ready'))) await new Promise((r) => setTimeout(r, 5));
    let retried = 0;
    for (let i = 0; i < 30; i++) if ((await mine.update(appendLine(`parent${i}`)))!.attempts > 1) retried++;
    const done = await child;
    expect(done.code, done.stderr).toBe(0);
    const lines = (await text(await mine.at(), 'log.txt'))!.trim().split('\n');
    expect(lines).toHaveLength(61);
    expect(lines.filter((l) => l.startsWith('child'))).toEqual(Array.from({ length: 30 }, (_, i) => `child${i}`));
    expect(lines.filter((l) => l.startsWith('parent'))).toEqual(Array.from({ length: 30 }, (_, i) => `parent${i}`));
    // They did overlap, and lost races were rebuilt rather than lost.
    expect(retried + Number(done.stdout)).toBeGreaterThan(0);
    const fsck = await runGit(['--git-dir', gitdir, 'fsck', '--strict', '--no-dangling']);
    expect(fsck.code, fsck.stderr).toBe(0);
  });

  it('a stale writer rebuilds on the new tip; after maxAttempts it gives up saying nothing was lost', async () => {
    const gitdir = join(tmp, 'stale.git');
    const a = await openStateBranch({ gitdir, branch: 'clawops/audit', author: AUTHOR, maxAttempts: 3, retryDelayMs: 1 });
    const other = await openStateBranch({ gitdir, branch: 'clawops/audit', author: AUTHOR });
    await a.update(appendLine('base'));

    const bases: Array<string | undefined> = [];
    let sneak = 1;
    const r = await a.update(async (base) => {
      bases.push(base.head);
      // Someone else writes between our read and our ref update, once.
      if (sneak-- > 0) await other.update(appendLine('other'));
      return appendLine('mine')(base);
    });
    expect(r!.attempts).toBe(2);
    expect(bases[1]).not.toBe(bases[0]);
    expect(await text(await a.at(), 'log.txt')).toBe('base\nother\nmine\n');

    const builds: string[] = [];
    const err = await a
      .update(async (base) => {
        builds.push(base.head!);
        await other.update(appendLine(`other${builds.length}`));
        return appendLine('never')(base);
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateBranchError);
    expect((err as StateBranchError).data).toEqual({ branch: 'clawops/audit', reason: 'contention' });
    expect((err as Error).message).toMatch(/kept moving: 3 attempts.*Nothing was lost/);
    expect(new Set(builds).size).toBe(3);
    expect(await text(await a.at(), 'log.txt')).toBe('base\nother\nmine\nother1\nother2\nother3\n');
  });

  it('waits for a held lock, and reports one left behind by a dead process', async () => {
    const gitdir = join(tmp, 'locked.git');
    const b = await openStateBranch({ gitdir, branch: 'clawops/audit', author: AUTHOR, staleLockMs: 5_000 });
    await b.update(appendLine('one'));
    const lock = join(gitdir, 'refs', 'heads', 'clawops', 'audit.lock');
    mkdirSync(join(gitdir, 'refs', 'heads', 'clawops'), { recursive: true });

    // Held by a live writer that finishes shortly: we wait, then go.
    writeFileSync(lock, '');
    let released = false;
    setTimeout(() => {
      rmSync(lock);
      released = true;
    }, 150);
    const r = await b.update(appendLine('two'));
    expect(released).toBe(true);
    expect(r!.attempts).toBe(1);

    // Left behind: older than the threshold.
    writeFileSync(lock, '');
    utimesSync(lock, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const err = await b.update(appendLine('three')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STATE_BRANCH', data: { reason: 'stale-lock' } });
    expect((err as Error).message).toContain(lock);
    expect((err as Error).message).toMatch(/died while holding it.*delete that file/);
    expect(await text(await b.at(), 'log.txt')).toBe('one\ntwo\n');
  });
});
