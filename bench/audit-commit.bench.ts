/**
 * What one signed audit commit costs: 1,000 events in 1,000 SSH-signed commits, each appending one
 * event line to the day file, written by clawops (objects only: blobs, trees, a signed commit and a
 * compare-and-swap ref update; no work tree, no index) and by native `git commit -S -a` with
 * `gpg.format=ssh` (the way a shell script would do it), same key, same content, same run.
 * Reports the median (and p95) ms per commit of each and their ratio; both branches are then
 * checked by native `git verify-commit`, so the figures are for commits git accepts.
 * Target: clawops no slower per commit than native git.
 */
import { execFile } from 'node:child_process';
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { openStateBranch } from '../reconciler/git/object-branch.ts';
import { signerFromKeyText } from '../reconciler/git/signing-key.ts';
import { formatTable, type BenchResult } from './report.ts';
import { median, percentile } from './stats.ts';

export const COMMITS = 1_000;
const BRANCH = 'clawops/audit';
const DAY_FILE = 'events/2026/11/21.jsonl';
const AUTHOR = { name: 'clawops', email: 'bench@example.com' };

const exec = promisify(execFile);
const gitEnv = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: AUTHOR.name,
  GIT_AUTHOR_EMAIL: AUTHOR.email,
  GIT_COMMITTER_NAME: AUTHOR.name,
  GIT_COMMITTER_EMAIL: AUTHOR.email,
};
const git = async (args: string[], cwd?: string) => (await exec('git', args, { cwd, env: gitEnv, maxBuffer: 64 << 20 })).stdout;

/** One audit event line, as the audit log writes them (masked summary, hashes, the chain). */
const event = (seq: number): string =>
  `${JSON.stringify({
    seq,
    time: new Date(Date.UTC(2026, 10, 21, 0, 0, seq)).toISOString(),
    type: 'change.applied',
    actor: 'ci:github-actions',
    traceId: `run-${seq}`,
    target: `gw-${seq % 50}`,
    resource: `Agent/agent-${seq % 200}`,
    risk: 'medium',
    summary: { path: 'spec.config.model.primary', action: 'update', before: `anthropic/claude-${seq}`, after: `anthropic/claude-${seq + 1}` },
    beforeHash: `sha256:${seq.toString(16).padStart(64, '0')}`,
    afterHash: `sha256:${(seq + 1).toString(16).padStart(64, '0')}`,
    prev: `sha256:${(seq * 7).toString(16).padStart(64, '0')}`,
  })}\n`;

async function clawopsCommits(gitdir: string, keyFile: string): Promise<number[]> {
  const signer = signerFromKeyText(await readFile(keyFile, 'utf8'), keyFile);
  const branch = await openStateBranch({ gitdir, branch: BRANCH, signer, author: AUTHOR });
  const times: number[] = [];
  for (let seq = 1; seq <= COMMITS; seq++) {
    const start = performance.now();
    await branch.update(async (base) => {
      const day = (await base.readFile(DAY_FILE)) ?? new Uint8Array();
      return { files: new Map([[DAY_FILE, Buffer.concat([day, Buffer.from(event(seq))])]]), message: `audit: run ${seq}` };
    });
    times.push(performance.now() - start);
  }
  return times;
}

async function nativeCommits(work: string, keyFile: string): Promise<number[]> {
  await git(['init', '-q', '-b', BRANCH, work]);
  for (const [k, v] of [['gpg.format', 'ssh'], ['user.signingkey', keyFile], ['commit.gpgsign', 'true']]) await git(['config', k!, v!], work);
  const file = join(work, DAY_FILE);
  await mkdir(join(work, 'events/2026/11'), { recursive: true });
  await writeFile(file, '');
  await git(['add', DAY_FILE], work);
  const times: number[] = [];
  for (let seq = 1; seq <= COMMITS; seq++) {
    const start = performance.now();
    await appendFile(file, event(seq));
    await git(['commit', '-q', '-S', '-a', '-m', `audit: run ${seq}`], work);
    times.push(performance.now() - start);
  }
  return times;
}

/** Native git must accept every commit measured, or the comparison means nothing. */
async function checkSigned(gitdir: string, signers: string, expected: number): Promise<void> {
  const out = await git(['--git-dir', gitdir, '-c', 'gpg.format=ssh', '-c', `gpg.ssh.allowedSignersFile=${signers}`, 'log', '--format=%G?', BRANCH]);
  const marks = out.trim().split('\n');
  const good = marks.filter((m) => m === 'G').length;
  if (good < expected) throw new Error(`${gitdir}: only ${good} of ${marks.length} commits carry a good signature (expected at least ${expected})`);
}

export async function run(): Promise<BenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'clawops-bench-commit-'));
  try {
    const keyFile = join(dir, 'audit-key');
    await exec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench', '-f', keyFile]);
    const signers = join(dir, 'allowed_signers');
    const pub = (await readFile(`${keyFile}.pub`, 'utf8')).split(' ').slice(0, 2).join(' ');
    await writeFile(signers, `${AUTHOR.email} namespaces="git" ${pub}\n`);

    const ours = await clawopsCommits(join(dir, 'clawops.git'), keyFile);
    const native = await nativeCommits(join(dir, 'native'), keyFile);
    await checkSigned(join(dir, 'clawops.git'), signers, COMMITS);
    await checkSigned(join(dir, 'native', '.git'), signers, COMMITS);
    const same = await git(['--git-dir', join(dir, 'clawops.git'), 'show', `${BRANCH}:${DAY_FILE}`]);
    if (same !== (await readFile(join(dir, 'native', DAY_FILE), 'utf8'))) throw new Error('clawops and native git wrote different day files');

    const oursMs = median(ours);
    const nativeMs = median(native);
    const result: BenchResult = {
      name: `audit commits: ${COMMITS.toLocaleString('en-US')} events in ${COMMITS.toLocaleString('en-US')} SSH-signed commits, clawops (objects only) vs native git commit -S -a (gpg.format=ssh)`,
      metrics: [
        { label: 'clawops median per commit', value: Number(oursMs.toFixed(2)), unit: 'ms', max: Number(nativeMs.toFixed(2)) },
        { label: 'native git median per commit', value: Number(nativeMs.toFixed(2)), unit: 'ms' },
        { label: 'native ÷ clawops (median)', value: Number((nativeMs / oursMs).toFixed(2)), unit: '×' },
        { label: 'clawops p95 per commit', value: Number(percentile(ours, 95).toFixed(2)), unit: 'ms' },
        { label: 'native git p95 per commit', value: Number(percentile(native, 95).toFixed(2)), unit: 'ms' },
        { label: 'clawops total', value: Math.round(ours.reduce((a, b) => a + b, 0)), unit: 'ms' },
        { label: 'native git total', value: Math.round(native.reduce((a, b) => a + b, 0)), unit: 'ms' },
      ],
    };
    console.log(formatTable(result));
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
