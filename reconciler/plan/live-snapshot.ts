/**
 * The live state of a gateway as kept on the state branch after every verified apply, so a plan can
 * be made where the gateway cannot be reached (a CI runner outside the gateways' network). The
 * gateway redacts secrets in every config view, so a snapshot holds none; workspace files are kept
 * as hashes, which is all the planner compares.
 */
import type { CronJob, ExecApprovalsFile, JsonObject } from '../../fleet/openclaw/gateway-api.ts';
import { CRON_KEY_PREFIX } from '../desired/effective-state.ts';
import type { LiveGateway } from './read-live.ts';

export function toSnapshot(live: LiveGateway, at: Date): JsonObject {
  return {
    takenAt: at.toISOString(),
    version: live.version,
    configHash: live.config.hash,
    sourceConfig: live.config.sourceConfig,
    execApprovals: { hash: live.execApprovals.hash, file: live.execApprovals.file as unknown as JsonObject },
    cron: live.cron.filter((j) => j.declarationKey?.startsWith(CRON_KEY_PREFIX)) as JsonObject[],
    files: Object.fromEntries([...live.files].map(([k, f]) => [k, f?.hash ?? null])),
  };
}

/** A saved snapshot as the planner's live input, with when it was taken; undefined when it is not one. */
export function fromSnapshot(json: JsonObject | undefined): { live: LiveGateway; takenAt: Date } | undefined {
  if (!json || typeof json.takenAt !== 'string' || typeof json.configHash !== 'string' || !json.sourceConfig || typeof json.sourceConfig !== 'object') return undefined;
  const exec = (json.execApprovals ?? {}) as { hash?: string; file?: ExecApprovalsFile };
  const files = (json.files ?? {}) as Record<string, string | null>;
  return {
    takenAt: new Date(json.takenAt),
    live: {
      version: typeof json.version === 'string' ? json.version : 'unknown',
      config: { path: '', exists: true, sourceConfig: json.sourceConfig as JsonObject, hash: json.configHash, configRevisionHash: json.configHash, appliedConfigHash: json.configHash, valid: true, issues: [], warnings: [] },
      execApprovals: { file: exec.file ?? ({ version: 1 } as ExecApprovalsFile), hash: exec.hash ?? '', exists: exec.file !== undefined },
      cron: (Array.isArray(json.cron) ? json.cron : []) as unknown as CronJob[],
      files: new Map(Object.entries(files).map(([k, h]) => [k, h === null ? null : { hash: h, content: '' }])),
    },
  };
}
