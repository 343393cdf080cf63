/**
 * The GitHub Action (actions/action.yml, bundled to actions/dist/index.js): one entry, four
 * commands, everything else from the workflow's environment.
 *
 * - `validate`: the CLI's validate; on a pull request also a check run annotating every error.
 * - `plan`: on a pull request (or a review of one), the sticky plan comment and the check run
 *   (pr-plan.ts); elsewhere the Markdown plan in the job summary.
 * - `apply`: the CLI's `apply --auto-approve`, which checks approvals on GitHub, holds what lacks
 *   them and opens approval PRs. A hold is not a failed job: it ends with a warning.
 * - `reconcile`: one `clawops reconcile --once` (of one shard with the `shard` input): apply what is
 *   approved, drift per its mode (drift PRs), approval PRs. The checkout is fresh, so no pull.
 *
 * Inputs arrive as INPUT_<NAME> variables (the runner keeps hyphens: INPUT_REPO-PATH), outputs
 * go to $GITHUB_OUTPUT, a report to $GITHUB_STEP_SUMMARY. Secrets come in as env.
 */
import { randomUUID } from 'node:crypto';
import { appendFile, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { runCli } from '../cli/program.ts';
import { isError } from '../diagnostics/diagnostic.ts';
import { ClawopsError } from '../errors.ts';
import { loadRepo } from '../load/load-repo.ts';
import { findWorktree } from '../git/worktree.ts';
import { makePlan } from '../plan/make-plan.ts';
import { renderPlanMarkdown } from '../plan/render/markdown.ts';
import type { ExitCode, Output, Ports } from '../ports.ts';
import { planContext } from '../cli/commands/plan-context.ts';
import { annotationsFor } from './annotations.ts';
import { publishCheckRun } from './check-run.ts';
import { connectGitHub } from './client.ts';
import { publishPullRequestPlan } from './pr-plan.ts';
import { ApproverDirectory } from './approver-directory.ts';

export const ACTION_COMMANDS = ['validate', 'plan', 'apply', 'reconcile'] as const;
export type ActionCommand = (typeof ACTION_COMMANDS)[number];

interface PullRequestEvent {
  readonly number: number;
  readonly headSha: string;
}

const input = (env: Ports['env'], name: string): string | undefined => env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`]?.trim() || undefined;

async function pullRequestOf(env: Ports['env']): Promise<PullRequestEvent | undefined> {
  if (!env.GITHUB_EVENT_PATH) return undefined;
  const event = JSON.parse(await readFile(env.GITHUB_EVENT_PATH, 'utf8')) as { pull_request?: { number?: number; head?: { sha?: string } } };
  const pr = event.pull_request;
  return pr?.number && pr.head?.sha ? { number: pr.number, headSha: pr.head.sha } : undefined;
}

/** The ref a push event pushed and the repository's default branch, when the event says both. */
async function pushedBranch(env: Ports['env']): Promise<{ ref: string; defaultBranch: string } | undefined> {
  if (env.GITHUB_EVENT_NAME !== 'push' || !env.GITHUB_EVENT_PATH) return undefined;
  const event = JSON.parse(await readFile(env.GITHUB_EVENT_PATH, 'utf8')) as { ref?: string; repository?: { default_branch?: string } };
  return event.ref && event.repository?.default_branch ? { ref: event.ref, defaultBranch: event.repository.default_branch } : undefined;
}

/** Tees what a command prints, for the job summary. */
function capture(ports: Ports): { ports: Ports; text: () => string } {
  let text = '';
  const tee = (o: Output): Output => ({ isTTY: false, write: (s) => (o.write(s), (text += ports.redactor.redact(s))) });
  return { ports: { ...ports, out: tee(ports.out), err: tee(ports.err) }, text: () => text };
}

async function setOutputs(env: Ports['env'], values: Record<string, string>): Promise<void> {
  if (!env.GITHUB_OUTPUT) return;
  // The runner's heredoc form: safe for any value, multi-line included.
  const blocks = Object.entries(values).map(([k, v]) => {
    const delimiter = `ghadelimiter_${randomUUID()}`;
    return `${k}<<${delimiter}\n${v}\n${delimiter}\n`;
  });
  await appendFile(env.GITHUB_OUTPUT, blocks.join(''));
}

async function summary(env: Ports['env'], markdown: string): Promise<void> {
  if (env.GITHUB_STEP_SUMMARY) await appendFile(env.GITHUB_STEP_SUMMARY, markdown.endsWith('\n') ? markdown : `${markdown}\n`);
}

const fenced = (title: string, text: string) => `### ${title}\n\n\`\`\`text\n${text.replace(/```/g, '`\u200b``')}\n\`\`\`\n`;

export async function runAction(ports: Ports): Promise<ExitCode> {
  const { env } = ports;
  const command = input(env, 'command') ?? 'plan';
  if (!(ACTION_COMMANDS as readonly string[]).includes(command)) {
    ports.err.write(`::error::clawops: input "command" must be one of ${ACTION_COMMANDS.join(', ')}; got "${command}"\n`);
    return 1;
  }
  const workspace = env.GITHUB_WORKSPACE ?? ports.cwd;
  const repoDir = resolve(workspace, input(env, 'repo-path') ?? '.');
  try {
    const code = await dispatch(command as ActionCommand, repoDir, ports);
    await setOutputs(env, { 'exit-code': String(code) });
    return code;
  } catch (e) {
    const message = ports.redactor.redact(e instanceof Error ? e.message : String(e));
    ports.err.write(`::error::clawops ${command}: ${message.replace(/\r?\n/g, '%0A')}\n`);
    if (!(e instanceof ClawopsError) && env.CLAWOPS_DEBUG && e instanceof Error) ports.err.write(`${e.stack ?? ''}\n`);
    await setOutputs(env, { 'exit-code': '1' });
    return 1;
  }
}

async function dispatch(command: ActionCommand, repoDir: string, ports: Ports): Promise<ExitCode> {
  const { env } = ports;
  const pr = await pullRequestOf(env);
  const runUrl = env.GITHUB_RUN_ID && env.GITHUB_REPOSITORY ? `${env.GITHUB_SERVER_URL ?? 'https://github.com'}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}` : undefined;
  const prefix = (await findWorktree(repoDir))?.prefix ?? '';

  if (command === 'validate') {
    const out = capture(ports);
    const code = await runCli(['validate', '--repo', repoDir], out.ports);
    if (pr) {
      const repo = await loadRepo(repoDir, { now: ports.now() });
      const errors = repo.diagnostics.filter(isError).length;
      const gh = await connectGitHub({ env, redactor: ports.redactor, ...(repo.config?.spec.github ? { github: repo.config.spec.github } : {}) });
      await publishCheckRun(gh, {
        name: 'clawops validate',
        headSha: pr.headSha,
        conclusion: errors ? 'failure' : 'success',
        title: errors ? `${errors} validation error${errors === 1 ? '' : 's'}` : `${repo.resources.length} resources valid`,
        summary: out.text() ? fenced('clawops validate', out.text()) : 'No problems found.',
        annotations: annotationsFor({ diagnostics: repo.diagnostics, pathPrefix: prefix }),
      });
    }
    await summary(env, fenced('clawops validate', out.text() || 'valid'));
    return code;
  }

  if (command === 'plan') {
    if (!pr) {
      const { gateways, ctx } = await planContext({ repo: repoDir, timeout: 10 }, ports, 'plan');
      const plan = await makePlan(gateways, { ...ctx, snapshotFallback: true });
      const markdown = renderPlanMarkdown(plan);
      ports.out.write(markdown);
      await summary(env, markdown);
      return plan.summary.gatewaysWithErrors ? 1 : 0;
    }
    const loaded = await loadRepo(repoDir, { now: ports.now() });
    const invalid = loaded.diagnostics.some(isError) || !loaded.config;
    const gh = await connectGitHub({ env, redactor: ports.redactor, ...(loaded.config?.spec.github ? { github: loaded.config.spec.github } : {}) });
    let result;
    if (invalid) {
      result = await publishPullRequestPlan({ gh, pr: pr.number, headSha: pr.headSha, pathPrefix: prefix, diagnostics: loaded.diagnostics, ...(runUrl ? { runUrl } : {}) });
    } else {
      const { repo, gateways, ctx } = await planContext({ repo: repoDir, timeout: 10 }, ports, 'plan');
      const plan = await makePlan(gateways, { ...ctx, snapshotFallback: true });
      result = await publishPullRequestPlan({
        gh,
        pr: pr.number,
        headSha: pr.headSha,
        pathPrefix: prefix,
        diagnostics: repo.diagnostics,
        plan,
        repo,
        directory: new ApproverDirectory(gh, repo.config.spec.approvers ?? {}),
        ...(runUrl ? { runUrl } : {}),
      });
    }
    ports.out.write(`clawops plan: ${result.title} — comment ${result.comment.action} ${result.comment.url}, check ${result.check.action} ${result.check.url}\n`);
    await setOutputs(env, { 'comment-url': result.comment.url, 'check-url': result.check.url, conclusion: result.conclusion });
    await summary(env, result.markdown);
    return result.conclusion === 'failure' ? 1 : 0;
  }

  if (command === 'apply') {
    const branch = await pushedBranch(env);
    // A push to any other branch is not what was reviewed and merged: refuse rather than apply it.
    if (branch && branch.ref !== `refs/heads/${branch.defaultBranch}`) {
      ports.err.write(`::error::clawops apply runs on pushes to ${branch.defaultBranch}; this is a push to ${branch.ref}. Limit the workflow with \`on: push: branches: [${branch.defaultBranch}]\`\n`);
      return 1;
    }
  }
  const shard = input(env, 'shard');
  if (shard && command !== 'reconcile') {
    ports.err.write(`::error::clawops ${command}: the "shard" input is for \`reconcile\` (a matrix of scheduled runs); remove it from this step\n`);
    return 1;
  }
  const out = capture(ports);
  const argv = command === 'apply' ? ['apply', '--auto-approve', '--repo', repoDir] : ['reconcile', '--once', '--no-pull', '--repo', repoDir, ...(shard ? ['--shard', shard] : [])];
  const code = await runCli(argv, out.ports);
  await summary(env, fenced(`clawops ${command}`, out.text()));
  if (code === 2) {
    // Held changes and drift are states to act on, not a broken job: the report says what to do.
    ports.err.write(`::warning::clawops ${command}: ${command === 'apply' ? 'changes are held for approval (see the approval pull requests)' : 'drift or held changes remain (see the drift and approval pull requests)'}\n`);
    await setOutputs(env, { result: command === 'apply' ? 'held' : 'drift' });
    return 0;
  }
  return code;
}
