/**
 * `clawops kill AGENT --reason TEXT` and `clawops recover AGENT --confirm`: the break-glass kill
 * switch (DESIGN §8). Kill takes the agent's tools, routes and scheduled runs away on every gateway
 * it runs on, in one guarded write each, after committing the exact prior config to the state
 * branch; recover puts it back byte for byte. Both are audited (`break-glass`) and, when GitHub is
 * configured, open the pull request that makes git agree (`spec.killed`). Exit 0 done (or nothing
 * to do), 1 on any error.
 */
import * as git from 'isomorphic-git';
import fs from 'node:fs';
import type { Command, Option } from 'commander';
import { AuditLog, auditSpillFile } from '../../audit/audit-log.ts';
import { Masker } from '../../audit/masker.ts';
import { UsageError } from '../../errors.ts';
import { openGitHubSession, type GitHubSession } from '../../github/session.ts';
import { killOnFleet, recordKillSwitch, recoverOnFleet, resolveAgent, type AgentTarget, type GatewayKill, type GatewayRecover } from '../../kill/kill-fleet.ts';
import { manualEdit, syncKillPr, syncRecoverPr, type Killed, type KillPrOutcome } from '../../kill/kill-pr.ts';
import type { ValidRepo } from '../../live/fleet-repo.ts';
import type { ExitCode, Ports } from '../../ports.ts';
import type { OpenedState } from '../../state/open-state.ts';
import type { CommandContext } from '../program.ts';
import { actorOf, traceIdOf } from './apply.ts';
import { addLiveOptions, planContext, type LiveCommandOptions } from './plan-context.ts';

export interface KillOptions extends LiveCommandOptions {
  readonly reason?: string;
  readonly json: boolean;
}

export interface RecoverOptions extends LiveCommandOptions {
  readonly confirm: boolean;
  readonly json: boolean;
}

export async function runKill(agentName: string, opts: KillOptions, ports: Ports): Promise<ExitCode> {
  const reason = opts.reason?.trim();
  if (!reason) throw new UsageError(`kill needs --reason TEXT: say why ${agentName} is taken out of service (it is recorded in the audit trail and the pull request)`, {});
  const { repo, ctx, state } = await planContext(opts, ports, 'kill');
  const agent = resolveAgent(repo, agentName, opts.gateway ?? []);
  const by = actorOf(ports.env);
  const audit = await AuditLog.open(state.branch, { masker: new Masker({ redactor: ports.redactor }), now: ports.now, spillFile: auditSpillFile(repo.root) });
  const results = await killOnFleet(agent, ctx, { reason, by });
  const base = { actor: by, traceId: traceIdOf(ports.env), ...(state.desiredCommit ? { desiredCommit: state.desiredCommit } : {}) };
  recordKillSwitch(audit, agent, results, base);
  const killed = results.filter((r) => r.status === 'killed').map((r) => r.gateway);
  await audit.commit(`clawops kill ${agent.agentId}: ${killed.length ? `killed on ${killed.join(', ')}` : 'nothing written'}\n\n${reason}\n\ntrace ${base.traceId}`);

  // The record (first kill) says when; a repeated kill re-syncs the same PR.
  const first = results.flatMap((r) => (r.status === 'killed' || r.status === 'already-killed' ? [r.record] : []))[0];
  const pr = first && agent.resource ? await gitAgrees(repo, state, ports, agent, { reason: first.reason, by: first.by, at: first.killedAt }, results) : undefined;
  report(ports, opts.json, 'kill', agent, results, pr);
  return results.every((r) => (r.status === 'killed' && !r.cronErrors.length) || r.status === 'already-killed') && !pr?.error ? 0 : 1;
}

