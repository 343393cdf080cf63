/**
 * The effective desired state of one gateway: every Agent that lands on it (selectors resolved),
 * its routes, cron jobs, workspace files and exec-approval entry, with defaults applied, exactly
 * as the gateway will hold them. The planner diffs this against live and nothing else.
 *
 * DESIRED_STAGES is the one extension point for what rewrites desired state before planning:
 * template deployments (instances become agents), budget overrides (a breached budget downgrades
 * a model) and kill-switch parking (a killed agent keeps its parked config) plug in there.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { JsonObject } from '../../fleet/openclaw/gateway-api.ts';
import type { FleetRepo } from '../load/load-repo.ts';
import { ofKind, type LoadedOf } from '../load/resource.ts';
import { matchesSelector, targetsGateway } from '../model/selector.ts';
import type { PlanNote } from '../plan/plan.ts';

export interface DesiredCron {
  readonly name: string;
  /** `clawops:<agentId>:<name>`: how the gateway upserts it. */
  readonly declarationKey: string;
  /** `cron.add` params, defaults applied. */
  readonly job: JsonObject;
  /** Index in `spec.cron`, for pointing at the YAML. */
  readonly index: number;
}

export interface DesiredFile {
  readonly name: string;
  /** Repo-relative path of the content. */
  readonly contentFile: string;
  readonly sha256: string;
}

export interface IgnoreRule {
  readonly path: string;
  readonly reason?: string;
}

export interface DesiredAgent {
  readonly id: string;
  readonly resource: LoadedOf<'Agent'>;
  /** `agents.entries.<id>`, `{ secretRef }` values kept. */
  readonly config: JsonObject;
  /** Its entries of the top-level `bindings`, with `agentId`. */
  readonly bindings: readonly JsonObject[];
  readonly cron: readonly DesiredCron[];
  readonly files: readonly DesiredFile[];
  /** Its entry of the exec-approvals document, from the ApprovalRule that selects it. */
  readonly exec?: { readonly policy: JsonObject; readonly rule: LoadedOf<'ApprovalRule'> };
  /** The Gateway's and the Agent's `ignore` rules. */
  readonly ignore: readonly IgnoreRule[];
}

export interface DesiredGateway {
  readonly gateway: LoadedOf<'Gateway'>;
  readonly agents: ReadonlyMap<string, DesiredAgent>;
  readonly notes: readonly PlanNote[];
}

export type DesiredStage = (state: DesiredGateway, repo: FleetRepo) => DesiredGateway | Promise<DesiredGateway>;

/** Stages run in order after the plain resources are resolved (see the module comment). */
export const DESIRED_STAGES: readonly DesiredStage[] = [notePendingTemplates];

export const CRON_KEY_PREFIX = 'clawops:';
export const cronKey = (agentId: string, name: string): string => `${CRON_KEY_PREFIX}${agentId}:${name}`;

/** Defaults the gateway requires but our YAML may leave out. */
const CRON_DEFAULTS = { enabled: true, sessionTarget: 'isolated', wakeMode: 'now' } as const;

export async function effectiveDesired(repo: FleetRepo, gateway: LoadedOf<'Gateway'>, stages: readonly DesiredStage[] = DESIRED_STAGES): Promise<DesiredGateway> {
  const rules = ofKind(repo.resources, 'ApprovalRule');
  const agents = new Map<string, DesiredAgent>();
  const notes: PlanNote[] = [];
  for (const a of ofKind(repo.resources, 'Agent')) {
    if (!targetsGateway(a.value.spec, gateway)) continue;
    const spec = a.value.spec;
    const id = spec.id ?? a.name;
    const covering = rules.filter((r) => matchesSelector(r.value.spec.agents, a.value.metadata.labels));
    if (covering.length > 1) {
      notes.push({
        level: 'warning',
        message: `Agent/${a.name} is selected by ${covering.length} ApprovalRules (${covering.map((r) => r.name).join(', ')}); only ${covering[0]!.name} applies. Narrow their selectors.`,
        source: { file: covering[1]!.file, line: covering[1]!.line, col: 1 },
      });
    }
    const rule = covering[0];
    agents.set(id, {
      id,
      resource: a,
      config: structuredClone(spec.config) as JsonObject,
      bindings: (spec.bindings ?? []).map((b) => ({ agentId: id, ...(structuredClone(b) as JsonObject) })),
      cron: (spec.cron ?? []).map((c, index) => {
        const declarationKey = cronKey(id, c.name);
        return { name: c.name, declarationKey, index, job: { ...CRON_DEFAULTS, ...(structuredClone(c) as JsonObject), declarationKey, agentId: id } };
      }),
      files: await desiredFiles(repo.root, a),
      ...(rule ? { exec: { policy: execEntry(rule.value.spec.exec as JsonObject), rule } } : {}),
      ignore: [...(gateway.value.spec.ignore ?? []), ...(spec.ignore ?? [])],
    });
  }
  let state: DesiredGateway = { gateway, agents, notes };
  for (const stage of stages) state = await stage(state, repo);
  return state;
}

/** The gateway's allowlist entries have no `description` (its schema refuses unknown keys). */
function execEntry(policy: JsonObject): JsonObject {
  const entry = structuredClone(policy);
  if (Array.isArray(entry.allowlist)) entry.allowlist = (entry.allowlist as JsonObject[]).map(({ description: _, ...rest }) => rest);
  return entry;
}

async function desiredFiles(root: string, a: LoadedOf<'Agent'>): Promise<DesiredFile[]> {
  const out: DesiredFile[] = [];
  for (const [name, rel] of Object.entries(a.value.spec.files ?? {})) {
    const contentFile = posix.normalize(posix.join(posix.dirname(a.file), rel));
    const bytes = await readFile(join(root, contentFile));
    out.push({ name, contentFile, sha256: createHash('sha256').update(bytes).digest('hex') });
  }
  return out;
}

/** Until templates render, say so where a deployment targets this gateway instead of silently skipping it. */
function notePendingTemplates(state: DesiredGateway, repo: FleetRepo): DesiredGateway {
  const deployments = ofKind(repo.resources, 'TemplateDeployment').filter((d) => targetsGateway(d.value.spec, state.gateway));
  if (deployments.length === 0) return state;
  return {
    ...state,
    notes: [
      ...state.notes,
      ...deployments.map((d) => ({
        level: 'info' as const,
        message: `TemplateDeployment/${d.name} is not rendered yet (template roll-outs arrive in a later version); its agents are not planned`,
        source: { file: d.file, line: d.line, col: 1 },
      })),
    ],
  };
}


