/**
 * Everything the planner compares, read from one gateway in one go: the authored config with
 * its hash, the exec-approvals document with its hash, the cron jobs, and the managed workspace
 * files with their hashes.
 */
import { GatewayError } from '../../fleet/openclaw/errors.ts';
import { agentEntries, type ConfigSnapshot, type CronJob, type ExecApprovalsSnapshot, type OpenClawGateway } from '../../fleet/openclaw/gateway-api.ts';

export interface LiveFile {
  readonly hash: string;
  readonly content: string;
}

export interface LiveGateway {
  readonly version: string;
  readonly config: ConfigSnapshot;
  readonly execApprovals: ExecApprovalsSnapshot;
  readonly cron: readonly CronJob[];
  /** `agentId/NAME` → the file, or null when the agent or the file does not exist. */
  readonly files: ReadonlyMap<string, LiveFile | null>;
}

export const fileKey = (agentId: string, name: string): string => `${agentId}/${name}`;

export async function readLive(gw: OpenClawGateway, files: ReadonlyArray<{ agentId: string; name: string }>): Promise<LiveGateway> {
  const [config, execApprovals, cron] = await Promise.all([gw.configGet(), gw.execApprovalsGet(), gw.cronList()]);
  const entries = agentEntries(config);
  const out = new Map<string, LiveFile | null>();
  await Promise.all(
    files.map(async ({ agentId, name }) => {
      if (!(agentId in entries)) return void out.set(fileKey(agentId, name), null);
      try {
        const f = await gw.agentFileGet(agentId, name);
        out.set(fileKey(agentId, name), f.missing || f.hash === undefined ? null : { hash: f.hash, content: f.content ?? '' });
      } catch (e) {
        // Deleted by someone else between config.get and here: the same as not there.
        if (e instanceof GatewayError && /not found/i.test(e.message)) return void out.set(fileKey(agentId, name), null);
        throw e;
      }
    }),
  );
  return { version: gw.version, config, execApprovals, cron, files: out };
}
