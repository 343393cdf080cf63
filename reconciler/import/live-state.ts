/**
 * Everything `import` reads from one gateway, fetched up front so that the mapping to YAML is a
 * pure function of plain data (and testable without a gateway). Reads only; the scopes are
 * `operator.read` plus `operator.admin` for `exec.approvals.get`.
 */
import { GatewayError } from '../../fleet/openclaw/errors.ts';
import type { CronJob, ExecApprovalsFile, JsonObject, OpenClawGateway } from '../../fleet/openclaw/gateway-api.ts';

export interface WorkspaceFile {
  readonly name: string;
  readonly content: string;
}

export interface LiveState {
  readonly url: string;
  /** OpenClaw version the gateway reported at hello. */
  readonly version: string;
  readonly sourceConfig: JsonObject;
  readonly configHash: string;
  readonly cronJobs: readonly CronJob[];
  readonly execApprovals: { readonly file: ExecApprovalsFile; readonly hash: string };
  /** Per agent id: its non-missing workspace files, or why they could not be read. */
  readonly files: ReadonlyMap<string, readonly WorkspaceFile[] | { readonly error: string }>;
}

/** Workspace files read at once: enough to hide latency on a big roster, few enough to be polite. */
const FILE_CONCURRENCY = 8;

export const agentEntries = (sourceConfig: JsonObject): Record<string, unknown> => {
  const agents = sourceConfig.agents as { entries?: unknown } | undefined;
  const entries = agents?.entries;
  return entries && typeof entries === 'object' && !Array.isArray(entries) ? (entries as Record<string, unknown>) : {};
};

async function readFiles(gw: OpenClawGateway, agentId: string): Promise<readonly WorkspaceFile[] | { error: string }> {
  try {
    const listed = await gw.agentFilesList(agentId);
    const out: WorkspaceFile[] = [];
    for (const f of listed) {
      if (f.missing) continue;
      const file = await gw.agentFileGet(agentId, f.name);
      if (typeof file.content === 'string') out.push({ name: f.name, content: file.content });
    }
    return out;
  } catch (e) {
    // Another operator may delete the agent between config.get and here; the rest still imports.
    if (e instanceof GatewayError && e.code === 'INVALID_REQUEST') return { error: e.message };
    throw e;
  }
}

export async function readLiveState(gw: OpenClawGateway): Promise<LiveState> {
  const config = await gw.configGet();
  const [cronJobs, execApprovals] = await Promise.all([gw.cronList(), gw.execApprovalsGet()]);
  const ids = Object.keys(agentEntries(config.sourceConfig));
  const files = new Map<string, readonly WorkspaceFile[] | { error: string }>();
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++]!;
      files.set(id, await readFiles(gw, id));
    }
  };
  await Promise.all(Array.from({ length: Math.min(FILE_CONCURRENCY, ids.length) }, worker));
  return {
    url: gw.client.url,
    version: gw.version,
    sourceConfig: config.sourceConfig,
    configHash: config.hash,
    cronJobs,
    execApprovals: { file: execApprovals.file, hash: execApprovals.hash },
    files,
  };
}
