/**
 * One reconcile run over a shard (DESIGN §1 entry 3, §3): pull the fleet repo, load and validate
 * it, take the shard's lease, then per gateway (bounded in parallel) plan, gate, apply, verify,
 * handle drift and record; open or update approval PRs; one signed commit; give the lease back.
 *
 * The lease is what keeps two runs (an overrunning cron job and the next one, two CI jobs) from
 * both applying: exactly one wins the compare-and-swap on the state branch, the other reports who
 * holds the shard and does nothing. A run renews its lease while it works; a crashed run's lease
 * simply expires.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { AuditLog, auditSpillFile } from '../audit/audit-log.ts';
import { Masker } from '../audit/masker.ts';
import { recordApprovalRequests } from '../audit/record-apply.ts';
import type { FleetApplyResult } from '../apply/apply-fleet.ts';
import { actorOf, traceIdOf } from '../cli/commands/apply.ts';
import { planContext, type LiveCommandOptions } from '../cli/commands/plan-context.ts';
import { syncCheckout, type SyncResult } from '../git/sync-checkout.ts';
import { approvalFlow } from '../github/approval-flow.ts';
import type { ApprovalPrOutcome } from '../github/approval-prs.ts';
import { DEFAULT_PR_LIMITS } from '../github/bot-pr.ts';
import { openGitHubSession } from '../github/session.ts';
import { mapLimited } from '../live/parallel.ts';
import type { Ports } from '../ports.ts';
import { acquireLease, releaseLease, renewLease } from '../state/leases.ts';
import { reconcileGateway, type GatewayOutcome } from './reconcile-gateway.ts';
import { exitCodeOf, shardName, totals, type RunReport } from './summary.ts';

export interface ReconcileOptions extends LiveCommandOptions {
  /** Gateways worked on at once (default: clawops.yaml defaults.parallelism). */
  readonly parallel?: number | undefined;
  /** Fetch and fast-forward the fleet checkout first (`--no-pull` turns it off). */
  readonly pull: boolean;
  readonly leaseTtlMs: number;
}

export const DEFAULT_LEASE_TTL_MS = 15 * 60_000;

/** `host:pid:random`: unique per run, and says where a held lease's run lives. */
export const runHolder = (): string => `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;

export async function reconcileOnce(opts: ReconcileOptions, ports: Ports, holder = runHolder()): Promise<RunReport> {
  const started = ports.now();
  const t0 = performance.now();
  const traceId = traceIdOf(ports.env);
  const sync: SyncResult | undefined = opts.pull ? await syncCheckout(opts.repo, { env: ports.env, redactor: ports.redactor }) : undefined;
  const { repo, gateways, ctx: base, state } = await planContext(opts, ports, 'reconcile');
  const ctx = opts.parallel ? { ...base, parallelism: opts.parallel } : base;
  const shard = shardName(opts.shard);
  const head = {
    formatVersion: 1 as const,
    traceId,
    startedAt: started.toISOString(),
    ...(opts.shard ? { shard: `${opts.shard.index}/${opts.shard.count}` } : {}),
    ...(state.desiredCommit ? { commit: state.desiredCommit } : {}),
    ...(sync ? { sync } : {}),
  };

  const lease = await acquireLease(state.branch.branch, shard, holder, opts.leaseTtlMs, ports.now);
  if (lease.status !== 'acquired') {
    return { ...head, durationMs: performance.now() - t0, lease: { status: 'held', ...('holder' in lease ? { holder: lease.holder, expiresAt: lease.expiresAt } : {}) }, gateways: [], totals: totals([]), exitCode: 0 };
  }
  let lost = false;
  // Renewed at a third of its life, so one slow renewal never lets it lapse.
  const renew = setInterval(() => {
    renewLease(state.branch.branch, shard, holder, opts.leaseTtlMs, ports.now).then(
      (r) => void (r.status === 'lost' && (lost = true)),
      () => {}, // a failed renewal is retried at the next tick; expiry is the backstop
    );
  }, Math.max(1000, opts.leaseTtlMs / 3));
  renew.unref();

  const errors: string[] = [];
  let outcomes: GatewayOutcome[] = [];
  let approvalRequests: ApprovalPrOutcome[] = [];
  try {
    const warn = (m: string) => ports.err.write(`github: ${m}\n`);
    const github = await openGitHubSession(repo, { env: ports.env, redactor: ports.redactor, warn });
    const approvals = github && state.desiredCommit ? approvalFlow(repo, github, state.desiredCommit) : undefined;
    const audit = await AuditLog.open(state.branch, { masker: new Masker({ redactor: ports.redactor }), now: ports.now, spillFile: auditSpillFile(repo.root) });
    const record = { actor: actorOf(ports.env), traceId, ...(state.desiredCommit ? { desiredCommit: state.desiredCommit } : {}) };
    const limits = repo.config.spec.github?.driftPullRequests;
    // Only what approval PRs need is kept of each apply: the held change sets.
    const landed: FleetApplyResult[] = [];
    outcomes = await mapLimited(
      gateways,
      ctx.parallelism,
      (gw) =>
        reconcileGateway(gw, {
          ctx,
          audit,
          record,
          apply: { ...(approvals ? { approvals: approvals.source } : {}), ...(state.desiredCommit ? { desiredCommit: state.desiredCommit } : {}) },
          ...(github && state.desiredCommit
            ? { github: { session: github, head: state.desiredCommit, prefix: github.prefix, limits: { concurrent: limits?.concurrent ?? DEFAULT_PR_LIMITS.concurrent, hourly: limits?.hourly ?? DEFAULT_PR_LIMITS.hourly } } }
            : {}),
          mayWrite: () => !lost,
          onApplied: (r) => void landed.push({ ...r, attempted: [], gated: [] }),
        }),
      ctx.onProgress,
    );
    if (approvals && !lost) {
      try {
        approvalRequests = await approvals.afterApply(landed, ports.now());
      } catch (e) {
        errors.push(`could not open approval pull requests: ${(e as Error).message}`);
      }
      recordApprovalRequests(audit, approvalRequests, record);
    }
    const t = totals(outcomes);
    await audit.commit(`clawops reconcile${opts.shard ? ` shard ${opts.shard.index}/${opts.shard.count}` : ''}: ${t.converged} converged, ${t.applied} applied, ${t.pending} pending, ${t.error} failed\n\ntrace ${traceId}`);
  } finally {
    clearInterval(renew);
    await releaseLease(state.branch.branch, shard, holder).catch(() => false);
  }
  const report: RunReport = {
    ...head,
    durationMs: performance.now() - t0,
    lease: lost ? { status: 'lost' } : { status: 'acquired', holder, expiresAt: lease.lease.expiresAt },
    gateways: outcomes,
    ...(approvalRequests.length ? { approvalRequests } : {}),
    ...(errors.length ? { errors } : {}),
    totals: totals(outcomes),
    exitCode: exitCodeOf(outcomes, lost ? [...errors, 'lease lost'] : errors),
  };
  return report;
}
