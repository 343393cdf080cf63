/**
 * The approval check at apply time (DESIGN §5), for an agent's change set that policy gates:
 *
 * 1. Walk the main branch's first-parent line from the desired commit back to the commit the
 *    agent was last applied at, and keep the steps that changed a file the change set comes from.
 * 2. For each step, ask GitHub which merged pull request into the main branch put it there (merge
 *    commit, squash commit, or one of a rebase's commits). A step with none was pushed directly.
 * 3. Every such pull request must carry enough counted approvals (review-decision.ts) for every
 *    rule; one unapproved step holds the whole set.
 * 4. Otherwise a ledger entry with the set's id releases it, if the pull request that added the
 *    entry to `approvals/ledger.yaml` meets the same rules.
 *
 * Branch protection may enforce some of this too, but it is never trusted alone: an admin merge,
 * a bypass actor or a direct push all fail here. Everything found becomes the audit evidence.
 */
import { MainLineReader } from '../git/first-parent.ts';
import { inWorktree } from '../git/worktree.ts';
import { gate, type ApprovalEvidence, type ChangeSet, type ChangeSetApproval } from '../policy/approvals.ts';
import type { PullApproval, PullRequestEvidence } from '../policy/evidence.ts';
import { changeSetId, entryIdsIn, LEDGER_FILE, type LedgerEntry } from '../policy/ledger.ts';
import type { ApproverDirectory } from './approver-directory.ts';
import type { GitHubClient } from './client.ts';
import { explainGitHubError } from './errors.ts';
import { reviewPull, type ReviewedPull } from './pull-review.ts';

export interface ApprovalCheckContext {
  readonly gh: GitHubClient;
  readonly directory: ApproverDirectory;
  /** The fleet repo's git dir and its folder inside the work tree ('' at the root). */
  readonly gitdir: string;
  readonly prefix: string;
  /** The desired commit being applied, and the branch it is on (the repo's default branch). */
  readonly head: string;
  readonly branch: string;
  readonly ledger: ReadonlyMap<string, LedgerEntry>;
}

export class ChangeApprovals {
  readonly #ctx: ApprovalCheckContext;
  readonly #git: MainLineReader;
  readonly #pulls = new Map<number, Promise<ReviewedPull>>();
  readonly #commitPull = new Map<string, Promise<number | { why: string }>>();
  /** Ledger entry ids by the ledger file's blob id. */
  readonly #ledgerIds = new Map<string, Set<string>>();

  constructor(ctx: ApprovalCheckContext) {
    this.#ctx = ctx;
    this.#git = new MainLineReader(ctx.gitdir);
  }

