/**
 * Approval pull requests (DESIGN §5): a change set that reached the main branch without its
 * approvals is held, and clawops opens one pull request per held set that adds its entry to
 * `approvals/ledger.yaml` and asks the required reviewers. Merged with their approvals, the entry
 * releases the hold on the next apply (change-approvals.ts). One PR per set, found again by its
 * branch `clawops/approval/<id>`; a PR whose set is no longer held (applied, edited, withdrawn)
 * is closed with a comment.
 */
import type { HeldChangeSet } from '../apply/apply-fleet.ts';
import { inWorktree } from '../git/worktree.ts';
import { missingApprovals } from '../policy/approvals.ts';
import { withEntry, type LedgerEntry, LEDGER_FILE } from '../policy/ledger.ts';
import { codeSpan } from '../plan/render/markdown-escape.ts';
import type { ApproverDirectory } from './approver-directory.ts';
import { closeBotPr, listBotPrs, upsertBotPr, type BotPrResult } from './bot-pr.ts';
import type { GitHubClient } from './client.ts';

export const APPROVAL_BRANCH_PREFIX = 'clawops/approval/';

export interface ApprovalPrContext {
  readonly gh: GitHubClient;
  readonly directory: ApproverDirectory;
  /** The default branch and the desired commit (the PR's base). */
  readonly branch: string;
  readonly head: string;
  /** The fleet repo's folder in the work tree ('' at the root). */
  readonly prefix: string;
  /** The ledger file's text at `head` (undefined when there is none yet). */
  readonly ledgerText: string | undefined;
  /** Entry ids already in the ledger at `head`. */
  readonly ledgerIds: ReadonlySet<string>;
  readonly now: Date;
}

export interface ApprovalPrOutcome {
  readonly set: Pick<HeldChangeSet, 'gateway' | 'agentId' | 'id'>;
  readonly result?: BotPrResult;
  /** Set when no PR could be opened for it, and why. */
  readonly problem?: string;
}

const describe = (s: HeldChangeSet) => s.changes.map((c) => `${c.resource} ${c.path} (${c.action})`);

function entryFor(set: HeldChangeSet, ctx: ApprovalPrContext): LedgerEntry {
  const gated = set.changes.filter((c) => c.verdict.effect === 'require-approval');
  const requirements = new Map<string, string>();
  for (const c of gated) {
    for (const a of c.verdict.approvals) requirements.set(a.rule, `${a.count} from ${[...(a.teams ?? []), ...(a.users ?? []).map((u) => `@${u}`)].join(' or ') || 'anyone but the author'}`);
  }
  return {
    id: set.id,
    gateway: set.gateway,
    agent: set.agentId,
    changes: describe(set),
    rules: [...requirements.keys()],
    approvers: [...new Set(requirements.values())],
    commits: [...set.commits],
    requestedAt: ctx.now.toISOString(),
  };
}

/** Teams (slugs in the repo's org) and users to ask for the reviews the set needs. */
function reviewersFor(set: HeldChangeSet, ctx: ApprovalPrContext): { users: string[]; teams: string[] } {
  const users = new Set<string>();
  const teams = new Set<string>();
  for (const c of set.changes) {
    for (const a of c.verdict.approvals) {
      for (const u of a.users ?? []) users.add(u);
      for (const g of a.teams ?? []) {
        const team = ctx.directory.team(g);
        if (team && team.org.toLowerCase() === ctx.gh.owner.toLowerCase()) teams.add(team.slug);
        for (const u of ctx.directory.users(g)) users.add(u);
      }
    }
  }
  return { users: [...users], teams: [...teams] };
}

function bodyFor(set: HeldChangeSet, entry: LedgerEntry): string {
  const gated = set.changes.filter((c) => c.verdict.effect === 'require-approval');
  const missing = [...new Set(gated.flatMap((c) => missingApprovals(c.verdict, set.evidence)))];
  const rows = set.changes.map((c) => `| ${codeSpan(c.resource)} | ${codeSpan(c.path)} | ${c.action} | ${c.risk} | ${c.verdict.effect === 'require-approval' ? c.verdict.rules.map((r) => codeSpan(r.rule)).join(', ') : 'held with the set'} |`);
  return [
    `### Held: ${set.changes.length} change(s) to agent ${codeSpan(set.agentId)} on ${codeSpan(set.gateway)}`,
    '',
    `These changes reached the main branch without the approvals policy asks for, so clawops did not apply them. **Merging this pull request with the reviews below releases them** on the next apply; closing it leaves them held.`,
    '',
    '| Resource | Path | Action | Risk | Rules |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `**Needs:** ${entry.approvers.join('; ') || '(see the rules)'}`,
    ...(missing.length ? ['', `**Missing now:** ${missing.join('; ')}`] : []),
    ...(set.commits.length ? ['', `**Brought by:** ${set.commits.map((c) => codeSpan(c.slice(0, 12))).join(', ')}`] : []),
    '',
    `Change set ${codeSpan(set.id)}. Reviews count only from members of the required groups, not from the author of this pull request or of its commits, and only on its final head commit.`,
  ].join('\n');
}

/**
 * Opens (or keeps) one approval PR per held set, and closes clawops' approval PRs for sets of the
 * processed gateways that are no longer held.
 */
export async function syncApprovalPrs(held: readonly HeldChangeSet[], processedGateways: ReadonlySet<string>, ctx: ApprovalPrContext): Promise<ApprovalPrOutcome[]> {
  const out: ApprovalPrOutcome[] = [];
  for (const set of held) {
    const identity = { gateway: set.gateway, agentId: set.agentId, id: set.id };
    if (ctx.ledgerIds.has(set.id)) {
      // Merged already, but its reviews did not meet the rules: a second entry with the same id would prove nothing new.
      out.push({ set: identity, problem: `approvals/ledger.yaml already has entry ${set.id}, but the pull request that added it lacks the required approvals; revert that entry so clawops can ask again` });
      continue;
    }
    const entry = entryFor(set, ctx);
    const result = await upsertBotPr(ctx.gh, {
      branch: `${APPROVAL_BRANCH_PREFIX}${set.id}`,
      base: ctx.branch,
      baseSha: ctx.head,
      title: `clawops: approve ${set.changes.length} held change(s) to ${set.agentId} on ${set.gateway}`,
      body: bodyFor(set, entry),
      files: { [inWorktree({ prefix: ctx.prefix }, LEDGER_FILE)]: withEntry(ctx.ledgerText, entry) },
      message: `Approve held changes to ${set.agentId} on ${set.gateway}\n\nChange set ${set.id}:\n${describe(set).map((l) => `- ${l}`).join('\n')}`,
      meta: { kind: 'approval', gateway: set.gateway, agent: set.agentId, id: set.id },
      reviewers: reviewersFor(set, ctx),
    });
    out.push({ set: identity, result });
  }
  const wanted = new Set(held.map((s) => s.id));
  for (const pr of await listBotPrs(ctx.gh, APPROVAL_BRANCH_PREFIX)) {
    const id = pr.branch.slice(APPROVAL_BRANCH_PREFIX.length);
    const gateway = typeof pr.meta.gateway === 'string' ? pr.meta.gateway : undefined;
    if (wanted.has(id) || !gateway || !processedGateways.has(gateway)) continue;
    await closeBotPr(ctx.gh, pr, pr.branch, `clawops: this change set is no longer held on \`${gateway}\` (it was applied, changed in git, or withdrawn), so this approval is not needed. Closing.`);
  }
  return out;
}
