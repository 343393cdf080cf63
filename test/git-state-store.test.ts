/**
 * What sits on the state branch: the buffered one-commit-per-run writer, the state store
 * (last-applied, pre-apply snapshots committed before the gateway is touched, live snapshots; the
 * secret-hash key kept out of git), shard leases taken by compare-and-swap, and how the CLI opens
 * the branch of a fleet repo (local `.git` or an http(s) origin, signing key from env or secret).
 */
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferedBranch } from '../reconciler/git/buffered-branch.ts';
import { openStateBranch } from '../reconciler/git/object-branch.ts';
import { openRepoStateBranch } from '../reconciler/git/open-repo-branch.ts';
import { parseAllowedSigners, verifyCommitSignature } from '../reconciler/git/sshsig.ts';
import type { StateBranch } from '../reconciler/git/state-branch.ts';
import type { RepositoryConfig } from '../reconciler/model/repository.ts';
import { Redactor } from '../reconciler/redact/redactor.ts';
import { encryptSecret, writeSecretFiles } from '../reconciler/secrets/age-store.ts';
import { GitBranchStateStore, stableJson } from '../reconciler/state/git-branch-store.ts';
import { acquireLease, releaseLease, renewLease } from '../reconciler/state/leases.ts';
import { LocalDirStateStore } from '../reconciler/state/local-dir-store.ts';
import type { LastApplied, PreApplySnapshot } from '../reconciler/state/state-store.ts';
import { run, runGit, startGitHttpServer, type GitHttpServer } from './helpers/git-http-server.ts';

