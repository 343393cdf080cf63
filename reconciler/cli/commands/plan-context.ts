/** What `plan` and `apply` share: a valid repo, its Gateways, credentials, the state store. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { accessContext, loadValidRepo, selectGateways, type ValidRepo } from '../../live/fleet-repo.ts';
import { loadDevice } from '../../live/gateway-access.ts';
import type { LoadedOf } from '../../load/resource.ts';
import type { PlanContext } from '../../plan/make-plan.ts';
import { inShard, parseShard, type Shard } from '../../live/shard.ts';
import type { Ports } from '../../ports.ts';
import { openState, type OpenedState } from '../../state/open-state.ts';
import { DEFAULT_PARALLELISM } from './status.ts';

export interface LiveCommandOptions {
  readonly repo: string;
  readonly identity?: string | undefined;
  readonly gateway?: readonly string[] | undefined;
  readonly stateDir?: string | undefined;
  readonly timeout: number;
  /** Only the Gateways rendezvous hashing gives this shard (`--shard I/N`). */
  readonly shard?: Shard | undefined;
}

export async function planContext(
  opts: LiveCommandOptions,
  ports: Ports,
  command: string,
): Promise<{ repo: ValidRepo; gateways: Array<LoadedOf<'Gateway'>>; ctx: PlanContext; state: OpenedState }> {
  const repo = await loadValidRepo(opts.repo, command, ports.now());
  const shard = opts.shard;
  const gateways = selectGateways(repo, opts.gateway).filter((g) => !shard || inShard(g.name, shard));
  const access = await accessContext(repo, opts.identity, ports);
  const device = await loadDevice(access);
  const state = await openState({
    root: repo.root,
    config: repo.config,
    env: ports.env,
    explicitDir: opts.stateDir ?? ports.env.CLAWOPS_STATE_DIR,
    redactor: ports.redactor,
    identities: async () => access.identities,
    now: ports.now,
  });
  const progress = ports.err.isTTY;
  return {
    repo,
    gateways,
    state,
    ctx: {
      repo,
      access,
      device,
      store: state.store,
      parallelism: repo.config.spec.defaults?.parallelism ?? DEFAULT_PARALLELISM,
      timeoutMs: opts.timeout * 1000,
      now: ports.now,
      ...(progress ? { onProgress: (done: number, total: number) => ports.err.write(`\r${done}/${total} gateways…${done === total ? '\r\x1b[K' : ''}`) } : {}),
    },
  };
}

function parseShardOption(value: string): Shard {
  const s = parseShard(value);
  if ('error' in s) throw new InvalidArgumentError(`${s.error}.`);
  return s;
}

function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 600) throw new InvalidArgumentError('expected a number of seconds, more than 0 and at most 600.');
  return n;
}

export function addLiveOptions(c: Command, repoOption: () => Option): Command {
  return c
    .addOption(repoOption())
    .option('--identity <file>', 'age identity file (default: CLAWOPS_AGE_IDENTITY)')
    .option('--gateway <name...>', 'only these Gateways (default: all)')
    .option('--shard <I/N>', 'only the Gateways of shard I of N (rendezvous hashing on their names; run N of these side by side)', parseShardOption)
    .option('--state-dir <dir>', 'keep state and the audit branch in this folder instead of the repo\'s git (default: CLAWOPS_STATE_DIR, else the repo\'s clawops/audit branch)')
    .addOption(new Option('--timeout <seconds>', 'per gateway: connecting').default(10).argParser(parseSeconds));
}
