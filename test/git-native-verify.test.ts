/**
 * Native git is the judge: every commit clawops writes on a state branch (root commit, nested
 * trees, several files at once, deletions, non-ASCII names) passes `git verify-commit` with an
 * allowed-signers file, `git fsck --strict`, and `ssh-keygen -Y verify`; a commit clawops signs has
 * the very OID `git commit-tree -S` gives it; and our verifier agrees with native git on commits
 * native git signed, on tampered ones, on unknown keys and on expired keys.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStateBranch } from '../reconciler/git/object-branch.ts';
import { signerFromKeyText, type CommitSigner } from '../reconciler/git/signing-key.ts';
import { parseAllowedSigners, splitSignedCommit, verifyCommitSignature, type AllowedSigners } from '../reconciler/git/sshsig.ts';
import type { StateBranch } from '../reconciler/git/state-branch.ts';
import { run, runGit } from './helpers/git-http-server.ts';

const tmp = mkdtempSync(join(tmpdir(), 'clawops-native-verify-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const AUTHOR = { name: 'Audit Bot', email: 'audit-bot@example.com' };
const T0 = Date.parse('2026-01-01T00:00:00Z');
let keyFile: string;
let signer: CommitSigner;
let signersFile: string;
let signers: AllowedSigners;
let gitdir: string;
let branch: StateBranch;

const git = async (...args: string[]): Promise<string> => {
  const r = await runGit(['--git-dir', gitdir, ...args]);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const sshGit = (...args: string[]) => runGit(['--git-dir', gitdir, '-c', 'gpg.format=ssh', '-c', `gpg.ssh.allowedSignersFile=${signersFile}`, ...args]);
const bytes = (s: string) => Buffer.from(s, 'utf8');

beforeAll(async () => {
  keyFile = join(tmp, 'audit-key');
  expect((await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'audit', '-f', keyFile])).code).toBe(0);
  signer = signerFromKeyText(readFileSync(keyFile, 'utf8'), keyFile);
  signersFile = join(tmp, 'allowed_signers');
  writeFileSync(signersFile, `audit-bot@example.com namespaces="git" ${signer.publicKey}\n`);
  signers = parseAllowedSigners(readFileSync(signersFile, 'utf8'), signersFile);

  gitdir = join(tmp, 'state.git');
  let tick = 0;
  branch = await openStateBranch({ gitdir, branch: 'clawops/audit', signer, author: AUTHOR, now: () => new Date(T0 + 60_000 * tick++) });
  const writes: Array<[string, Array<[string, string | null]>]> = [
    ['audit: first run', [['events/2026/01/01.jsonl', '{"seq":1}\n'], ['state/last-applied/gw-a.json', '{}\n']]],
    ['audit: several files, nested', [['events/2026/01/01.jsonl', '{"seq":1}\n{"seq":2}\n'], ['state/live/gw-a.json', '{"a":1}\n'], ['state/pre-apply/gw-a/x.json', '{}\n'], ['state/leases/0.json', '{}\n']]],
    ['audit: delete a file and a whole directory', [['state/leases/0.json', null], ['state/pre-apply/gw-a/x.json', null]]],
    ['audit: ünïcödé message ✓', [['events/2026/01/02.jsonl', '{"seq":3,"who":"zoë"}\n'], ['state/live/gw-ß.json', '{}\n']]],
    ['audit: a new day\n\nwith a body\nof several lines', [['events/2026/01/03.jsonl', '{"seq":4}\n']]],
  ];
  for (const [message, files] of writes) {
    await branch.update(async () => ({ files: new Map(files.map(([p, c]) => [p, c === null ? null : bytes(c)])), message }));
  }
});

describe('a branch clawops wrote', () => {
  it('passes native git verify-commit on every commit, and fsck --strict', async () => {
    const oids = (await git('rev-list', 'clawops/audit')).trim().split('\n');
    expect(oids).toHaveLength(5);
    for (const oid of oids) {
      const r = await sshGit('verify-commit', '-v', oid);
      expect(r.code, `${oid}: ${r.stderr}`).toBe(0);
      expect(r.stderr).toContain(`Good "git" signature for audit-bot@example.com with ED25519 key ${signer.fingerprint}`);
    }
    const log = await sshGit('log', '--format=%G? %GK %GS', 'clawops/audit');
    expect(log.stdout.trim().split('\n')).toEqual(oids.map(() => `G ${signer.fingerprint} audit-bot@example.com`));
    const fsck = await runGit(['--git-dir', gitdir, 'fsck', '--strict', '--no-dangling']);
    expect(fsck.code, fsck.stderr).toBe(0);
    // The first commit has no parent: an orphan branch.
    expect((await git('rev-list', '--max-parents=0', 'clawops/audit')).trim()).toBe(oids.at(-1));
  });

  it('holds the trees native git sees', async () => {
    const files = (await git('ls-tree', '-r', '--name-only', '-z', 'clawops/audit')).split('\0').filter(Boolean);
    expect(files).toEqual([
      'events/2026/01/01.jsonl',
      'events/2026/01/02.jsonl',
      'events/2026/01/03.jsonl',
      'state/last-applied/gw-a.json',
      'state/live/gw-a.json',
      'state/live/gw-ß.json',
    ]);
    expect(await git('show', 'clawops/audit:events/2026/01/01.jsonl')).toBe('{"seq":1}\n{"seq":2}\n');
    // What changed per commit agrees with git's own diff.
    for await (const c of branch.log()) {
      const native = (await git('diff-tree', '--root', '-r', '--name-only', '--no-commit-id', '-z', c.oid)).split('\0').filter(Boolean).sort();
      expect(await branch.changedPaths(c.oid)).toEqual(native);
    }
  });

  it('is verified by our verifier, by ssh-keygen -Y verify, and a flipped byte is caught', async () => {
    for await (const c of branch.log()) {
      expect(verifyCommitSignature(c.raw, signers, new Date(c.committer.timestamp * 1000))).toEqual({ status: 'good', principal: 'audit-bot@example.com', fingerprint: signer.fingerprint });
      const { payload, signature } = splitSignedCommit(c.raw);
      writeFileSync(join(tmp, 'commit.sig'), signature!);
      const r = await run('ssh-keygen', ['-Y', 'verify', '-f', signersFile, '-I', 'audit-bot@example.com', '-n', 'git', '-s', join(tmp, 'commit.sig')], { input: payload });
      expect(r.code, r.stderr).toBe(0);
    }
    const tip = await branch.readCommit((await branch.head())!);
    const native = await runGit(['--git-dir', gitdir, 'cat-file', 'commit', tip.oid]);
    expect(Buffer.from(tip.raw).toString('utf8')).toBe(native.stdout);
    for (const at of [5, tip.raw.length - 3]) {
      const tampered = Buffer.from(tip.raw);
      tampered[at] = tampered[at]! ^ 0x01;
      expect(verifyCommitSignature(tampered, signers, new Date()).status).toBe('bad');
    }
  });

  it('gets the same OID as native git commit-tree -S for the same content', async () => {
    const tip = await branch.readCommit((await branch.head())!);
    const parent = tip.parents[0]!;
    const date = `${tip.committer.timestamp} +0000`;
    const r = await runGit(['--git-dir', gitdir, '-c', 'gpg.format=ssh', '-c', `user.signingkey=${keyFile}`, 'commit-tree', '-S', tip.tree, '-p', parent, '-F', '-'], {
      input: tip.message,
      env: { GIT_AUTHOR_NAME: AUTHOR.name, GIT_AUTHOR_EMAIL: AUTHOR.email, GIT_COMMITTER_NAME: AUTHOR.name, GIT_COMMITTER_EMAIL: AUTHOR.email, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(tip.oid);
  });

  it('native git rejects unsigned commits and keys outside the allowed signers, as we do', async () => {
    const unsigned = await openStateBranch({ gitdir, branch: 'unsigned', author: AUTHOR });
    const u = await unsigned.update(async () => ({ files: new Map([['a', bytes('a\n')]]), message: 'unsigned' }));
    expect((await sshGit('verify-commit', u!.oid)).code).not.toBe(0);
    expect(verifyCommitSignature((await unsigned.readCommit(u!.oid)).raw, signers, new Date()).status).toBe('unsigned');

    const strangerFile = join(tmp, 'stranger');
    expect((await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', strangerFile])).code).toBe(0);
    const stranger = await openStateBranch({ gitdir, branch: 'stranger', author: AUTHOR, signer: signerFromKeyText(readFileSync(strangerFile, 'utf8'), 'stranger') });
    const s = await stranger.update(async () => ({ files: new Map([['a', bytes('a\n')]]), message: 'by a stranger' }));
    const native = await sshGit('verify-commit', s!.oid);
    expect(native.code).not.toBe(0);
    expect(native.stderr).toContain('No principal matched');
    expect(verifyCommitSignature((await stranger.readCommit(s!.oid)).raw, signers, new Date()).status).toBe('unknown-key');
  });
});

describe('a commit native git signed', () => {
  it('is good for our verifier; expired or tampered, it is not, for either', async () => {
    const work = join(tmp, 'work');
    const env = { GIT_AUTHOR_NAME: AUTHOR.name, GIT_AUTHOR_EMAIL: AUTHOR.email, GIT_COMMITTER_NAME: AUTHOR.name, GIT_COMMITTER_EMAIL: AUTHOR.email };
    const w = async (...args: string[]) => {
      const r = await runGit(['-C', work, ...args], { env });
      if (r.code !== 0) throw new Error(r.stderr);
      return r.stdout;
    };
    await runGit(['init', '-q', work]);
    writeFileSync(join(work, 'f.txt'), 'hello\n');
    await w('add', 'f.txt');
    await w('-c', 'gpg.format=ssh', '-c', `user.signingkey=${keyFile}`, 'commit', '-q', '-S', '-m', 'signed by native git');
    const raw = Buffer.from(await w('cat-file', 'commit', 'HEAD'), 'utf8');
    const committed = new Date(Number(/committer .* (\d+) [+-]\d{4}\n/.exec(raw.toString())![1]) * 1000);
    expect(verifyCommitSignature(raw, signers, committed)).toEqual({ status: 'good', principal: 'audit-bot@example.com', fingerprint: signer.fingerprint });

    const expiredFile = join(tmp, 'expired_signers');
    writeFileSync(expiredFile, `audit-bot@example.com valid-before="20200101Z" ${signer.publicKey}\n`);
    const native = await runGit(['-C', work, '-c', 'gpg.format=ssh', '-c', `gpg.ssh.allowedSignersFile=${expiredFile}`, 'verify-commit', 'HEAD']);
    expect(native.code).not.toBe(0);
    expect(verifyCommitSignature(raw, parseAllowedSigners(readFileSync(expiredFile, 'utf8'), expiredFile), committed).status).toBe('key-not-valid-at-time');

    const tampered = Buffer.from(raw.toString().replace('signed by native git', 'signed by native gix'));
    expect(verifyCommitSignature(tampered, signers, committed).status).toBe('bad');
  });
});