export async function runRecover(agentName: string, opts: RecoverOptions, ports: Ports): Promise<ExitCode> {
  const { repo, ctx, state } = await planContext(opts, ports, 'recover');
  const agent = resolveAgent(repo, agentName, opts.gateway ?? []);
  if (!opts.confirm) {
    const records = (await Promise.all(agent.gateways.map((g) => ctx.store.killRecord(g.name, agent.agentId)))).filter((r) => r !== undefined);
    if (!records.length) throw new UsageError(`${agent.agentId} is not killed on ${agent.gateways.map((g) => g.name).join(', ')} (no kill record in the state store); nothing to recover`, {});
    const what = records.map((r) => `  ${r.target}: killed by ${r.by} at ${r.killedAt} (${r.reason}); restores agents.entries.${r.agentId} exactly as it was, ${r.prior.bindings.length} route(s) at their positions, and re-enables ${r.prior.cron.filter((j) => j.enabled).length} cron job(s)`);
    throw new UsageError(`recover writes to the gateways; re-run with --confirm to restore ${agent.agentId}:\n${what.join('\n')}`, {});
  }
  const by = actorOf(ports.env);
  const audit = await AuditLog.open(state.branch, { masker: new Masker({ redactor: ports.redactor }), now: ports.now, spillFile: auditSpillFile(repo.root) });
  const results = await recoverOnFleet(agent, ctx);
  const base = { actor: by, traceId: traceIdOf(ports.env), ...(state.desiredCommit ? { desiredCommit: state.desiredCommit } : {}) };
  recordKillSwitch(audit, agent, results, base);
  const recovered = results.filter((r) => r.status === 'recovered').map((r) => r.gateway);
  await audit.commit(`clawops recover ${agent.agentId}: ${recovered.length ? `recovered on ${recovered.join(', ')}` : 'nothing written'}\n\ntrace ${base.traceId}`);
  const pr = recovered.length && agent.resource ? await gitAgrees(repo, state, ports, agent, undefined, results) : undefined;
  report(ports, opts.json, 'recover', agent, results, pr);
  const clean = results.every((r) => r.status === 'recovered' && !r.mismatches.length && !r.cronErrors.length);
  return clean && !pr?.error ? 0 : 1;
}

interface PrReport {
  readonly outcome?: KillPrOutcome;
  /** Without GitHub: the YAML edit to make by hand. */
  readonly manual?: string;
  readonly error?: string;
}

async function gitAgrees(repo: ValidRepo, state: OpenedState, ports: Ports, agent: AgentTarget, killed: Killed | undefined, results: ReadonlyArray<GatewayKill | GatewayRecover>): Promise<PrReport> {
  const resource = agent.resource!;
  let github: GitHubSession | undefined;
  try {
    github = await openGitHubSession(repo, { env: ports.env, redactor: ports.redactor, warn: (m) => ports.err.write(`github: ${m}\n`) });
  } catch (e) {
    return { error: (e as Error).message, manual: manualEdit(resource, killed) };
  }
  if (!github) return { manual: manualEdit(resource, killed) };
  try {
    const head = state.desiredCommit ?? (await git.resolveRef({ fs, gitdir: github.gitdir, ref: 'HEAD' }));
    const ctx = { gh: github.gh, root: repo.root, branch: github.branch, head, prefix: github.prefix };
    const gateways = results.filter((r) => r.status !== 'error').map((r) => r.gateway);
    return { outcome: killed ? await syncKillPr(ctx, resource, killed, gateways) : await syncRecoverPr(ctx, resource) };
  } catch (e) {
    return { error: (e as Error).message, manual: manualEdit(resource, killed) };
  }
}

