/** `clawops status`: every Gateway in the repo at a glance, read-only, a bounded number at a time. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { accessContext, loadValidRepo, selectGateways } from '../../live/fleet-repo.ts';
import { loadDevice } from '../../live/gateway-access.ts';
import { mapLimited } from '../../live/parallel.ts';
import type { ExitCode, Ports } from '../../ports.ts';
import { probeGateway } from '../../status/probe.ts';
import { renderStatus } from '../../status/render.ts';
import { statusReport } from '../../status/report.ts';
import type { CommandContext } from '../program.ts';

export const DEFAULT_PARALLELISM = 8;
export const DEFAULT_TIMEOUT_SECONDS = 10;

export interface StatusOptions {
  readonly repo: string;
  readonly json: boolean;
  readonly identity?: string | undefined;
  readonly gateway?: readonly string[] | undefined;
  readonly timeout: number;
}

export async function runStatus(opts: StatusOptions, ports: Ports): Promise<ExitCode> {
  const repo = await loadValidRepo(opts.repo, 'status');
  const gateways = selectGateways(repo, opts.gateway);
  if (gateways.length === 0) {
    if (opts.json) ports.out.write(JSON.stringify(statusReport([]), null, 2) + '\n');
    else ports.err.write(`no Gateways in ${opts.repo}; add one (see \`clawops init\` for an example)\n`);
    return 0;
  }
  const ctx = await accessContext(repo, opts.identity, ports);
  const device = await loadDevice(ctx);
  const progress = ports.err.isTTY;
  const results = await mapLimited(
    gateways,
    repo.config.spec.defaults?.parallelism ?? DEFAULT_PARALLELISM,
    (gw) => probeGateway(gw, ctx, { device, timeoutMs: opts.timeout * 1000 }),
    progress ? (done, total) => ports.err.write(`\r${done}/${total} gateways…`) : undefined,
  );
  if (progress) ports.err.write('\r\x1b[K');
  const report = statusReport(results);
  ports.out.write(opts.json ? JSON.stringify(report, null, 2) + '\n' : renderStatus(report));
  return report.summary.attention ? 2 : 0;
}

function parseTimeout(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 600) throw new InvalidArgumentError('expected a number of seconds, more than 0 and at most 600.');
  return n;
}

export function registerStatus(program: Command, ctx: CommandContext, repoOption: () => Option, jsonOption: () => Option): void {
  program
    .command('status')
    .description('every Gateway at a glance: reachable, version, agents, config, pending restart, health')
    .addOption(repoOption())
    .addOption(jsonOption())
    .option('--identity <file>', 'age identity file (default: CLAWOPS_AGE_IDENTITY)')
    .option('--gateway <name...>', 'only these Gateways (default: all)')
    .addOption(new Option('--timeout <seconds>', 'per gateway: connecting, and each read').default(DEFAULT_TIMEOUT_SECONDS).argParser(parseTimeout))
    .addHelpText(
      'after',
      `
Connects to each Gateway with the read-only scope (operator.read), ${DEFAULT_PARALLELISM} at a time
(clawops.yaml spec.defaults.parallelism). An unreachable gateway is reported, never fatal.

Exit codes:
  0  every gateway is reachable and healthy
  1  clawops could not run (invalid repo, no age identity, no device key, bad usage)
  2  attention needed: a gateway is unreachable or unhealthy, a read failed, its config file is
     invalid, or a saved config change waits for a restart
A degraded subsystem (e.g. the event loop on a busy host) is shown but does not change the exit code.`,
    )
    .action(async (o: StatusOptions) => {
      ctx.exitCode = await runStatus(o, ctx.ports);
    });
}
