/**
 * The methods the simulator answers, each with the scope the real gateway requires (research §3–7)
 * and whether it counts against the write rate limit. Anything else is an unknown method.
 */
import { createHash } from 'node:crypto';
import type { JsonRecord } from './json.ts';
import type { SimGatewayState } from './gateway-state.ts';

type Scope = 'operator.read' | 'operator.admin';

export interface MethodContext {
  readonly state: SimGatewayState;
  /** Schedules this gateway's restart (`gateway.restart.request`). */
  readonly restart: (reason: string) => void;
}

interface MethodSpec {
  readonly scope: Scope;
  /** Rate limited: 30 per method per device per minute (research §3.6). */
  readonly write?: boolean;
  readonly run: (ctx: MethodContext, params: JsonRecord) => unknown;
}

const READ: Scope = 'operator.read';
const ADMIN: Scope = 'operator.admin';

export const METHODS: ReadonlyMap<string, MethodSpec> = new Map<string, MethodSpec>([
  ['config.get', { scope: READ, run: ({ state }) => state.configGet() }],
  ['config.schema', { scope: READ, run: ({ state }) => state.configSchema() }],
  ['config.schema.lookup', { scope: READ, run: ({ state }, p) => state.configSchemaLookup(typeof p.path === 'string' ? p.path : '') }],
  ['config.patch', { scope: ADMIN, write: true, run: ({ state }, p) => state.configPatch(p) }],
  ['config.apply', { scope: ADMIN, write: true, run: ({ state }, p) => state.configReplace('config.apply', p) }],
  ['config.set', { scope: ADMIN, run: ({ state }, p) => state.configReplace('config.set', p) }],
  ['openclaw.changes.list', { scope: ADMIN, run: ({ state }, p) => state.changesList(p) }],
  ['agents.list', { scope: READ, run: ({ state }) => state.agentsList() }],
  ['agents.delete', { scope: ADMIN, run: ({ state }, p) => state.agentsDelete(p) }],
  ['agents.files.list', { scope: READ, run: ({ state }, p) => state.agentFilesList(p) }],
  ['agents.files.get', { scope: READ, run: ({ state }, p) => state.agentFileGet(p) }],
  ['agents.files.set', { scope: ADMIN, run: ({ state }, p) => state.agentFileSet(p) }],
  ['exec.approvals.get', { scope: ADMIN, run: ({ state }) => state.execApprovalsGet() }],
  ['exec.approvals.set', { scope: ADMIN, run: ({ state }, p) => state.execApprovalsSet(p) }],
  ['cron.list', { scope: READ, run: ({ state }, p) => state.cronList(p) }],
  ['cron.get', { scope: READ, run: ({ state }, p) => state.cronGet(p) }],
  ['cron.add', { scope: ADMIN, run: ({ state }, p) => state.cronAdd(p) }],
  ['cron.update', { scope: ADMIN, run: ({ state }, p) => state.cronUpdate(p) }],
  ['cron.remove', { scope: ADMIN, run: ({ state }, p) => state.cronRemove(p) }],
  ['usage.cost', { scope: READ, run: (_, p) => usageCost(p) }],
  ['usage.status', { scope: READ, run: () => ({ updatedAt: Date.now(), providers: [] }) }],
  ['sessions.usage', { scope: READ, run: () => sessionsUsage() }],
  ['health', { scope: READ, run: ({ state }) => ({ ok: true, ts: Date.now(), durationMs: 0, defaultAgentId: 'main', configReload: { hotReloadStatus: 'active' }, agents: agentHealth(state) }) }],
  ['status', { scope: READ, run: ({ state }) => ({ runtimeVersion: state.version, pid: process.pid, uptimeMs: Date.now() - state.startedAt, sessions: {}, tasks: {} }) }],
  ['gateway.identity.get', { scope: READ, run: ({ state }) => gatewayIdentity(state.id) }],
  [
    'gateway.restart.request',
    {
      scope: ADMIN,
      write: true,
      run: ({ restart }, p) => {
        restart(typeof p.reason === 'string' ? p.reason : 'restart requested');
        return { ok: true, status: 'scheduled', preflight: { safe: true }, restart: { ok: true, signal: 'SIGUSR2', mode: 'emit' } };
      },
    },
  ],
]);

/** `operator.admin` covers everything; `operator.write` covers reads. */
export function hasScope(granted: readonly string[], required: Scope): boolean {
  if (granted.includes('operator.admin')) return true;
  return required === 'operator.read' && (granted.includes('operator.read') || granted.includes('operator.write'));
}

const zeroTotals = () => ({
  input: 0, output: 0, cacheRead: 0, cacheWrite: 0, totalTokens: 0, totalCost: 0,
  inputCost: 0, outputCost: 0, cacheReadCost: 0, cacheWriteCost: 0, missingCostEntries: 0,
});

/** A gateway that never ran a turn: zeros, one row per day (research §6). */
function usageCost(p: JsonRecord) {
  const days = typeof p.days === 'number' && p.days > 0 ? Math.min(366, Math.floor(p.days)) : 30;
  const now = Date.now();
  const daily = Array.from({ length: days }, (_, i) => ({ date: new Date(now - (days - 1 - i) * 86_400_000).toISOString().slice(0, 10), ...zeroTotals() }));
  return { updatedAt: now, days, daily, totals: zeroTotals(), cacheStatus: { status: 'fresh', cachedFiles: 0, pendingFiles: 0, staleFiles: 0, refreshedAt: now } };
}

function sessionsUsage() {
  const today = new Date().toISOString().slice(0, 10);
  return {
    updatedAt: Date.now(),
    startDate: today,
    endDate: today,
    sessions: [],
    totals: zeroTotals(),
    aggregates: { sessionCount: 0, messages: { total: 0, user: 0, assistant: 0, toolCalls: 0, toolResults: 0, errors: 0 } },
  };
}

function agentHealth(state: SimGatewayState) {
  return (state.agentsList().agents as { id: string }[]).map((a) => ({ agentId: a.id, isDefault: a.id === 'main' }));
}

/** A stable made-up identity per simulated gateway; nothing is ever signed with it. */
function gatewayIdentity(id: string) {
  const publicKey = createHash('sha256').update(`openclaw-sim:${id}`).digest();
  return { deviceId: createHash('sha256').update(publicKey).digest('hex'), publicKey: publicKey.toString('base64url') };
}
