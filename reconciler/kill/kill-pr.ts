/**
 * Git agrees with the kill switch: `kill` opens (or updates) a pull request on
 * `clawops/kill/<agent>` that adds `spec.killed` to the Agent's YAML, edited in place so comments
 * and formatting stay (drift/yaml-edit.ts); `recover` closes that PR when it was never merged, or
 * opens one on `clawops/recover/<agent>` that removes `spec.killed` again. Without GitHub the
 * same edit is described for a person to make.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deleteIn, setIn } from '../drift/yaml-edit.ts';
import { inWorktree } from '../git/worktree.ts';
import { closeBotPr, findBotPr, upsertBotPr, type BotPrResult } from '../github/bot-pr.ts';
import type { GitHubClient } from '../github/client.ts';
import type { LoadedOf } from '../load/resource.ts';

export const KILL_BRANCH_PREFIX = 'clawops/kill/';
export const RECOVER_BRANCH_PREFIX = 'clawops/recover/';

const segment = (name: string): string => name.replace(/[^A-Za-z0-9._-]/g, '-');
export const killBranch = (agent: string): string => `${KILL_BRANCH_PREFIX}${segment(agent)}`;
export const recoverBranch = (agent: string): string => `${RECOVER_BRANCH_PREFIX}${segment(agent)}`;

export interface Killed {
  readonly reason: string;
  readonly by: string;
  readonly at: string;
}

export interface KillPrContext {
  readonly gh: GitHubClient;
  /** The fleet repo's root on disk (the Agent's file is read from here). */
  readonly root: string;
  /** The default branch, and the commit the edit is made on (it must be on GitHub). */
  readonly branch: string;
  readonly head: string;
  /** The fleet repo's folder in the work tree ('' at its root). */
  readonly prefix: string;
}

export type KillPrOutcome = ({ readonly branch: string } & BotPrResult) | { readonly branch: string; readonly action: 'closed'; readonly number: number } | { readonly branch: string; readonly action: 'nothing-to-do'; readonly why: string };

/** The Agent's YAML with `spec.killed` set (or, with `killed` undefined, removed). */
export async function editedAgentYaml(root: string, agent: LoadedOf<'Agent'>, killed: Killed | undefined): Promise<{ before: string; after: string }> {
  const before = await readFile(join(root, agent.file), 'utf8');
  const after = killed ? setIn(before, agent.documentIndex, ['spec', 'killed'], { reason: killed.reason, by: killed.by, at: killed.at }) : deleteIn(before, agent.documentIndex, ['spec', 'killed'], 1);
  return { before, after };
}

export async function syncKillPr(ctx: KillPrContext, agent: LoadedOf<'Agent'>, killed: Killed, gateways: readonly string[]): Promise<KillPrOutcome> {
  const branch = killBranch(agent.name);
  const { after } = await editedAgentYaml(ctx.root, agent, killed);
  const result = await upsertBotPr(ctx.gh, {
    branch,
    base: ctx.branch,
    baseSha: ctx.head,
    title: `clawops: agent ${agent.name} is killed — ${oneLine(killed.reason)}`,
    body: [
      `\`clawops kill\` took agent **${agent.name}** out of service on ${gateways.map((g) => `\`${g}\``).join(', ')}: every tool denied, heartbeat off, routes removed, scheduled runs disabled.`,
      '',
      `- reason: ${killed.reason}`,
      `- by: ${killed.by}`,
      `- at: ${killed.at}`,
      '',
      `**Merge this pull request** so git agrees: it adds \`spec.killed\` to \`${agent.file}\`, and plan, apply and the reconcile loop leave the agent alone. The exact prior config is kept in the state branch; \`clawops recover ${agent.name} --confirm\` puts it back.`,
    ].join('\n'),
    files: { [inWorktree({ prefix: ctx.prefix }, agent.file)]: after },
    message: `Kill agent ${agent.name}\n\n${killed.reason}\n\nKilled by ${killed.by} at ${killed.at}.`,
    meta: { kind: 'kill', agent: agent.name },
  });
  return { branch, ...result };
}

export async function syncRecoverPr(ctx: KillPrContext, agent: LoadedOf<'Agent'>): Promise<KillPrOutcome> {
  const open = await findBotPr(ctx.gh, killBranch(agent.name));
  if (open) {
    await closeBotPr(ctx.gh, open, killBranch(agent.name), `clawops: agent \`${agent.name}\` was recovered (\`clawops recover\`) before this pull request was merged; git never marked it killed. Closing.`);
    return { branch: killBranch(agent.name), action: 'closed', number: open.number };
  }
  if (!agent.value.spec.killed) return { branch: recoverBranch(agent.name), action: 'nothing-to-do', why: `${agent.file} does not mark ${agent.name} killed` };
  const branch = recoverBranch(agent.name);
  const { after } = await editedAgentYaml(ctx.root, agent, undefined);
  const result = await upsertBotPr(ctx.gh, {
    branch,
    base: ctx.branch,
    baseSha: ctx.head,
    title: `clawops: agent ${agent.name} is recovered`,
    body: `\`clawops recover\` put agent **${agent.name}** back exactly as it was before the kill. **Merge this pull request** so git agrees: it removes \`spec.killed\` from \`${agent.file}\`, and clawops manages the agent again.`,
    files: { [inWorktree({ prefix: ctx.prefix }, agent.file)]: after },
    message: `Recover agent ${agent.name}\n\nThe kill switch was released; git manages the agent again.`,
    meta: { kind: 'recover', agent: agent.name },
  });
  return { branch, ...result };
}

/** The edit a person makes when clawops cannot open the pull request itself. */
export function manualEdit(agent: LoadedOf<'Agent'>, killed: Killed | undefined): string {
  if (!killed) return agent.value.spec.killed ? `remove \`spec.killed\` from ${agent.file} (Agent/${agent.name}) and merge it, so clawops manages the agent again\n` : '';
  return [
    `add to ${agent.file} (Agent/${agent.name}), under spec:, and merge it, so git agrees and the loop leaves the agent alone:`,
    '  killed:',
    `    reason: ${JSON.stringify(killed.reason)}`,
    `    by: ${JSON.stringify(killed.by)}`,
    `    at: ${JSON.stringify(killed.at)}`,
    '',
  ].join('\n');
}

const oneLine = (s: string): string => {
  const line = s.replace(/\s+/g, ' ').trim();
  return line.length > 60 ? `${line.slice(0, 57)}…` : line;
};
