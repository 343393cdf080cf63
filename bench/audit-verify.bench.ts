/**
 * How long `clawops audit verify --full` takes on a long audit trail: 10,000 events written by
 * AuditLog in 500 signed commits of 20 (one reconcile run every 30 minutes, so about ten days of
 * day files). Each measured run opens the branch afresh (cold caches, like a new process) and
 * checks everything: every signature, every appended line, seq, the chain. Median of five after
 * one warm-up. Target: ≤ 2 s.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AuditLog } from '../reconciler/audit/audit-log.ts';
import { verifyAuditBranch, formatProblem } from '../reconciler/audit/verify.ts';
import { BufferedBranch } from '../reconciler/git/buffered-branch.ts';
import { openStateBranch } from '../reconciler/git/object-branch.ts';
import { signerFromKeyText } from '../reconciler/git/signing-key.ts';
import { parseAllowedSigners } from '../reconciler/git/sshsig.ts';
import { formatTable, type BenchResult } from './report.ts';
import { median } from './stats.ts';

export const EVENTS = 10_000;
export const PER_COMMIT = 20;
export const RUNS = 5;
export const TARGET_MS = 2_000;
const RUN_EVERY_MS = 30 * 60_000;
const BRANCH = 'clawops/audit';

export async function run(): Promise<BenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'clawops-bench-audit-'));
  try {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const signer = signerFromKeyText(pem, 'bench key');
    const signers = parseAllowedSigners(`bench@example.com namespaces="git" ${signer.publicKey}\n`, 'allowed_signers');
    const gitdir = join(dir, 'audit.git');
    let clock = Date.parse('2026-11-01T00:00:00Z');
    const now = () => new Date(clock);
    const open = () => openStateBranch({ gitdir, branch: BRANCH, signer, author: { name: 'clawops', email: 'bench@example.com' }, now });

    const buildStart = performance.now();
    const log = await AuditLog.open(new BufferedBranch(await open()), { now });
    for (let c = 0; c < EVENTS / PER_COMMIT; c++) {
      clock += RUN_EVERY_MS;
      for (let i = 0; i < PER_COMMIT; i++) {
        const n = c * PER_COMMIT + i;
        log.record({
          type: i === 0 ? 'apply.started' : 'change.applied',
          actor: 'ci:github-actions',
          traceId: `run-${c}`,
          target: `gw-${n % 50}`,
          resource: `Agent/agent-${n % 200}`,
          agentId: `agent-${n % 200}`,
          risk: 'medium',
          summary: { path: 'spec.config.model.primary', action: 'update', category: 'model', before: `anthropic/claude-${n}`, after: `anthropic/claude-${n + 1}` },
          beforeHash: `sha256:${n.toString(16).padStart(64, '0')}`,
          afterHash: `sha256:${(n + 1).toString(16).padStart(64, '0')}`,
          desiredCommit: (c + 1).toString(16).padStart(40, 'a'),
        });
      }
      await log.commit(`audit: run ${c + 1}`);
    }
    const buildMs = performance.now() - buildStart;

    const timed = async (): Promise<number> => {
      const branch = await open();
      const start = performance.now();
      const r = await verifyAuditBranch(branch, { signers, full: true });
      const ms = performance.now() - start;
      if (!r.ok) throw new Error(`the generated branch does not verify: ${r.problems.slice(0, 3).map(formatProblem).join('; ')}`);
      if (r.eventsChecked !== EVENTS || r.commitsChecked !== EVENTS / PER_COMMIT) throw new Error(`verify checked ${r.eventsChecked} events in ${r.commitsChecked} commits`);
      return ms;
    };
    const coldMs = await timed();
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) times.push(await timed());
    const ms = median(times);
    const result: BenchResult = {
      name: `audit verify --full: ${EVENTS.toLocaleString('en-US')} events in ${EVENTS / PER_COMMIT} signed commits (${PER_COMMIT} per commit), median of ${RUNS} after 1 warm-up`,
      metrics: [
        { label: 'median wall time', value: Math.round(ms), unit: 'ms', max: TARGET_MS },
        { label: 'fastest run', value: Math.round(Math.min(...times)), unit: 'ms' },
        { label: 'slowest run', value: Math.round(Math.max(...times)), unit: 'ms' },
        { label: 'first (cold) run', value: Math.round(coldMs), unit: 'ms' },
        { label: 'events per second', value: Math.round(EVENTS / (ms / 1000)), unit: 'events/s' },
        { label: 'building the branch (AuditLog, signed)', value: Math.round(buildMs), unit: 'ms' },
        { label: 'peak RSS', value: Math.round(process.resourceUsage().maxRSS / 1024), unit: 'MiB' },
      ],
    };
    console.log(formatTable(result));
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
