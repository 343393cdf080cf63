/**
 * pulls/merge (merge, squash and rebase, written as real commits into the bare repository) and
 * repos/list-pull-requests-associated-with-commit with GitHub's documented semantics: for a commit
 * on the default branch, the merged pull request that introduced it; otherwise the open and
 * merged pull requests that contain it.
 *
 * Modelled on GitHub's documentation and reported behaviour, not observed here: the squash
 * commit's author is the pull request's author; merge, squash and rebase commits are committed by
 * "GitHub <noreply@github.com>"; a rebase merge always rewrites the commits (new committer), even
 * when the base has not moved; the lookup lists newest pull requests first; the 405/409 texts
 * other than "Pull Request is not mergeable" and "Head branch was modified…".
 */
import type { GitPerson } from './bare-repo.ts';
import { isoNow, type PullState } from './github-state.ts';
import { webFlow } from './pull-views.ts';
import { caller, fail, nonEmpty, ok, pageReply, pullOf, repoOf, type Route } from './routes.ts';

interface MergeBody {
  commit_title?: string;
  commit_message?: string;
  sha?: string;
  merge_method?: 'merge' | 'squash' | 'rebase';
}

const merge: Route = async (ctx) => {
  const who = caller(ctx);
  const repo = repoOf(ctx);
  const pull = pullOf(ctx, repo);
  const body = (ctx.body ?? {}) as MergeBody;
  const method = body.merge_method ?? 'merge';
  if (pull.state !== 'open') fail(ctx, 405, 'Pull Request is not mergeable');
  if (pull.draft) fail(ctx, 405, 'Pull Request is still a draft');
  await ctx.pulls.refresh(pull);
  const { headSha: head, baseSha: base } = pull;
  if (body.sha !== undefined && body.sha !== head) fail(ctx, 409, 'Head branch was modified. Review and try the merge again.');
  const git = repo.git;
  const mergeability = await ctx.pulls.mergeability(pull);
  if (!mergeability.tree) fail(ctx, 405, 'Pull Request is not mergeable');
  const commits = await git.commitsBetween(base, head);
  const now = isoNow();
  const merger: GitPerson = { ...ctx.state.identity(who.login), date: now };
  const committer = webFlow();
  let sha: string;
  let introduced: string[];
  if (method === 'merge') {
    const title = body.commit_title ?? `Merge pull request #${pull.number} from ${pull.headRepo.owner}/${pull.headRef}`;
    const message = `${title}\n\n${body.commit_message ?? pull.title}`;
    sha = await git.commitTree({ tree: mergeability.tree!, parents: [base, head], message, author: merger, committer });
    introduced = [sha, ...commits];
  } else if (method === 'squash') {
    const subjects = await Promise.all(commits.map(async (c) => `* ${(await git.readCommit(c))!.message.trim()}`));
    const message = `${body.commit_title ?? `${pull.title} (#${pull.number})`}\n\n${body.commit_message ?? subjects.join('\n\n')}`;
    sha = await git.commitTree({ tree: mergeability.tree!, parents: [base], message, author: { ...ctx.state.identity(pull.author), date: now }, committer });
    introduced = [sha];
  } else {
    const replayed = await ctx.pulls.replay(pull);
    if (!replayed) fail(ctx, 405, 'This branch can\'t be rebased');
    let onto = base;
    introduced = [];
    for (const { sha: original, tree } of replayed!) {
      const c = (await git.readCommit(original))!;
      onto = await git.commitTree({ tree, parents: [onto], message: c.message, author: c.author, committer });
      introduced.push(onto);
    }
    sha = onto;
  }
  if (!(await git.updateRef(`refs/heads/${pull.baseRef}`, sha, base))) fail(ctx, 409, 'Base branch was modified. Review and try the merge again.');
  pull.state = 'closed';
  pull.closedAt = now;
  pull.updatedAt = now;
  pull.merged = { at: now, by: who.login, method, sha, commits, introduced: new Set(introduced) };
  return ok({ sha, merged: true, message: 'Pull Request successfully merged' });
};

const associatedWithCommit: Route = async (ctx) => {
  const repo = repoOf(ctx);
  await nonEmpty(ctx, repo);
  const open = ctx.state.pulls.filter((p) => p.repo === repo && p.state === 'open');
  // Fork heads are fetched into refs/pull/N/head, so their commits resolve here too.
  for (const p of open) await ctx.pulls.refresh(p);
  const sha = await repo.git.resolveCommit(ctx.params.commit_sha ?? '');
  if (!sha) fail(ctx, 422, `No commit found for SHA: ${ctx.params.commit_sha}`);
  const tip = await repo.git.resolveCommit(`refs/heads/${repo.defaultBranch}`);
  const onDefault = tip !== undefined && (await repo.git.isAncestor(sha!, tip));
  const found: PullState[] = [];
  for (const p of ctx.state.pulls) {
    if (p.repo !== repo) continue;
    if (onDefault) {
      if (p.merged?.introduced.has(sha!)) found.push(p);
    } else if (p.merged) {
      if (p.merged.commits.includes(sha!)) found.push(p);
    } else if (p.state === 'open' && (await repo.git.commitsBetween(p.baseSha, p.headSha)).includes(sha!)) {
      found.push(p);
    }
  }
  found.sort((a, b) => b.number - a.number);
  return pageReply(ctx, found, async (items) => Promise.all(items.map(async (p) => ctx.shapes.pull(await ctx.pulls.view(p)))));
};

export const mergeRoutes: Readonly<Record<string, Route>> = {
  'pulls/merge': merge,
  'repos/list-pull-requests-associated-with-commit': associatedWithCommit,
};
