/**
 * A pull request as GitHub shows it at this moment: an open one follows its branches (a push to
 * the head branch, through the API or straight into the bare repository, moves `head.sha`); a
 * closed one keeps the tips it closed with. Like GitHub, the base repository keeps the head
 * commits under `refs/pull/N/head` (fetched from the fork for cross-repository pull requests) and
 * a test merge under `refs/pull/N/merge`, whose sha is `merge_commit_sha` until the merge.
 */
import type { GitPerson } from './bare-repo.ts';
import { isoNow, type FakeState, type PullState } from './github-state.ts';
import type { PullView } from './github-shapes.ts';

/** GitHub's web-flow identity: the committer of merges, squashes and rebases made on GitHub. */
export const webFlow = (): GitPerson => ({ name: 'GitHub', email: 'noreply@github.com', date: isoNow() });

interface Mergeability {
  readonly tree: string | undefined;
  readonly testMergeSha: string | null;
  readonly rebaseable: boolean;
}

export class PullViews {
  private readonly merges = new Map<string, Mergeability>();
  private readonly stats = new Map<string, { commits: number; additions: number; deletions: number; changedFiles: number }>();

  private readonly state: FakeState;

  constructor(state: FakeState) {
    this.state = state;
  }

  /** Brings an open pull request's head and base up to date with its branches. */
  async refresh(pull: PullState): Promise<void> {
    if (pull.state !== 'open') return;
    const head = await pull.headRepo.git.resolveCommit(`refs/heads/${pull.headRef}`);
    if (head) {
      const ref = `refs/pull/${pull.number}/head`;
      if (head !== (await pull.repo.git.resolveCommit(ref))) {
        if (pull.headRepo === pull.repo) await pull.repo.git.git(['update-ref', ref, head]);
        else await pull.repo.git.fetchCommit(pull.headRepo.git, head, ref);
      }
      pull.headSha = head;
    }
    const base = await pull.repo.git.resolveCommit(`refs/heads/${pull.baseRef}`);
    if (base) pull.baseSha = base;
  }

  async mergeability(pull: PullState): Promise<Mergeability> {
    const key = `${pull.repo.fullName}:${pull.baseSha}:${pull.headSha}`;
    let m = this.merges.get(key);
    if (!m) {
      const git = pull.repo.git;
      const tree = await git.mergeTrees(pull.baseSha, pull.headSha);
      let testMergeSha: string | null = null;
      if (tree) {
        const who = webFlow();
        testMergeSha = await git.commitTree({ tree, parents: [pull.baseSha, pull.headSha], message: `Merge ${pull.headSha} into ${pull.baseSha}`, author: who, committer: who });
        await git.git(['update-ref', `refs/pull/${pull.number}/merge`, testMergeSha]);
      }
      m = { tree, testMergeSha, rebaseable: tree !== undefined && (await this.replay(pull)) !== undefined };
      this.merges.set(key, m);
    }
    return m;
  }

  /**
   * The pull request's commits replayed onto its base (what "Rebase and merge" writes), as
   * [original, tree] pairs, or undefined when one conflicts or is a merge commit (GitHub refuses
   * to rebase those).
   */
  async replay(pull: PullState): Promise<Array<{ sha: string; tree: string }> | undefined> {
    const git = pull.repo.git;
    const out: Array<{ sha: string; tree: string }> = [];
    let onto = pull.baseSha;
    const stamp: GitPerson = { name: 'replay', email: 'replay@localhost', date: '2000-01-01T00:00:00Z' };
    for (const sha of await git.commitsBetween(pull.baseSha, pull.headSha)) {
      const c = await git.readCommit(sha);
      if (!c || c.parents.length > 1) return undefined;
      const tree = await git.replayTree(c, onto);
      if (!tree) return undefined;
      out.push({ sha, tree });
      onto = await git.commitTree({ tree, parents: [onto], message: 'replay', author: stamp, committer: stamp });
    }
    return out;
  }

  async view(pull: PullState, details = false): Promise<PullView> {
    await this.refresh(pull);
    if (!details) return { pull, headSha: pull.headSha, baseSha: pull.baseSha };
    const key = `${pull.repo.fullName}:${pull.baseSha}:${pull.headSha}`;
    let s = this.stats.get(key);
    if (!s) {
      const git = pull.repo.git;
      const commits = pull.merged ? pull.merged.commits.length : (await git.commitsBetween(pull.baseSha, pull.headSha)).length;
      s = { commits, ...(await git.diffStat(pull.baseSha, pull.headSha)) };
      this.stats.set(key, s);
    }
    const open = pull.state === 'open';
    const m = open ? await this.mergeability(pull) : undefined;
    return {
      pull,
      headSha: pull.headSha,
      baseSha: pull.baseSha,
      details: {
        // GitHub computes mergeability in the background and answers null until it knows; the fake knows at once.
        mergeable: m ? m.tree !== undefined : null,
        rebaseable: m ? m.rebaseable : null,
        testMergeSha: m?.testMergeSha ?? null,
        ...s,
        comments: this.state.comments.filter((c) => c.repo === pull.repo && c.issueNumber === pull.number).length,
      },
    };
  }
}