function describe(r: GatewayKill | GatewayRecover): string {
  switch (r.status) {
    case 'killed':
      return `✓ ${r.gateway}: killed — every tool denied, heartbeat off, ${r.record.prior.bindings.length} route(s) removed, ${r.cronDisabled.length} cron job(s) disabled (1 config write${r.retried ? ', retried once after a concurrent edit' : ''})${r.cronSystem.length ? `; the gateway's own ${r.cronSystem.join(', ')} stays scheduled and runs without tools` : ''}${r.cronErrors.length ? `; could not disable: ${r.cronErrors.join('; ')}` : ''}`;
    case 'already-killed':
      return `· ${r.gateway}: already killed by ${r.record.by} at ${r.record.killedAt} (${r.record.reason}); nothing written`;
    case 'recovered':
      return `${r.mismatches.length || r.cronErrors.length ? '✗' : '✓'} ${r.gateway}: recovered — ${r.mismatches.length ? `but ${r.mismatches.join('; ')}` : 'entry and routes byte for byte as before the kill'}, ${r.cronEnabled.length} cron job(s) re-enabled${r.cronErrors.length ? `; ${r.cronErrors.join('; ')}` : ''}`;
    default:
      return `✗ ${r.gateway}: ${r.message}`;
  }
}

function describePr(pr: PrReport): string[] {
  const lines: string[] = [];
  if (pr.error) lines.push(`✗ pull request: ${pr.error}`);
  const o = pr.outcome;
  if (o?.action === 'closed') lines.push(`  → closed the unmerged kill pull request #${o.number}`);
  else if (o?.action === 'nothing-to-do') lines.push(`  → no pull request: ${o.why}`);
  else if (o) lines.push(`  → pull request ${o.action}${o.number ? `: #${o.number}${o.url ? ` ${o.url}` : ''}` : ''} (${o.branch})${o.warnings.length ? `; ${o.warnings.join('; ')}` : ''}`);
  if (pr.manual) lines.push(`  → GitHub is not configured; make git agree by hand: ${pr.manual.trimEnd()}`);
  return lines;
}

function report(ports: Ports, json: boolean, action: 'kill' | 'recover', agent: AgentTarget, results: ReadonlyArray<GatewayKill | GatewayRecover>, pr: PrReport | undefined): void {
  if (json) {
    const gateways = results.map((r) => {
      const { record, ...rest } = r as typeof r & { record?: unknown };
      // The prior config stays in the state store: it may carry (redacted) secrets and is large.
      return { ...rest, ...(record ? { killedBy: (record as { by: string }).by, killedAt: (record as { killedAt: string }).killedAt } : {}) };
    });
    ports.out.write(JSON.stringify({ formatVersion: 1, action, agent: agent.agentId, resource: agent.resource ? `Agent/${agent.resource.name}` : null, gateways, pullRequest: pr ?? null }, null, 2) + '\n');
    return;
  }
  for (const r of results) ports.out.write(`${describe(r)}\n`);
  for (const line of pr ? describePr(pr) : []) ports.out.write(`${line}\n`);
}

export function registerKill(program: Command, ctx: CommandContext, repoOption: () => Option, jsonOption: () => Option): void {
  addLiveOptions(
    program
      .command('kill')
      .description("break glass: take an agent's tools, routes and scheduled runs away on every gateway it runs on (one guarded write each; the exact prior config is kept for `recover`); audited, with a PR that marks it killed in git")
      .argument('<agent>', 'the Agent (metadata.name or spec.id)'),
    repoOption,
  )
    .addOption(jsonOption())
    .option('--reason <text>', 'why (required; recorded in the audit trail and the pull request)')
    .action(async (agent: string, o: KillOptions) => {
      ctx.exitCode = await runKill(agent, o, ctx.ports);
    });
  addLiveOptions(
    program
      .command('recover')
      .description('undo `clawops kill`: put the agent back byte for byte as it was, re-enable its cron jobs; audited, with a PR that clears spec.killed')
      .argument('<agent>', 'the Agent (metadata.name or spec.id)'),
    repoOption,
  )
    .addOption(jsonOption())
    .option('--confirm', 'really write (without it: say what would be restored)', false)
    .action(async (agent: string, o: RecoverOptions) => {
      ctx.exitCode = await runRecover(agent, o, ctx.ports);
    });
}