const tmp = mkdtempSync(join(tmpdir(), 'clawops-state-store-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const AUTHOR = { name: 'clawops', email: 'clawops@example.com' };
let n = 0;
const fresh = () => openStateBranch({ gitdir: join(tmp, `branch-${n++}.git`), branch: 'clawops/audit', author: AUTHOR });
/** The gitdir `fresh()` used last. */
const lastGitdir = () => join(tmp, `branch-${n - 1}.git`);
const str = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('utf8'));
const commits = async (b: StateBranch) => {
  const out = [];
  for await (const c of b.log()) out.push(c);
  return out;
};

describe('BufferedBranch', () => {
  it('stages writes, reads them first, and commits them all in one commit with the extra files', async () => {
    const branch = await fresh();
    await branch.update(async () => ({ files: new Map([['state/live/old.json', Buffer.from('old\n')], ['state/live/gone.json', Buffer.from('x\n')], ['state/pre-apply/t/1.json', Buffer.from('p\n')]]), message: 'seed' }));
    const buf = new BufferedBranch(branch);
    expect(buf.hasStaged()).toBe(false);
    buf.stage('state/live/new.json', 'new\n');
    buf.stage('state/live/gone.json', null);
    buf.stage('state/pre-apply/t/1.json', null);
    expect(buf.hasStaged()).toBe(true);
    expect(str(await buf.read('state/live/new.json'))).toBe('new\n');
    expect(await buf.read('state/live/gone.json')).toBeUndefined();
    expect(str(await buf.read('state/live/old.json'))).toBe('old\n');
    expect(await buf.list('state/live')).toEqual(['new.json', 'old.json']);
    expect(await buf.list('state')).toEqual(['live']); // pre-apply/ loses its only file
    expect(await buf.list('')).toEqual(['state']);

    const seeded = await branch.head();
    const extraBases: Array<string | undefined> = [];
    const r = await buf.commit('run 1', async (base) => {
      extraBases.push(base.head);
      return new Map([['events/2026/01/01.jsonl', Buffer.from(`${str(await base.readFile('events/2026/01/01.jsonl')) ?? ''}{"seq":1}\n`)]]);
    });
    expect(r!.attempts).toBe(1);
    expect(extraBases).toEqual([seeded]);
    expect(buf.hasStaged()).toBe(false);
    const log = await commits(branch);
    expect(log).toHaveLength(2);
    expect(await branch.changedPaths(r!.oid)).toEqual(['events/2026/01/01.jsonl', 'state/live/gone.json', 'state/live/new.json', 'state/pre-apply/t/1.json']);
    expect(await buf.commit('nothing staged')).toBeUndefined();
  });

  it('recomputes the extra files on the new tip when another writer got there first, and keeps the staged set on failure', async () => {
    const gitdir = join(tmp, 'resequence.git');
    const branch = await openStateBranch({ gitdir, branch: 'clawops/audit', author: AUTHOR, maxAttempts: 2, retryDelayMs: 1 });
    const other = await openStateBranch({ gitdir, branch: 'clawops/audit', author: AUTHOR });
    const buf = new BufferedBranch(branch);
    buf.stage('state/x.json', '{}\n');
    let sneak = 1;
    const seqs: number[] = [];
    await buf.commit('run', async (base) => {
      if (sneak-- > 0) await other.update(async () => ({ files: new Map([['events/e.jsonl', Buffer.from('1\n')]]), message: 'other run' }));
      const lines = (str(await base.readFile('events/e.jsonl')) ?? '').split('\n').filter(Boolean);
      seqs.push(lines.length + 1);
      return new Map([['events/e.jsonl', Buffer.from([...lines, String(lines.length + 1)].join('\n') + '\n')]]);
    });
    expect(seqs).toEqual([1, 2]);
    expect(str(await (await branch.at()).readFile('events/e.jsonl'))).toBe('1\n2\n');

    buf.stage('state/y.json', '{}\n');
    const err = await buf
      .commit('always beaten', async (base) => {
        await other.update(async (b) => ({ files: new Map([['events/e.jsonl', Buffer.from(`${str(await b.readFile('events/e.jsonl'))}x\n`)]]), message: 'other' }));
        return new Map([['events/mine', Buffer.from(String(base.head))]]);
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ data: { reason: 'contention' } });
    expect(buf.hasStaged()).toBe(true);
    expect(str(await buf.read('state/y.json'))).toBe('{}\n');
  });
});

const lastApplied = (target: string): LastApplied => ({
  target,
  appliedAt: '2026-01-01T00:00:00.000Z',
  agents: { support: { config: { model: 'x', tools: { b: 1, a: 2 } }, bindings: [], cron: [], files: {}, secretHashes: { 'auth.token': 'h1' }, created: true } },
});
const snapshot = (target: string): PreApplySnapshot => ({
  target,
  takenAt: '2026-01-01T00:00:00.123Z',
  config: { raw: '{"agents":{}}', hash: 'abc', agentIds: ['support'] },
  execApprovals: { file: {}, hash: 'def' },
  cron: [],
  files: { 'support/SOUL.md': 'be kind', 'support/NEW.md': null },
});

describe('GitBranchStateStore', () => {
  it('round-trips last-applied and live snapshots: staged until the run commits, then on the branch', async () => {
    const branch = await fresh();
    const gitdir = lastGitdir();
    const store = new GitBranchStateStore({ branch: new BufferedBranch(branch), keyDir: join(tmp, 'keys-1') });
    expect(await store.lastApplied('gw/a')).toBeUndefined();
    await store.saveLastApplied(lastApplied('gw/a'));
    await store.saveLiveSnapshot('gw/a', { z: 1, a: { y: 2, b: [3, { d: 1, c: 2 }] } });
    expect(await store.lastApplied('gw/a')).toEqual(lastApplied('gw/a'));
    expect(await branch.head()).toBeUndefined(); // nothing written yet

    await store.branch.commit('run');
    const again = new GitBranchStateStore({ branch: new BufferedBranch(await openStateBranch({ gitdir, branch: 'clawops/audit', author: AUTHOR })), keyDir: join(tmp, 'keys-1') });
    expect(await again.lastApplied('gw/a')).toEqual(lastApplied('gw/a'));
    const view = await branch.at();
    expect(await view.list('state')).toEqual(['last-applied', 'live']);
    expect(await view.list('state/last-applied')).toEqual(['gw_a.json']);
    // Stable, pretty JSON: sorted keys, two-space indent, newline at the end.
    expect(str(await view.readFile('state/live/gw_a.json'))).toBe('{\n  "a": {\n    "b": [\n      3,\n      {\n        "c": 2,\n        "d": 1\n      }\n    ],\n    "y": 2\n  },\n  "z": 1\n}\n');
    expect(stableJson({ b: 1, a: 1 })).toBe(stableJson({ a: 1, b: 1 }));
  });

  it('commits a pre-apply snapshot at once, in its own commit, before anything else staged', async () => {
    const branch = await fresh();
    const gitdir = lastGitdir();
    const store = new GitBranchStateStore({ branch: new BufferedBranch(branch), keyDir: join(tmp, 'keys-2') });
    await store.saveLastApplied(lastApplied('gw-a'));
    const id = await store.savePreApply(snapshot('gw-a'));
    expect(id).toMatch(/^2026-01-01T00-00-00-123Z-[0-9a-f]{6}$/);

    const [c] = await commits(branch);
    expect(await branch.changedPaths(c!.oid)).toEqual([`state/pre-apply/gw-a/${id}.json`]);
    expect(c!.message).toMatch(/^state: pre-apply snapshot of gw-a/);
    // Another process sees it already: durable before the gateway is written.
    const other = await openStateBranch({ gitdir, branch: 'clawops/audit', author: AUTHOR });
    expect(JSON.parse(str(await (await other.at()).readFile(`state/pre-apply/gw-a/${id}.json`))!)).toEqual(snapshot('gw-a'));
    expect(await store.preApply('gw-a', id)).toEqual(snapshot('gw-a'));
    expect(await store.preApply('gw-a', 'nope')).toBeUndefined();
    // The staged last-applied was not swept into it.
    expect(await (await branch.at()).list('state')).toEqual(['pre-apply']);
    expect(store.branch.hasStaged()).toBe(true);
  });

  it('keeps the secret-hash key in a local file, never in git, shared with the local-directory store', async () => {
    const branch = await fresh();
    const gitdir = lastGitdir();
    const keyDir = join(tmp, 'keys-3');
    const store = new GitBranchStateStore({ branch: new BufferedBranch(branch), keyDir });
    const key = await store.secretHashKey();
    expect(key).toHaveLength(32);
    expect(await store.secretHashKey()).toEqual(key);
    expect(readFileSync(join(keyDir, 'secret-hash.key'))).toEqual(key);
    expect(statSync(join(keyDir, 'secret-hash.key')).mode & 0o777).toBe(0o600);
    expect(await new LocalDirStateStore(keyDir).secretHashKey()).toEqual(key);

    await store.saveLastApplied(lastApplied('gw-a'));
    await store.savePreApply(snapshot('gw-a'));
    await store.branch.commit('run');
    // No object on the branch holds the key, raw or hex or base64.
    const objects = (await runGit(['--git-dir', gitdir, 'rev-list', '--objects', '--all'])).stdout.trim().split('\n').map((l) => l.split(' ')[0]!);
    expect(objects.length).toBeGreaterThan(5);
    for (const oid of objects) {
      const content = Buffer.from((await run('git', ['--git-dir', gitdir, 'cat-file', '-p', oid])).stdout, 'latin1');
      for (const form of [key, Buffer.from(key.toString('hex')), Buffer.from(key.toString('base64'))]) expect(content.includes(form)).toBe(false);
    }
  });
});

describe('leases', () => {
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const now = () => new Date(clock);

  it('acquire, contend, expire, renew, release', async () => {
    const branch = await fresh();
    const a1 = await acquireLease(branch, '0-of-2', 'runner-a', 60_000, now);
    expect(a1).toEqual({ status: 'acquired', lease: { holder: 'runner-a', acquiredAt: '2026-01-01T00:00:00.000Z', expiresAt: '2026-01-01T00:01:00.000Z' } });
    expect(JSON.parse(str(await (await branch.at()).readFile('state/leases/0-of-2.json'))!)).toEqual(a1.status === 'acquired' && a1.lease);

    const head = await branch.head();
    clock += 30_000;
    expect(await acquireLease(branch, '0-of-2', 'runner-b', 60_000, now)).toEqual({ status: 'held', holder: 'runner-a', expiresAt: '2026-01-01T00:01:00.000Z' });
    expect(await branch.head()).toBe(head); // no write
    expect(await acquireLease(branch, '1-of-2', 'runner-b', 60_000, now)).toMatchObject({ status: 'acquired' }); // another shard is free

    expect(await renewLease(branch, '0-of-2', 'runner-a', 60_000, now)).toEqual({ status: 'acquired', lease: { holder: 'runner-a', acquiredAt: '2026-01-01T00:00:00.000Z', expiresAt: '2026-01-01T00:01:30.000Z' } });
    clock += 90_000; // a's lease has expired
    expect(await acquireLease(branch, '0-of-2', 'runner-b', 60_000, now)).toMatchObject({ status: 'acquired', lease: { holder: 'runner-b', acquiredAt: '2026-01-01T00:02:00.000Z' } });
    expect(await renewLease(branch, '0-of-2', 'runner-a', 60_000, now)).toEqual({ status: 'lost', holder: 'runner-b', expiresAt: '2026-01-01T00:03:00.000Z' });

    const before = await branch.head();
    expect(await releaseLease(branch, '0-of-2', 'runner-a')).toBe(false);
    expect(await branch.head()).toBe(before);
    expect(await releaseLease(branch, '0-of-2', 'runner-b')).toBe(true);
    expect(await (await branch.at()).readFile('state/leases/0-of-2.json')).toBeUndefined();
    expect(await renewLease(branch, '0-of-2', 'runner-b', 60_000, now)).toEqual({ status: 'lost' });
    expect(await acquireLease(branch, '0-of-2', 'runner-a', 60_000, now)).toMatchObject({ status: 'acquired' });
  });

  it('of two runners racing for one shard, exactly one gets it', async () => {
    const gitdir = join(tmp, 'lease-race.git');
    for (let round = 0; round < 10; round++) {
      const [a, b] = await Promise.all([0, 1].map(() => openStateBranch({ gitdir, branch: `leases-${round}`, author: AUTHOR })));
      const results = await Promise.all([acquireLease(a!, 'shard', 'a', 60_000, now), acquireLease(b!, 'shard', 'b', 60_000, now)]);
      expect(results.map((r) => r.status).sort()).toEqual(['acquired', 'held']);
      const winner = results.find((r) => r.status === 'acquired');
      const loser = results.find((r) => r.status === 'held');
      expect(winner!.status === 'acquired' && loser!.status === 'held' && winner!.lease.holder === loser!.holder).toBe(true);
    }
  });
});

describe('openRepoStateBranch', () => {
  let server: GitHttpServer;
  let keyText: string;
  let publicKey: string;
  beforeAll(async () => {
    server = await startGitHttpServer({ token: 'repo-token-123' });
    const keyFile = join(tmp, 'sign-key');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
    keyText = readFileSync(keyFile, 'utf8');
    publicKey = readFileSync(`${keyFile}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
  });
  afterAll(() => server?.close());

  const config = (audit?: RepositoryConfig['spec']['audit']): RepositoryConfig => ({
    apiVersion: 'clawops.dev/v1',
    kind: 'Repository',
    spec: { secrets: { recipients: ['age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq'] }, ...(audit ? { audit } : {}) },
  });
  const fleetRepo = async (origin?: string) => {
    const root = join(tmp, `fleet-${n++}`);
    await runGit(['init', '-q', '-b', 'main', root]);
    if (origin) await runGit(['-C', root, 'remote', 'add', 'origin', origin]);
    return root;
  };
  const noIdentities = async (): Promise<string[]> => {
    throw new Error('identities must not be asked for');
  };

  it('without an http(s) origin: the repo’s own .git, the configured branch, signed from the environment', async () => {
    const root = await fleetRepo('git@github.com:acme/fleet.git');
    const redactor = new Redactor();
    const opened = await openRepoStateBranch(root, config({ branch: 'ops/audit' }), { CLAWOPS_SIGNING_KEY: keyText }, { redactor, identities: noIdentities });
    expect(opened.remote).toBeUndefined();
    expect(opened.branch.name).toBe('ops/audit');
    expect(opened.signer?.publicKey).toBe(publicKey);
    const r = await opened.branch.update(async () => ({ files: new Map([['state/x.json', Buffer.from('{}\n')]]), message: 'run' }));
    expect((await runGit(['-C', root, 'rev-parse', 'ops/audit'])).stdout.trim()).toBe(r!.oid);
    const raw = (await opened.branch.readCommit(r!.oid)).raw;
    expect(verifyCommitSignature(raw, parseAllowedSigners(`c@example.com ${publicKey}\n`, 'x'), new Date()).status).toBe('good');
  });

  it('with an http(s) origin: a private cache under .clawops/, the token from the environment, the key from its age secret', async () => {
    const url = await server.createRepo('fleet');
    const root = await fleetRepo(url);
    const identity = await generateX25519Identity();
    await writeSecretFiles(root, [{ name: 'audit-key', armored: await encryptSecret(keyText, [await identityToRecipient(identity)]) }]);
    const redactor = new Redactor();
    const opened = await openRepoStateBranch(root, config({ signingKey: { secretRef: 'audit-key' } }), { CLAWOPS_GIT_TOKEN: 'repo-token-123' }, { redactor, identities: async () => [identity] });
    expect(opened.remote).toBe(url);
    expect(opened.branch.name).toBe('clawops/audit');
    expect(opened.signer?.publicKey).toBe(publicKey);
    const r = await opened.branch.update(async () => ({ files: new Map([['state/x.json', Buffer.from('{}\n')]]), message: 'run' }));
    expect((await runGit(['--git-dir', join(server.root, 'fleet.git'), 'rev-parse', 'clawops/audit'])).stdout.trim()).toBe(r!.oid);
    expect(existsSync(join(root, '.clawops', 'cache', 'audit.git', 'objects'))).toBe(true);
    expect((await runGit(['-C', root, 'status', '--porcelain', '--untracked-files=all'])).stdout).not.toContain('.clawops');
    // The fleet checkout itself has no such branch: only the private cache and the remote do.
    expect((await runGit(['-C', root, 'rev-parse', '--verify', '-q', 'clawops/audit'])).code).not.toBe(0);
    expect(redactor.redact('token repo-token-123')).not.toContain('repo-token-123');

    // GITHUB_TOKEN works too; without any, the push is refused with what to set.
    const viaGithub = await openRepoStateBranch(root, config(), { GITHUB_TOKEN: 'repo-token-123' }, { redactor, identities: noIdentities });
    await viaGithub.branch.fetch();
    expect(await viaGithub.branch.head()).toBe(r!.oid);
    expect(viaGithub.signer).toBeUndefined();
    const anonymous = await openRepoStateBranch(root, config(), {}, { redactor, identities: noIdentities });
    await expect(anonymous.branch.fetch()).rejects.toThrow(/CLAWOPS_GIT_TOKEN/);
  });

  it('a fleet repo in a folder of the work tree uses the work tree’s git; the committer is configurable (for GitHub’s Verified badge)', async () => {
    const root = await fleetRepo();
    const fleet = join(root, 'ops', 'fleet');
    mkdirSync(fleet, { recursive: true });
    const committer = { name: 'Acme clawops', email: 'clawops-bot@acme.example' };
    const opened = await openRepoStateBranch(fleet, config({ committer }), { CLAWOPS_SIGNING_KEY: keyText }, { redactor: new Redactor(), identities: noIdentities });
    const r = await opened.branch.update(async () => ({ files: new Map([['state/x.json', Buffer.from('{}\n')]]), message: 'run' }));
    expect((await runGit(['-C', root, 'log', '-1', '--format=%an <%ae>|%cn <%ce>', 'clawops/audit'])).stdout.trim()).toBe('Acme clawops <clawops-bot@acme.example>|Acme clawops <clawops-bot@acme.example>');
    expect((await runGit(['-C', root, 'rev-parse', 'clawops/audit'])).stdout.trim()).toBe(r!.oid);
  });

  it('fails clearly outside a git repository', async () => {
    const root = join(tmp, 'not-a-repo');
    mkdirSync(root);
    writeFileSync(join(root, 'clawops.yaml'), '');
    await expect(openRepoStateBranch(root, config(), {}, { redactor: new Redactor(), identities: noIdentities })).rejects.toMatchObject({ code: 'NOT_A_GIT_REPO', message: expect.stringMatching(/is not a git repository: run `git init`/) });
  });
});
