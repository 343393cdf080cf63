/**
 * Drift pull requests (DESIGN §3, `propose`): one per gateway on branch `clawops/drift/<gateway>`,
 * editing the fleet repo's YAML so git says what live says (comments, key order and formatting
 * kept, drift/adopt-yaml.ts). The same PR is updated in place as the drift changes, left alone once
 * a person pushed to it, rate-limited with clawops' other PRs, and closed with a comment when the
 * drift is gone.
 */
import type { FleetRepo } from '../load/load-repo.ts';
import { inWorktree } from '../git/worktree.ts';
import { adoptDrift } from '../drift/adopt-yaml.ts';
import type { DriftView } from '../drift/render.ts';
import { renderDriftMarkdown } from '../drift/render.ts';
import { closeBotPr, findBotPr, upsertBotPr, type BotPrLimits, type BotPrResult } from './bot-pr.ts';
import type { GitHubClient } from './client.ts';
import { explainGitHubError } from './errors.ts';

export const DRIFT_BRANCH_PREFIX = 'clawops/drift/';

/** A gateway name as a branch name segment (git refuses some characters). */
export const driftBranch = (target: string): string => `${DRIFT_BRANCH_PREFIX}${target.replace(/[^A-Za-z0-9._-]/g, '-')}`;

export interface DriftPrContext {
  readonly gh: GitHubClient;
  readonly repo: FleetRepo;
  /** The default branch and the commit the edit is made on. */
  readonly branch: string;
  readonly head: string;
  readonly prefix: string;
  readonly limits?: BotPrLimits;
  readonly now: Date;
}

export type DriftPrOutcome =
  | { readonly target: string; readonly action: 'closed'; readonly number: number }
  | { readonly target: string; readonly action: 'nothing-to-adopt'; readonly why: string }
  | ({ readonly target: string } & BotPrResult);

/** Opens, updates or closes the drift PR of one gateway. */
export async function syncDriftPr(view: DriftView, ctx: DriftPrContext): Promise<DriftPrOutcome | undefined> {
  const target = view.report.target;
  const branch = driftBranch(target);
  if (view.report.items.length === 0) {
    const open = await findBotPr(ctx.gh, branch);
    if (!open) return undefined;
    await closeBotPr(ctx.gh, open, branch, `clawops: the drift on \`${target}\` is gone — live matches git again (checked ${ctx.now.toISOString()}). Closing this pull request.`);
    return { target, action: 'closed', number: open.number };
  }
  const adopted = await adoptDrift(ctx.repo, view.report);
  if (adopted.files.size === 0) {
    return { target, action: 'nothing-to-adopt', why: adopted.skipped.map((s) => `${s.item.path}: ${s.why}`).join('; ') || 'no YAML to change' };
  }
  const files = Object.fromEntries([...adopted.files].map(([path, content]) => [inWorktree({ prefix: ctx.prefix }, path), content]));
  const body = [
    renderDriftMarkdown([view], { skipped: adopted.skipped }),
    `Someone changed \`${target}\` outside git. **Merging this pull request makes git agree with live.** To undo the live edit instead, close it: the next apply puts git's values back. clawops updates this pull request while the drift changes and closes it when the drift is gone.`,
  ].join('\n');
  const result = await upsertBotPr(
    ctx.gh,
    {
      branch,
      base: ctx.branch,
      baseSha: ctx.head,
      title: `clawops: adopt drift on ${target} (${view.report.items.length} field${view.report.items.length === 1 ? '' : 's'} changed outside git)`,
      body,
      files,
      message: `Adopt drift on ${target}\n\nLive was changed outside git; this makes the YAML match it:\n${adopted.adopted.map((a) => `- ${a.resource ?? a.agentId} ${a.path}`).join('\n')}`,
      meta: { kind: 'drift', target },
      limitedAs: DRIFT_BRANCH_PREFIX,
    },
    ctx.limits,
  );
  return { target, ...result };
}

/**
 * When a person last closed this gateway's drift PR without merging it (the PR body says closing
 * means "put git's values back"), or undefined. clawops' own closings happen only when the drift is
 * gone, so drift seen before this time was rejected.
 */
export async function driftPrRejectedAt(gh: GitHubClient, target: string): Promise<Date | undefined> {
  const { octokit, owner, repo } = gh;
  const branch = driftBranch(target);
  try {
    const { data } = await octokit.rest.pulls.list({ owner, repo, state: 'closed', head: `${owner}:${branch}`, sort: 'updated', direction: 'desc', per_page: 5 });
    const last = data.filter((p) => p.head.ref === branch && p.closed_at).sort((a, b) => Date.parse(b.closed_at!) - Date.parse(a.closed_at!))[0];
    return last && !last.merged_at ? new Date(last.closed_at!) : undefined;
  } catch (e) {
    throw explainGitHubError(e, `looking for closed drift pull requests of ${branch}`, gh);
  }
}
