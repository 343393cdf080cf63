/**
 * One gateway's state for `clawops status`: a read-only session (least privilege), three reads,
 * and the verdict. Everything that can go wrong with one gateway becomes a problem in its row;
 * nothing here throws for a gateway's sake, so one bad gateway never hides the rest of the fleet.
 */
import type { GatewayClientOptions } from '../../fleet/openclaw/client.ts';
import type { DeviceIdentity } from '../../fleet/openclaw/device-identity.ts';
import { isRecord } from '../../fleet/openclaw/errors.ts';
import type { AgentsList, ConfigSnapshot, JsonObject, OpenClawGateway } from '../../fleet/openclaw/gateway-api.ts';
import type { HelloOk } from '../../fleet/openclaw/protocol.ts';
import { ClawopsError } from '../errors.ts';
import { explainGatewayError } from '../live/explain-gateway-error.ts';
import { openGatewayWithin } from '../live/connect-within.ts';
import { gatewayClientOptions, type AccessContext } from '../live/gateway-access.ts';
import type { LoadedOf } from '../load/resource.ts';
import type { GatewayProblem, GatewayStatus } from './report.ts';

export interface ProbeOptions {
  readonly device: DeviceIdentity;
  /** Bounds the connect and each read, so a dead or wedged gateway cannot stall the run. */
  readonly timeoutMs: number;
}

type HealthPayload = JsonObject & { ok: boolean };

/** What one probe learned; a read that failed holds its error. */
export interface ProbeFacts {
  readonly name: string;
  readonly url: string;
  readonly connectError?: unknown;
  readonly hello?: Pick<HelloOk, 'server' | 'protocol'>;
  readonly config?: PromiseSettledResult<ConfigSnapshot>;
  readonly agents?: PromiseSettledResult<AgentsList>;
  readonly health?: PromiseSettledResult<HealthPayload>;
}

export async function probeGateway(gw: LoadedOf<'Gateway'>, ctx: AccessContext, opts: ProbeOptions): Promise<GatewayStatus> {
  const base = { name: gw.name, url: gw.value.spec.url };
  let options: GatewayClientOptions;
  try {
    options = await gatewayClientOptions(gw, ctx, { scopes: ['operator.read'], device: opts.device, requestTimeoutMs: opts.timeoutMs, startupTimeoutMs: opts.timeoutMs });
  } catch (e) {
    // A missing or undecryptable token secret concerns this gateway only.
    if (e instanceof ClawopsError) return { ...unknownStatus(base), problems: [{ kind: 'credentials', message: `${gw.name}: ${e.message}` }] };
    throw e;
  }
  let gateway: OpenClawGateway;
  try {
    gateway = await openGatewayWithin({ ...options, reconnect: false }, opts.timeoutMs);
  } catch (e) {
    return gatewayStatus({ ...base, connectError: e });
  }
  try {
    const [config, agents, health] = await Promise.allSettled([gateway.configGet(), gateway.agentsList(), gateway.health()]);
    return gatewayStatus({ ...base, hello: gateway.client.hello, config, agents, health });
  } finally {
    await gateway.client.close();
  }
}

function unknownStatus(base: { name: string; url: string }): GatewayStatus {
  return { ...base, reachable: false, attention: true, version: null, protocol: null, agents: null, config: null, pendingRestart: null, health: null, problems: [] };
}

/** The verdict on one gateway from what its probe learned (pure, so every branch is testable). */
export function gatewayStatus(f: ProbeFacts): GatewayStatus {
  const base = { name: f.name, url: f.url };
  if (f.connectError !== undefined || !f.hello) {
    return { ...unknownStatus(base), problems: [explainGatewayError(f.connectError ?? new Error('no session'), f.name)] };
  }
  const problems: GatewayProblem[] = [];
  const value = <T>(r: PromiseSettledResult<T> | undefined): T | undefined => {
    if (r?.status === 'fulfilled') return r.value;
    if (r?.status === 'rejected') problems.push(explainGatewayError(r.reason, f.name));
    return undefined;
  };
  const config = value(f.config);
  const agents = value(f.agents);
  const healthPayload = value(f.health);

  const pending = config ? pendingRestart(config) : null;
  if (pending && config) {
    problems.push({
      kind: 'pending-restart',
      message: `${f.name}: a saved config change waits for a restart (running ${shortHash(config.appliedConfigHash)}, saved ${shortHash(config.configRevisionHash)}); restart the gateway to take it`,
    });
  }
  if (config && config.valid === false) {
    const first = config.issues?.[0];
    const n = config.issues?.length ?? 0;
    problems.push({
      kind: 'invalid-config',
      message: `${f.name}: the gateway's config file is invalid (${n} issue${n === 1 ? '' : 's'}${first ? `, first: ${first.path}: ${first.message}` : ''}); the gateway keeps running the last valid config`,
    });
  }
  const health = healthPayload ? summarizeHealth(healthPayload) : null;
  if (health && !health.ok) problems.push({ kind: 'unhealthy', message: `${f.name} reports itself unhealthy (health.ok is false); check its logs` });

  return {
    ...base,
    reachable: true,
    attention: problems.length > 0,
    version: f.hello.server.version,
    protocol: f.hello.protocol,
    agents: agents ? agents.agents.length : null,
    config: config
      ? { hash: config.hash, revisionHash: config.configRevisionHash, appliedHash: config.appliedConfigHash, valid: config.valid !== false }
      : null,
    pendingRestart: pending,
    health,
    problems,
  };
}

/** `appliedConfigHash ≠ configRevisionHash` means a saved change is not running yet (research §3.1); unknown when either is missing. */
export function pendingRestart(config: Pick<ConfigSnapshot, 'appliedConfigHash' | 'configRevisionHash'>): boolean | null {
  const applied: unknown = config.appliedConfigHash;
  const revision: unknown = config.configRevisionHash;
  if (typeof applied !== 'string' || typeof revision !== 'string' || !applied || !revision) return null;
  return applied !== revision;
}

/**
 * `ok` decides health. Degraded subsystems are reported but are not a fault: a busy host marks
 * the event loop degraded (reason `cpu`) while everything works (research §7).
 */
export function summarizeHealth(h: HealthPayload): { ok: boolean; degraded: string[] } {
  const degraded: string[] = [];
  const loop = h.eventLoop;
  if (isRecord(loop) && loop.degraded === true) {
    const reasons = Array.isArray(loop.reasons) ? loop.reasons.filter((r): r is string => typeof r === 'string') : [];
    degraded.push(`event loop${reasons.length ? ` (${reasons.join(', ')})` : ''}`);
  }
  const runtime = h.modelRuntime;
  if (isRecord(runtime) && runtime.degraded === true) degraded.push('model runtime');
  const plugins = h.plugins;
  const errors = isRecord(plugins) && Array.isArray(plugins.errors) ? plugins.errors.length : 0;
  if (errors) degraded.push(`${errors} plugin error${errors === 1 ? '' : 's'}`);
  return { ok: h.ok === true, degraded };
}

/** `hmac-sha256:v1:bHZrgotAYR66…` → `bHZrgotAYR`: enough to tell revisions apart in a table. */
export function shortHash(hash: string): string {
  const digest = hash.slice(hash.lastIndexOf(':') + 1);
  return digest.slice(0, 10) || hash;
}
