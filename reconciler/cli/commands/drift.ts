/**
 * `clawops drift`: which fields of the fleet someone changed outside git, who (the gateway's config
 * journal) and since when; with `--propose`, one drift pull request per drifted gateway that makes
 * the YAML match live, updated in place, closed when the drift is gone. Every newly seen drifted
 * field is an audit event. Exit 0 no drift, 2 drift, 1 errors.
 */
import type { Command, Option } from 'commander';
import { AuditLog, auditSpillFile } from '../../audit/audit-log.ts';
import { Masker } from '../../audit/masker.ts';
import { recordDriftDetected } from '../../audit/record-drift.ts';
import { readDrift, type GatewayDrift } from '../../drift/read-drift.ts';
import { renderDriftSummary } from '../../drift/render.ts';
import { DEFAULT_PR_LIMITS } from '../../github/bot-pr.ts';
import { syncDriftPr, type DriftPrOutcome } from '../../github/drift-prs.ts';
import { openGitHubSession } from '../../github/session.ts';
import { UsageError } from '../../errors.ts';
import { mapLimited } from '../../live/parallel.ts';
import type { ExitCode, Ports } from '../../ports.ts';
import type { CommandContext } from '../program.ts';
import { actorOf, traceIdOf } from './apply.ts';
import { addLiveOptions, planContext, type LiveCommandOptions } from './plan-context.ts';

export interface DriftOptions extends LiveCommandOptions {
  readonly json: boolean;
  readonly propose: boolean;
}

export async function runDrift(opts: DriftOptions, ports: Ports): Promise<ExitCode> {
  const { repo, gateways, ctx, state } = await planContext(opts, ports, 'drift');
  const github = opts.propose ? await openGitHubSession(repo, { env: ports.env, redactor: ports.redactor, warn: (m) => ports.err.write(`github: ${m}\n`) }) : undefined;
  if (opts.propose && !github) throw new UsageError('--propose opens pull requests: set clawops.yaml spec.github.repository (or GITHUB_REPOSITORY) and GITHUB_TOKEN or a GitHub App (CLAWOPS_GITHUB_APP_*)', {});
  if (github && !state.desiredCommit) throw new UsageError('--propose needs the fleet repo to be a git checkout with a commit (the drift PR is made on it)', {});
  const audit = await AuditLog.open(state.branch, { masker: new Masker({ redactor: ports.redactor }), now: ports.now, spillFile: auditSpillFile(ctx.repo.root) });

  const drifts = await mapLimited(gateways, ctx.parallelism, (gw) => readDrift(gw, ctx));
  const base = { actor: actorOf(ports.env), traceId: traceIdOf(ports.env), ...(state.desiredCommit ? { desiredCommit: state.desiredCommit } : {}) };
  for (const d of drifts) if (!('error' in d)) recordDriftDetected(audit, d.target, d.newItems, d.view.who?.byItem, base);

  const prs: DriftPrOutcome[] = [];
  const prErrors: string[] = [];
  if (github && state.desiredCommit) {
    for (const d of drifts) {
      if ('error' in d) continue;
      try {
        const limits = repo.config.spec.github?.driftPullRequests;
        const outcome = await syncDriftPr(d.view, {
          gh: github.gh,
          repo,
          branch: github.branch,
          head: state.desiredCommit,
          prefix: github.prefix,
          now: ports.now(),
          limits: { concurrent: limits?.concurrent ?? DEFAULT_PR_LIMITS.concurrent, hourly: limits?.hourly ?? DEFAULT_PR_LIMITS.hourly },
        });
        if (outcome) prs.push(outcome);
      } catch (e) {
        prErrors.push(`${d.target}: ${(e as Error).message}`);
      }
    }
  }
  const drifted = drifts.filter((d): d is Extract<GatewayDrift, { view: unknown }> => 'view' in d);
  await audit.commit(`clawops drift: ${drifted.reduce((n, d) => n + d.view.report.items.length, 0)} drifted field(s) on ${drifted.filter((d) => d.view.report.items.length).length} gateway(s)\n\ntrace ${base.traceId}`);

  const errors = drifts.filter((d): d is Extract<GatewayDrift, { error: string }> => 'error' in d);
  if (opts.json) {
    ports.out.write(
      JSON.stringify(
        {
          formatVersion: 1,
          gateways: drifts.map((d) => ('error' in d ? { gateway: d.target, error: d.error } : { gateway: d.target, items: d.view.report.items, firstSeen: d.view.firstSeen })),
          pullRequests: prs,
          ...(prErrors.length ? { pullRequestErrors: prErrors } : {}),
        },
        null,
        2,
      ) + '\n',
    );
  } else {
    ports.out.write(renderDriftSummary(drifted.map((d) => d.view)));
    for (const e of errors) ports.out.write(`✗ ${e.target}: ${e.error}\n`);
    for (const p of prs) ports.out.write(`  → ${p.target}: ${describeOutcome(p)}\n`);
  }
  for (const e of prErrors) ports.err.write(`error: drift pull request for ${e}\n`);
  if (errors.length || prErrors.length) return 1;
  return drifted.some((d) => d.view.report.items.length > 0) ? 2 : 0;
}

function describeOutcome(p: DriftPrOutcome): string {
  if (p.action === 'closed') return `drift gone; closed drift PR #${p.number}`;
  if (p.action === 'nothing-to-adopt') return `no drift PR: ${p.why}`;
  const pr = p.number ? `#${p.number} ${p.url ?? ''}`.trim() : '';
  if (p.action === 'rate-limited') return `no drift PR yet (${p.warnings.join('; ')})`;
  if (p.action === 'human-pushed') return `drift PR ${pr} has pushes by someone else; left as it is`;
  return `drift PR ${p.action}: ${pr}`;
}

export function registerDrift(program: Command, ctx: CommandContext, repoOption: () => Option, jsonOption: () => Option): void {
  addLiveOptions(
    program
      .command('drift')
      .description('show fields changed on the gateways outside git, who changed them and since when (exit 0 none, 2 drift, 1 errors); --propose opens a drift PR per gateway'),
    repoOption,
  )
    .addOption(jsonOption())
    .option('--propose', 'open or update one pull request per drifted gateway that makes the YAML match live (and close those whose drift is gone)', false)
    .action(async (o: DriftOptions) => {
      ctx.exitCode = await runDrift(o, ctx.ports);
    });
}
