/**
 * The refusals the simulator answers with, shaped exactly like the real gateway's `res` errors
 * (research §2.4, §3.3, §3.6, §4.5) so fleet/openclaw/errors.ts maps them to the same typed errors.
 */
import type { GatewayErrorShape } from '../openclaw/errors.ts';

/** Thrown by a method handler; the session turns it into `{ok:false, error}`. */
export class SimRequestError extends Error {
  readonly shape: GatewayErrorShape;
  /** Close the socket with this code after answering (handshake failures). */
  readonly closeCode: number | undefined;
  constructor(shape: GatewayErrorShape, closeCode?: number) {
    super(shape.message);
    this.shape = shape;
    this.closeCode = closeCode;
  }
}

export const invalidRequest = (message: string, details?: Record<string, unknown>) =>
  new SimRequestError({ code: 'INVALID_REQUEST', message, ...(details ? { details } : {}) });

export const staleConfigHash = () => invalidRequest('config changed since last load; re-run config.get and retry');

export const staleExecApprovalsHash = () => invalidRequest('exec approvals changed since last load; re-run exec.approvals.get and retry');

export const agentFileConflict = (agentId: string, name: string, expectedHash: string, actualHash: string | null) =>
  invalidRequest(`agent file ${agentId}/${name} changed since last load; re-run agents.files.get and retry`, {
    type: 'agent_file_conflict',
    agentId,
    name,
    expectedHash,
    actualHash,
  });

export const arraysWouldShrink = (paths: readonly string[]) =>
  invalidRequest(`config.patch would remove entries from array path(s): ${paths.join(', ')}. Pass replacePaths with these paths to replace the arrays.`);

export const rosterWouldDrop = (ids: readonly string[]) =>
  new SimRequestError({ code: 'UNAVAILABLE', message: `Error: Config write would drop agent roster entries without an explicit deletion: ${ids.join(', ')}.` });

export const invalidConfig = (issues: readonly { path: string; message: string }[]) =>
  invalidRequest(`invalid config: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { issues });

export const missingScope = (scope: string) =>
  new SimRequestError({ code: 'FORBIDDEN', message: `missing scope: ${scope}`, details: { code: 'MISSING_SCOPE', missingScope: scope, requiredScopes: [scope] } });

export function rateLimited(method: string, retryAfterMs: number): SimRequestError {
  return new SimRequestError({
    code: 'UNAVAILABLE',
    message: `rate limit exceeded for ${method}; retry after ${Math.ceil(retryAfterMs / 1000)}s`,
    retryable: true,
    retryAfterMs,
    details: { method, limit: '30 per 60s' },
  });
}

export const restarting = () => new SimRequestError({ code: 'UNAVAILABLE', message: 'gateway restarting; retry shortly', retryable: true, retryAfterMs: 1_000 });

/** Handshake refusals close the socket: 1008 policy violation, 1002 protocol mismatch. */
export const authRefused = (message: string, details: Record<string, unknown>) => new SimRequestError({ code: 'INVALID_REQUEST', message, details }, 1008);