  async check(set: ChangeSet): Promise<ChangeSetApproval> {
    const id = changeSetId(set.gateway, set.agentId, set.changes);
    const gated = set.changes.filter((c) => c.verdict.effect === 'require-approval');
    const passes = (e: ApprovalEvidence) => gated.every((c) => gate(c.verdict, e) === 'apply');

    const { commits, evidence } = await this.#byCommits(set);
    if (passes(evidence) || !this.#ctx.ledger.has(id)) return { id, evidence, commits };
    const released = await this.#byLedger(id);
    return { id, evidence: passes(released) ? released : evidence, commits };
  }

  async #byCommits(set: ChangeSet): Promise<{ commits: string[]; evidence: PullRequestEvidence }> {
    const { head, prefix } = this.#ctx;
    const { line, byPath } = await this.#git.touched(head, set.base);
    const touching = new Set([...new Set(set.files)].flatMap((f) => byPath.get(inWorktree({ prefix }, f)) ?? []));
    const commits = line.commits.filter((c) => touching.has(c));
    const unapproved: Array<{ commit: string; why: string }> = [];
    if (line.cutShort) unapproved.push({ commit: line.commits.at(-1) ?? head, why: line.cutShort });
    const pulls = new Map<number, PullApproval>();
    for (const c of commits) {
      const found = await this.#pullFor(c, line.commits);
      if (typeof found === 'number') pulls.set(found, (await this.#review(found)).approval);
      else unapproved.push({ commit: c, why: found.why });
    }
    return { commits, evidence: { kind: 'pull-request', pulls: [...pulls.values()], ...(unapproved.length ? { unapproved } : {}) } };
  }

  /** The pull request whose merge added ledger entry `id`, judged like any other. */
  async #byLedger(id: string): Promise<PullRequestEvidence> {
    const { head, prefix } = this.#ctx;
    const path = inWorktree({ prefix }, LEDGER_FILE);
    const line = await this.#git.line(head);
    const has = async (commit: string) => {
      const blob = await this.#git.blobAt(commit, path);
      if (!blob) return false;
      let ids = this.#ledgerIds.get(blob);
      if (!ids) this.#ledgerIds.set(blob, (ids = entryIdsIn(await this.#git.readBlobText(blob))));
      return ids.has(id);
    };
    let added: string | undefined;
    for (const c of line.commits) {
      if (!(await has(c))) break;
      added = c;
    }
    if (!added) return { kind: 'pull-request', pulls: [], unapproved: [{ commit: head, why: `ledger entry ${id} is not on the main line` }], ledger: id };
    const found = await this.#pullFor(added, line.commits);
    if (typeof found !== 'number') return { kind: 'pull-request', pulls: [], unapproved: [{ commit: added, why: `the ledger entry was not merged through a pull request: ${found.why}` }], ledger: id };
    return { kind: 'pull-request', pulls: [(await this.#review(found)).approval], ledger: id };
  }

  #review(n: number): Promise<ReviewedPull> {
    let p = this.#pulls.get(n);
    if (!p) this.#pulls.set(n, (p = reviewPull(this.#ctx.gh, n, this.#ctx.directory)));
    return p;
  }

  #pullFor(commit: string, line: readonly string[]): Promise<number | { why: string }> {
    let p = this.#commitPull.get(commit);
    if (!p) this.#commitPull.set(commit, (p = this.#findPull(commit, line)));
    return p;
  }

  /**
   * The merged pull request into the main branch that put `commit` on the main line: its merge
   * commit or squash commit is `commit`, or (a rebase) its last rebased commit is at most
   * `commits - 1` steps newer. Open pull requests containing the commit do not count: a commit
   * pushed straight to main stays unapproved even if a pull request also carries it.
   */
  async #findPull(commit: string, line: readonly string[]): Promise<number | { why: string }> {
    const { gh, branch } = this.#ctx;
    const { octokit, owner, repo } = gh;
    const full = `${owner}/${repo}`.toLowerCase();
    let associated;
    try {
      associated = await octokit.paginate(octokit.rest.repos.listPullRequestsAssociatedWithCommit, { owner, repo, commit_sha: commit, per_page: 100 });
    } catch (e) {
      throw explainGitHubError(e, `finding the pull request of commit ${commit.slice(0, 7)}`, gh);
    }
    const merged = associated.filter((p) => p.merged_at && p.base.ref === branch && p.base.repo.full_name.toLowerCase() === full);
    const exact = merged.find((p) => p.merge_commit_sha === commit);
    if (exact) return exact.number;
    const at = line.indexOf(commit);
    for (const p of merged) {
      const last = p.merge_commit_sha ? line.indexOf(p.merge_commit_sha) : -1;
      if (last < 0 || at < 0 || last > at) continue;
      const { data } = await octokit.rest.pulls.get({ owner, repo, pull_number: p.number });
      if (at - last < data.commits) return p.number;
    }
    const short = commit.slice(0, 7);
    return merged.length
      ? { why: `${short} is not the merge of pull request ${merged.map((p) => `#${p.number}`).join(', ')}` }
      : { why: `no merged pull request into ${branch} brought ${short} (pushed directly?)` };
  }
}
