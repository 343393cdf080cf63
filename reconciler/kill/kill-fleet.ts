/**
 * `clawops kill` / `clawops recover` across the gateways an agent runs on: which agent is meant
 * (an Agent's name or its id on the gateway), where it runs (its Agent's targets, or `--gateway`),
 * one session per gateway, the kill switch on each (kill-agent.ts), and one `break-glass` audit
 * event per gateway. The reconcile loop can call `killOnFleet` / `recoverOnFleet` as they are.
 */
import { UsageError } from '../errors.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { didYouMean } from '../diagnostics/did-you-mean.ts';
import { explainGatewayError } from '../live/explain-gateway-error.ts';
import { mapLimited } from '../live/parallel.ts';
import type { FleetRepo } from '../load/load-repo.ts';
import { ofKind, type LoadedOf } from '../load/resource.ts';
import { targetGateways } from '../model/selector.ts';
import { openSession, type PlanContext } from '../plan/make-plan.ts';
import { killAgent, killSummary, recoverAgent, type KillOutcome, type KillRequest, type RecoverOutcome } from './kill-agent.ts';

/** The agent a command names, as git declares it (when it does). */
export interface AgentTarget {
  readonly agentId: string;
  readonly resource?: LoadedOf<'Agent'>;
  readonly gateways: ReadonlyArray<LoadedOf<'Gateway'>>;
}

/**
 * Finds AGENT (an Agent's metadata.name or spec.id) and its gateways; `only` narrows them (and
 * lets a command reach an agent git does not declare).
 */
export function resolveAgent(repo: FleetRepo, name: string, only: readonly string[] = []): AgentTarget {
  const gateways = ofKind(repo.resources, 'Gateway');
  const agents = ofKind(repo.resources, 'Agent');
  const resource = agents.find((a) => a.name === name) ?? agents.find((a) => a.value.spec.id === name);
  const unknownGateway = only.find((g) => !gateways.some((x) => x.name === g));
  if (unknownGateway) {
    const hint = didYouMean(unknownGateway, gateways.map((g) => g.name));
    throw new UsageError(`no Gateway "${unknownGateway}" in the fleet repo ${repo.root}${hint ? ` (did you mean ${hint}?)` : ''}`, {});
  }
  if (!resource) {
    if (only.length) return { agentId: name, gateways: gateways.filter((g) => only.includes(g.name)) };
    const names = agents.flatMap((a) => [a.name, ...(a.value.spec.id && a.value.spec.id !== a.name ? [a.value.spec.id] : [])]);
    const hint = didYouMean(name, names);
    const list = names.length ? `; its agents: ${names.sort().slice(0, 20).join(', ')}${names.length > 20 ? ', …' : ''}` : '; it declares no Agent';
    throw new UsageError(`no Agent "${name}" in the fleet repo ${repo.root}${hint ? ` (did you mean ${hint}?)` : ''}${list}. An agent git does not declare needs --gateway NAME`, {});
  }
  const targets = targetGateways(resource.value.spec, gateways).filter((g) => !only.length || only.includes(g.name));
  if (!targets.length) {
    throw new UsageError(`Agent/${resource.name} (${resource.file}) runs on no ${only.length ? `gateway among ${only.join(', ')}` : 'Gateway of the repo'}; check its spec.gateway / spec.gateways`, {});
  }
  return { agentId: resource.value.spec.id ?? resource.name, resource, gateways: targets };
}

export type GatewayKill = { readonly gateway: string } & (KillOutcome | { readonly status: 'error'; readonly message: string });
export type GatewayRecover = { readonly gateway: string } & (RecoverOutcome | { readonly status: 'error'; readonly message: string });

async function onEach<R>(agent: AgentTarget, ctx: PlanContext, run: (gw: LoadedOf<'Gateway'>, session: Parameters<typeof killAgent>[0]['session']) => Promise<R>): Promise<Array<{ gateway: string } & (R | { status: 'error'; message: string })>> {
  return mapLimited(agent.gateways, ctx.parallelism, async (gw) => {
    const opened = await openSession(gw, ctx, { keepSession: false });
    if ('kind' in opened) return { gateway: gw.name, status: 'error' as const, message: opened.message };
    try {
      return { gateway: gw.name, ...(await run(gw, opened.session)) };
    } catch (e) {
      return { gateway: gw.name, status: 'error' as const, message: e instanceof UsageError ? e.message : `${gw.name}: ${explainGatewayError(e, gw.name).message}` };
    } finally {
      await opened.session.client.close();
    }
  });
}

export function killOnFleet(agent: AgentTarget, ctx: PlanContext, req: Omit<KillRequest, 'resource'>): Promise<GatewayKill[]> {
  const resource = agent.resource ? `Agent/${agent.resource.name}` : undefined;
  return onEach(agent, ctx, (gw, session) => killAgent({ session, store: ctx.store, target: gw.name, agentId: agent.agentId, now: ctx.now }, { ...req, ...(resource ? { resource } : {}) })) as Promise<GatewayKill[]>;
}

export function recoverOnFleet(agent: AgentTarget, ctx: PlanContext): Promise<GatewayRecover[]> {
  return onEach(agent, ctx, (gw, session) => recoverAgent({ session, store: ctx.store, target: gw.name, agentId: agent.agentId, now: ctx.now })) as Promise<GatewayRecover[]>;
}

export interface KillAuditContext {
  readonly actor: string;
  readonly traceId: string;
  readonly desiredCommit?: string;
}

/** One `break-glass` event per gateway where the switch was thrown (nothing for no-ops and errors before a write). */
export function recordKillSwitch(audit: AuditLog, agent: AgentTarget, results: ReadonlyArray<GatewayKill | GatewayRecover>, ctx: KillAuditContext): void {
  for (const r of results) {
    if (r.status !== 'killed' && r.status !== 'recovered') continue;
    const killing = r.status === 'killed';
    const record = r.record;
    audit.record({
      type: 'break-glass',
      actor: ctx.actor,
      traceId: ctx.traceId,
      target: r.gateway,
      resource: record.resource ?? `Agent/${agent.agentId}`,
      agentId: agent.agentId,
      risk: 'high',
      summary: {
        action: killing ? 'kill' : 'recover',
        category: 'kill-switch',
        message: killing
          ? `agent ${agent.agentId} killed (tools denied, heartbeat off, ${record.prior.bindings.length} route(s) removed, ${r.cronDisabled.length} cron job(s) disabled): ${record.reason}`
          : `agent ${agent.agentId} recovered (killed by ${record.by} at ${record.killedAt}: ${record.reason})${r.mismatches.length ? `; differs from the record: ${r.mismatches.join('; ')}` : ''}`,
        ...(killing ? { before: killSummary(record), after: { tools: ['deny'], heartbeat: '0m', bindings: 0, cronEnabled: [] } } : { before: { killed: true }, after: killSummary(record) }),
      },
      beforeHash: r.hashBefore,
      afterHash: r.hashAfter,
      approval: { kind: 'break-glass', by: ctx.actor, reason: killing ? record.reason : `recover ${agent.agentId} (killed: ${record.reason})` },
      ...(ctx.desiredCommit ? { desiredCommit: ctx.desiredCommit } : {}),
    });
  }
}
