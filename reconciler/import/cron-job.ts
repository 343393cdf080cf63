/**
 * A gateway cron job (from `cron.list`) as an Agent's `spec.cron` entry. The job definition is kept
 * as the gateway stores it; scheduler state and server bookkeeping are not part of desired state;
 * definition fields clawops cannot express yet are named in a comment instead of being dropped
 * silently.
 */
import type { CronJob as GatewayCronJob } from '../../fleet/openclaw/gateway-api.ts';
import { CronJob } from '../model/openclaw.ts';
import { modelProblem } from './model-check.ts';
import { isName, type NameAllocator, slugify } from './names.ts';

/**
 * Declaration-key namespaces the gateway owns (heartbeat monitors, skill reviews, tasks that
 * `openclaw doctor` imported from HEARTBEAT.md): it creates and rewrites these jobs itself.
 */
const SYSTEM_NAMESPACES = ['heartbeat:', 'heartbeat-task:', 'skill-collection-review:'];

export const isSystemOwned = (job: GatewayCronJob): boolean => SYSTEM_NAMESPACES.some((p) => job.declarationKey?.startsWith(p) === true);

/** Copied into the YAML as they are. */
const DEFINITION = ['description', 'enabled', 'schedule', 'sessionTarget', 'wakeMode', 'payload', 'delivery'] as const;

/** Identity, placement and scheduler state: the gateway's business, not desired state. */
const BOOKKEEPING = new Set([
  'id',
  'name',
  'declarationKey',
  'agentId',
  'effectiveAgentId',
  'createdAtMs',
  'updatedAtMs',
  'configRevision',
  'state',
  'scheduleKind',
  'nextRunAt',
  'nextRunAtMs',
  'lastRun',
  'lastRunAtMs',
  'lastRunStatus',
  'lastRunError',
  'lastDelivered',
  'lastDeliveryStatus',
  'lastDeliveryError',
  'deliverySuppressionReason',
  'lastFailureNotificationDelivered',
  'lastFailureNotificationDeliveryStatus',
  'lastFailureNotificationDeliveryError',
  // Derived from who created the job: `trusted` for operators, which is what clawops is.
  'scheduledToolPolicy',
]);

export const clawopsDeclarationKey = (agentId: string, name: string): string => `clawops:${agentId}:${name}`;

export type MappedCronJob =
  | { readonly ok: true; readonly job: Record<string, unknown>; readonly name: string; readonly comments: readonly string[]; readonly leftOut: readonly string[] }
  | { readonly ok: false; readonly reason: string };

function pickName(job: GatewayCronJob, agentId: string, names: NameAllocator): { name: string; comments: string[] } {
  const prefix = clawopsDeclarationKey(agentId, '');
  const fromKey = job.declarationKey?.startsWith(prefix) ? job.declarationKey.slice(prefix.length) : undefined;
  const wanted = fromKey !== undefined && isName(fromKey) ? fromKey : isName(job.name) ? job.name : slugify(job.name);
  const name = names.allocate(wanted);
  const comments: string[] = [];
  if (wanted !== job.name && wanted !== fromKey) comments.push(`Named ${JSON.stringify(job.name)} on the gateway; renamed to fit clawops' job names.`);
  if (name !== wanted) comments.push(`Another job of this agent is already called "${wanted}".`);
  return { name, comments };
}

function payloadOf(job: GatewayCronJob): unknown {
  const payload = job.payload;
  if (!payload || typeof payload !== 'object') return payload;
  // A tool list the gateway filled in by default is not a choice anyone made.
  const { toolsAllowIsDefault, ...rest } = payload as Record<string, unknown>;
  if (toolsAllowIsDefault === true) delete rest.toolsAllow;
  return rest;
}

export function mapCronJob(job: GatewayCronJob, agentId: string, names: NameAllocator): MappedCronJob {
  const { name, comments } = pickName(job, agentId, names);
  const out: Record<string, unknown> = { name };
  for (const field of DEFINITION) {
    const value = field === 'payload' ? payloadOf(job) : job[field];
    if (value !== undefined) out[field] = value;
  }
  const leftOut = Object.keys(job).filter((k) => !BOOKKEEPING.has(k) && !(DEFINITION as readonly string[]).includes(k));
  const problem = modelProblem(CronJob, out);
  if (problem) return { ok: false, reason: `does not fit clawops' CronJob (${problem})` };

  const key = clawopsDeclarationKey(agentId, name);
  if (job.declarationKey !== key) {
    const origin = job.declarationKey ? `declarationKey ${JSON.stringify(job.declarationKey)}` : 'no declarationKey';
    comments.push(`Imported from cron job ${job.id} (${origin}).`, `clawops keeps it as ${key}; once that is applied,`, 'remove the original job or it runs twice.');
  }
  if (!job.agentId) comments.push('It had no agentId on the gateway, so it ran on the default agent.');
  if (leftOut.length) comments.push(`Not imported (clawops' CronJob has no field for it yet): ${leftOut.join(', ')}.`);
  return { ok: true, job: out, name, comments, leftOut };
}
