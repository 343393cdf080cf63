/** `clawops gateway pair NAME`: give clawops a device identity the gateway knows (DESIGN §8). */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { accessContext, loadValidRepo, selectGateways } from '../../live/fleet-repo.ts';
import { DEVICE_KEY_SECRET } from '../../live/gateway-access.ts';
import { pairGateway, type PairResult } from '../../live/pair.ts';
import type { ExitCode, Ports } from '../../ports.ts';
import type { CommandContext } from '../program.ts';

export interface PairCommandOptions {
  readonly repo: string;
  readonly json: boolean;
  readonly identity?: string | undefined;
  readonly timeout: number;
}

export function renderPair(r: PairResult, recipients: number): string {
  const lines = [
    `gateway     ${r.gateway} (${r.url})`,
    `device id   ${r.device.id}`,
    `public key  ${r.device.publicKey}`,
    `requests    role operator, scopes ${r.requestedScopes.join(', ')}`,
  ];
  if (r.deviceKey === 'created') lines.push(`✓ created clawops' device key: secrets/${DEVICE_KEY_SECRET}.age (encrypted to ${recipients} recipient${recipients === 1 ? '' : 's'}; commit it)`);
  if (r.status === 'pending-approval') {
    lines.push(
      `… ${r.gateway} has not approved this device yet. On the gateway's host, its operator checks that the`,
      `  request shows device id ${r.device.id.slice(0, 16)}… and approves it:`,
      `    ${r.approveCommand ?? ''}`,
      `  then run \`clawops gateway pair ${r.gateway}\` again to finish.`,
    );
  } else {
    lines.push(`✓ paired with ${r.gateway}; granted ${r.grantedScopes?.length ? r.grantedScopes.join(', ') : 'no scopes'}`);
    lines.push(`✓ stored the device token: secrets/${r.deviceTokenSecret ?? ''}.age`);
    if (r.updatedFile) lines.push(`✓ ${r.updatedFile}: added spec.auth.deviceToken { secretRef: ${r.deviceTokenSecret ?? ''} }`);
    const missing = r.requestedScopes.filter((s) => !r.grantedScopes?.includes(s));
    if (missing.length) lines.push(`! ${r.gateway} did not grant ${missing.join(', ')}; commands that change the gateway will be refused`);
  }
  return lines.map((l) => l + '\n').join('');
}

export async function runGatewayPair(name: string, opts: PairCommandOptions, ports: Ports): Promise<ExitCode> {
  const repo = await loadValidRepo(opts.repo, 'gateway pair');
  const [gw] = selectGateways(repo, [name]);
  const ctx = await accessContext(repo, opts.identity, ports);
  const recipients = repo.config.spec.secrets.recipients;
  const result = await pairGateway(gw!, ctx, { recipients, timeoutMs: opts.timeout * 1000 });
  ports.out.write(opts.json ? JSON.stringify({ formatVersion: 1, ...result }, null, 2) + '\n' : renderPair(result, recipients.length));
  return result.status === 'paired' ? 0 : 2;
}

function parseTimeout(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 600) throw new InvalidArgumentError('expected a number of seconds, more than 0 and at most 600.');
  return n;
}

export function registerGateway(program: Command, ctx: CommandContext, repoOption: () => Option, jsonOption: () => Option): void {
  const gateway = program.command('gateway').description('work with one Gateway');
  gateway
    .command('pair')
    .description("pair clawops' device with a Gateway and keep the device token it issues")
    .argument('<name>', 'the Gateway resource (metadata.name)')
    .addOption(repoOption())
    .addOption(jsonOption())
    .option('--identity <file>', 'age identity file (default: CLAWOPS_AGE_IDENTITY)')
    .addOption(new Option('--timeout <seconds>', 'for connecting to the gateway').default(30).argParser(parseTimeout))
    .addHelpText(
      'after',
      `
Creates clawops' device key (secrets/${DEVICE_KEY_SECRET}.age) when there is none and
CLAWOPS_DEVICE_KEY is not set, connects with the Gateway's shared token asking for operator.admin,
stores the issued device token as the secret <NAME>-device-token and references it from the
Gateway's YAML (spec.auth.deviceToken). A loopback gateway approves the device at once; any other
gateway's operator must approve it first (the command prints what to run there).

Exit codes: 0 paired, 1 error, 2 pending approval (run the command again once approved).`,
    )
    .action(async (name: string, o: PairCommandOptions) => {
      ctx.exitCode = await runGatewayPair(name, o, ctx.ports);
    });
}
