/**
 * `clawops plan`: what would change on which gateway, how risky, and which YAML caused it.
 * Read-only on the gateways; `--out` saves the plan (JSON, live hashes included) for `apply FILE`.
 */
import { writeFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { makePlan } from '../../plan/make-plan.ts';
import type { Plan } from '../../plan/plan.ts';
import { renderPlanJson } from '../../plan/render/json.ts';
import { renderPlanMarkdown } from '../../plan/render/markdown.ts';
import { renderPlanText } from '../../plan/render/text.ts';
import type { ExitCode, Ports } from '../../ports.ts';
import type { CommandContext } from '../program.ts';
import { addLiveOptions, planContext, type LiveCommandOptions } from './plan-context.ts';

export const FORMATS = ['text', 'markdown', 'json'] as const;
export type PlanFormat = (typeof FORMATS)[number];

export interface PlanOptions extends LiveCommandOptions {
  readonly out?: string | undefined;
  readonly format: PlanFormat;
  readonly detailedExitcode: boolean;
  /** Fall back to the state branch's live snapshot for unreachable gateways (`--no-snapshot` turns it off). */
  readonly snapshot: boolean;
}

export function renderPlan(plan: Plan, format: PlanFormat, ports: Ports): string {
  if (format === 'json') return renderPlanJson(plan);
  if (format === 'markdown') return renderPlanMarkdown(plan);
  return renderPlanText(plan, { color: ports.out.isTTY && !ports.env.NO_COLOR });
}

export async function runPlan(opts: PlanOptions, ports: Ports): Promise<ExitCode> {
  const { gateways, ctx } = await planContext(opts, ports, 'plan');
  const plan = await makePlan(gateways, { ...ctx, snapshotFallback: opts.snapshot });
  ports.out.write(renderPlan(plan, opts.format, ports));
  if (opts.out) {
    await writeFile(opts.out, renderPlanJson(plan));
    ports.err.write(`saved the plan to ${opts.out}; apply exactly it with \`clawops apply ${opts.out}\`\n`);
  }
  if (plan.summary.gatewaysWithErrors > 0) return 1;
  return opts.detailedExitcode && plan.summary.gatewaysWithChanges + plan.gateways.filter((g) => g.operations.deleteAgents.length).length > 0 ? 2 : 0;
}

export function registerPlan(program: Command, ctx: CommandContext, repoOption: () => Option): void {
  addLiveOptions(
    program
      .command('plan')
      .description('show what apply would change on each gateway, with risk and the YAML behind each change (exit 0; 1 on errors; with --detailed-exitcode 2 when there are changes)'),
    repoOption,
  )
    .option('--out <file>', 'also save the plan as JSON for `clawops apply FILE`')
    .addOption(new Option('--format <format>', 'output format').choices([...FORMATS]).default('text'))
    .option('--detailed-exitcode', 'exit 2 when there are changes', false)
    .option('--no-snapshot', 'fail for an unreachable gateway instead of planning against its last live snapshot from the state branch')
    .action(async (o: PlanOptions) => {
      ctx.exitCode = await runPlan(o, ctx.ports);
    });
}
