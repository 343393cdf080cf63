/**
 * The `clawops` command line: one verb per job (DESIGN §9). Commands return an exit code; only
 * main.ts touches `process`. Bad usage and faults print one clear line, never a stack trace.
 */
import { Command, CommanderError, Option } from 'commander';
import { ClawopsError } from '../errors.ts';
import { GatewayError, GatewayTransportError } from '../../fleet/openclaw/errors.ts';
import { explainGatewayError } from '../live/explain-gateway-error.ts';
import type { ExitCode, Ports } from '../ports.ts';
import { RepoNotFoundError } from '../load/load-repo.ts';
import { runValidate } from './commands/validate.ts';
import { runInit } from './commands/init.ts';
import { registerSecrets } from './commands/secrets.ts';
import { registerStatus } from './commands/status.ts';
import { registerImport } from './commands/import.ts';
import { registerGateway } from './commands/gateway.ts';
import { registerPlan } from './commands/plan.ts';
import { registerApply } from './commands/apply.ts';
import { registerPolicy } from './commands/policy.ts';
import { registerAudit } from './commands/audit.ts';
import { registerDrift } from './commands/drift.ts';
import { registerKill } from './commands/kill.ts';
import { registerRollback } from './commands/rollback.ts';
import { registerReconcile } from './commands/reconcile.ts';
import { CLAWOPS_VERSION } from '../version.ts';

export interface CommandContext {
  readonly ports: Ports;
  /** Set by the action that ran; commander itself only parses. */
  exitCode: ExitCode;
}

const repoOption = () => new Option('--repo <dir>', 'the fleet repo').default('.');
const jsonOption = () => new Option('--json', 'machine-readable output on stdout').default(false);

export function buildProgram(ctx: CommandContext): Command {
  const { ports } = ctx;
  const program = new Command('clawops')
    .description('GitOps, policy-as-code reconciler for OpenClaw gateway fleets and agent runtimes')
    .version(CLAWOPS_VERSION, '-V, --version')
    .showSuggestionAfterError(true);

  program
    .command('validate')
    .description('check every resource in the fleet repo; exit 0 valid, 1 invalid, 2 could not run')
    .addOption(repoOption())
    .addOption(jsonOption())
    .action(async (o: { repo: string; json: boolean }) => {
      ctx.exitCode = await runValidate({ repo: o.repo, json: o.json }, ports);
    });

  program
    .command('init')
    .description('scaffold a fleet repo that validates clean (refuses to overwrite)')
    .argument('[dir]', 'where to create it', '.')
    .action(async (dir: string) => {
      ctx.exitCode = await runInit({ dir }, ports);
    });

  registerSecrets(program, ctx, repoOption, jsonOption);
  registerStatus(program, ctx, repoOption, jsonOption);
  registerGateway(program, ctx, repoOption, jsonOption);
  registerImport(program, ctx, repoOption, jsonOption);
  registerPlan(program, ctx, repoOption);
  registerApply(program, ctx, repoOption, jsonOption);
  registerDrift(program, ctx, repoOption, jsonOption);
  registerReconcile(program, ctx, repoOption, jsonOption);
  registerRollback(program, ctx, repoOption, jsonOption);
  registerPolicy(program, ctx, repoOption, jsonOption);
  registerAudit(program, ctx, repoOption, jsonOption);
  registerKill(program, ctx, repoOption, jsonOption);

  routeOutput(program, ports);
  return program;
}

/** Every command, nested ones too, throws instead of exiting and prints through the redacting ports. */
function routeOutput(command: Command, ports: Ports): void {
  command.exitOverride().configureOutput({ writeOut: (s) => ports.out.write(s), writeErr: (s) => ports.err.write(s) });
  for (const c of command.commands) routeOutput(c, ports);
}

/** Maps anything thrown to an exit code and one readable line on stderr. */
export function exitCodeFor(e: unknown, ports: Ports): ExitCode {
  if (e instanceof CommanderError) {
    // commander already printed its message (or help / version, which exit 0).
    return e.exitCode === 0 ? 0 : 1;
  }
  if (e instanceof RepoNotFoundError) {
    ports.err.write(`clawops: ${e.message}\n`);
    return 2;
  }
  if (e instanceof GatewayError || e instanceof GatewayTransportError) {
    // A gateway fault that no command handled itself: say which call and how to fix it.
    ports.err.write(`clawops: ${explainGatewayError(e, 'the gateway').message}\n`);
    return 1;
  }
  if (e instanceof ClawopsError) {
    ports.err.write(`clawops: ${e.message}\n`);
    const code = (e.data as { exitCode?: unknown }).exitCode;
    return code === 2 ? 2 : 1;
  }
  const detail = ports.env.CLAWOPS_DEBUG && e instanceof Error ? `\n${e.stack ?? ''}` : '';
  ports.err.write(`clawops: internal error: ${e instanceof Error ? e.message : String(e)}${detail}\n(this is a bug in clawops; set CLAWOPS_DEBUG=1 for details and report it)\n`);
  return 1;
}

export async function runCli(argv: readonly string[], ports: Ports): Promise<ExitCode> {
  const ctx: CommandContext = { ports, exitCode: 0 };
  try {
    await buildProgram(ctx).parseAsync([...argv], { from: 'user' });
    return ctx.exitCode;
  } catch (e) {
    return exitCodeFor(e, ports);
  }
}
