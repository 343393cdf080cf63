/**
 * What `apply` does with GitHub around the write: before it, an approval source that checks the
 * pull requests behind each gated change set; after it, one approval PR per set still held and
 * the closing of approval PRs that became moot.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ApprovalSource, FleetApplyResult } from '../apply/apply-fleet.ts';
import type { ValidRepo } from '../live/fleet-repo.ts';
import { ledgerEntries, LEDGER_FILE } from '../policy/ledger.ts';
import { syncApprovalPrs, type ApprovalPrOutcome } from './approval-prs.ts';
import { ChangeApprovals } from './change-approvals.ts';
import type { GitHubSession } from './session.ts';

export interface ApprovalFlow {
  readonly source: ApprovalSource;
  /** Opens or keeps approval PRs for what the apply held, closes moot ones. */
  afterApply(results: readonly FleetApplyResult[], now: Date): Promise<ApprovalPrOutcome[]>;
}

export function approvalFlow(repo: ValidRepo, session: GitHubSession, head: string): ApprovalFlow {
  const ledger = ledgerEntries(repo);
  const { gh, directory, branch, gitdir, prefix } = session;
  return {
    source: new ChangeApprovals({ gh, directory, gitdir, prefix, head, branch, ledger }),
    async afterApply(results, now) {
      const landed = results.filter((r) => r.status === 'applied' || r.status === 'unchanged');
      const ledgerText = await readFile(join(repo.root, LEDGER_FILE), 'utf8').catch(() => undefined);
      return syncApprovalPrs(
        landed.flatMap((r) => r.held),
        new Set(landed.map((r) => r.gateway)),
        { gh, directory, branch, head, prefix, ledgerText, ledgerIds: new Set(ledger.keys()), now },
      );
    },
  };
}
