/**
 * Pull requests and their reviews: pulls/list, get, create, update, list-commits,
 * request-reviewers, list-reviews, create-review, dismiss-review. Merging and the
 * commit → pull request lookup live in merge-routes.ts.
 *
 * Error texts follow what GitHub is known to answer where that is documented or widely reported
 * ("A pull request already exists for …", "Can not approve your own pull request"); the ones
 * marked "guessed" were not observed.
 */
import { isoNow, type PullState, type RepoState, type ReviewStateName } from './github-state.ts';
import { caller, fail, notFound, ok, pageReply, pullOf, repoOf, validationFailed, type Route, type RouteContext } from './routes.ts';

interface CreatePullBody {
  title?: string;
  head: string;
  head_repo?: string;
  base: string;
  body?: string;
  draft?: boolean;
  maintainer_can_modify?: boolean;
  issue?: number;
}
interface UpdatePullBody {
  title?: string;
  body?: string;
  state?: 'open' | 'closed';
  base?: string;
  maintainer_can_modify?: boolean;
}
interface CreateReviewBody {
  commit_id?: string;
  body?: string;
  event?: 'APPROVE' | 'REQUEST_CHANGES' | 'COMMENT';
}

/** 422 in the `validation-error-simple` shape the review endpoints document. */
const reviewRefused = (ctx: RouteContext, error: string): never => fail(ctx, 422, 'Unprocessable Entity', [error]);

const alreadyOpen = (ctx: RouteContext, p: { headRepo: RepoState; headRef: string; baseRef: string; repo: RepoState }, except?: PullState) => {
  const dup = ctx.state.pulls.find((o) => o !== except && o.state === 'open' && o.repo === p.repo && o.headRepo === p.headRepo && o.headRef === p.headRef && o.baseRef === p.baseRef);
  if (dup) validationFailed(ctx, { resource: 'PullRequest', code: 'custom', message: `A pull request already exists for ${p.headRepo.owner}:${p.headRef}.` });
};

/** The repository holding the head branch: this one, or a fork named by `owner:branch` / `head_repo`. */
function headRepoOf(ctx: RouteContext, repo: RepoState, body: CreatePullBody): { headRepo: RepoState; headRef: string } {
  const colon = body.head.indexOf(':');
  const owner = colon === -1 ? undefined : body.head.slice(0, colon);
  const headRef = colon === -1 ? body.head : body.head.slice(colon + 1);
  let headRepo: RepoState | undefined = repo;
  if (body.head_repo) {
    const [o, n] = body.head_repo.split('/');
    headRepo = ctx.state.repo(o ?? '', n ?? '');
  } else if (owner && owner.toLowerCase() !== repo.owner.toLowerCase()) {
    headRepo = [...ctx.state.repos.values()].find((r) => r.owner.toLowerCase() === owner.toLowerCase() && r.parent === repo);
  }
  if (!headRepo) return validationFailed(ctx, { resource: 'PullRequest', field: 'head', code: 'invalid' });
  return { headRepo, headRef };
}

const list: Route = async (ctx) => {
  const repo = repoOf(ctx);
  const state = ctx.query.get('state') ?? 'open';
  const head = ctx.query.get('head');
  const base = ctx.query.get('base');
  // `head` is `owner:branch`; a bare branch is read as this repository's owner (guessed).
  const [headOwner, headRef] = head ? (head.includes(':') ? head.split(/:(.*)/s) : [repo.owner, head]) : [];
  let pulls = ctx.state.pulls.filter(
    (p) =>
      p.repo === repo &&
      (state === 'all' || p.state === state) &&
      (!head || (p.headRepo.owner.toLowerCase() === headOwner?.toLowerCase() && p.headRef === headRef)) &&
      (!base || p.baseRef === base),
  );
  const sort = ctx.query.get('sort') ?? 'created';
  // popularity and long-running are approximated by comment count and age.
  const key = (p: PullState) => (sort === 'updated' ? p.updatedAt : sort === 'popularity' ? String(ctx.state.comments.filter((c) => c.repo === repo && c.issueNumber === p.number).length).padStart(9, '0') : p.createdAt);
  const direction = ctx.query.get('direction') ?? (sort === 'created' ? 'desc' : 'asc');
  pulls = [...pulls].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.number - b.number) * (direction === 'desc' ? -1 : 1));
  return pageReply(ctx, pulls, async (items) => Promise.all(items.map(async (p) => ctx.shapes.pull(await ctx.pulls.view(p)))));
};

const get: Route = async (ctx) => {
  const pull = pullOf(ctx, repoOf(ctx));
  return ok(ctx.shapes.pull(await ctx.pulls.view(pull, true)));
};

const create: Route = async (ctx) => {
  const who = caller(ctx);
  const repo = repoOf(ctx);
  const body = ctx.body as CreatePullBody;
  if (body.issue !== undefined) validationFailed(ctx, { resource: 'PullRequest', field: 'issue', code: 'invalid' });
  if (!body.title) validationFailed(ctx, { resource: 'PullRequest', field: 'title', code: 'missing_field' });
  const { headRepo, headRef } = headRepoOf(ctx, repo, body);
  const baseSha = await repo.git.resolveCommit(`refs/heads/${body.base}`);
  if (!baseSha) validationFailed(ctx, { resource: 'PullRequest', field: 'base', code: 'invalid' });
  const headSha = await headRepo.git.resolveCommit(`refs/heads/${headRef}`);
  if (!headSha) validationFailed(ctx, { resource: 'PullRequest', field: 'head', code: 'invalid' });
  alreadyOpen(ctx, { repo, headRepo, headRef, baseRef: body.base });
  if (headRepo !== repo) {
    // The fork's commits are needed here to compare; refresh() keeps them under refs/pull/N/head.
    await repo.git.fetchCommit(headRepo.git, headSha!, 'refs/fake-github/incoming');
    await repo.git.git(['update-ref', '-d', 'refs/fake-github/incoming']);
  }
  if ((await repo.git.commitsBetween(baseSha!, headSha!)).length === 0) {
    validationFailed(ctx, { resource: 'PullRequest', code: 'custom', message: `No commits between ${repo.owner}:${body.base} and ${headRepo.owner}:${headRef}` });
  }
  const now = isoNow();
  const pull: PullState = {
    id: ctx.state.id(),
    number: repo.nextNumber++,
    repo,
    headRepo,
    headRef,
    author: who.login,
    createdAt: now,
    draft: body.draft ?? false,
    baseRef: body.base,
    title: body.title!,
    body: body.body ?? null,
    state: 'open',
    updatedAt: now,
    closedAt: null,
    maintainerCanModify: headRepo !== repo && (body.maintainer_can_modify ?? true),
    requestedReviewers: [],
    requestedTeams: [],
    headSha: headSha!,
    baseSha: baseSha!,
    merged: undefined,
  };
  ctx.state.pulls.push(pull);
  return ok(ctx.shapes.pull(await ctx.pulls.view(pull, true)), 201);
};

const update: Route = async (ctx) => {
  caller(ctx);
  const repo = repoOf(ctx);
  const pull = pullOf(ctx, repo);
  const body = ctx.body as UpdatePullBody;
  await ctx.pulls.refresh(pull);
  if (body.base !== undefined && body.base !== pull.baseRef) {
    if (!(await repo.git.resolveCommit(`refs/heads/${body.base}`))) validationFailed(ctx, { resource: 'PullRequest', field: 'base', code: 'invalid' });
    if (pull.state === 'open') alreadyOpen(ctx, { ...pull, baseRef: body.base }, pull);
    pull.baseRef = body.base;
  }
  if (body.state === 'closed' && pull.state === 'open') {
    pull.state = 'closed';
    pull.closedAt = isoNow();
  } else if (body.state === 'open' && pull.state === 'closed') {
    // Guessed text: GitHub refuses to reopen a merged pull request.
    if (pull.merged) validationFailed(ctx, { resource: 'PullRequest', field: 'state', code: 'custom', message: 'Cannot reopen a merged pull request' });
    alreadyOpen(ctx, pull, pull);
    pull.state = 'open';
    pull.closedAt = null;
  }
  if (body.title !== undefined) pull.title = body.title;
  if (body.body !== undefined) pull.body = body.body;
  if (body.maintainer_can_modify !== undefined) pull.maintainerCanModify = body.maintainer_can_modify;
  pull.updatedAt = isoNow();
  return ok(ctx.shapes.pull(await ctx.pulls.view(pull, true)));
};

const listCommits: Route = async (ctx) => {
  const repo = repoOf(ctx);
  const pull = pullOf(ctx, repo);
  await ctx.pulls.refresh(pull);
  // GitHub lists at most 250 commits of a pull request.
  const shas = (pull.merged ? [...pull.merged.commits] : await repo.git.commitsBetween(pull.baseSha, pull.headSha)).slice(0, 250);
  return pageReply(ctx, shas, async (items) => Promise.all(items.map(async (sha) => ctx.shapes.commit(repo, (await repo.git.readCommit(sha))!))));
};

const requestReviewers: Route = async (ctx) => {
  caller(ctx);
  const repo = repoOf(ctx);
  const pull = pullOf(ctx, repo);
  const body = ctx.body as { reviewers?: string[]; team_reviewers?: string[] };
  const reviewers = body.reviewers ?? [];
  const teams = body.team_reviewers ?? [];
  if (reviewers.some((r) => r.toLowerCase() === pull.author.toLowerCase())) fail(ctx, 422, 'Review cannot be requested from pull request author.');
  if (reviewers.some((r) => !ctx.state.findAccount(r)) || teams.some((t) => !ctx.state.team(repo.owner, t))) {
    fail(ctx, 422, `Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the ${repo.fullName} repository.`);
  }
  for (const r of reviewers) if (!pull.requestedReviewers.some((x) => x.toLowerCase() === r.toLowerCase())) pull.requestedReviewers.push(ctx.state.findAccount(r)!.login);
  for (const t of teams) if (!pull.requestedTeams.includes(t)) pull.requestedTeams.push(t);
  pull.updatedAt = isoNow();
  return ok(ctx.shapes.pull(await ctx.pulls.view(pull)), 201);
};

const listReviews: Route = async (ctx) => {
  const who = ctx.caller?.login.toLowerCase();
  const repo = repoOf(ctx);
  const pull = pullOf(ctx, repo);
  // Chronological; a pending review is visible to its author only.
  const reviews = ctx.state.reviews.filter((r) => r.repo === repo && r.pullNumber === pull.number && (r.state !== 'PENDING' || r.user.toLowerCase() === who));
  return pageReply(ctx, reviews, (items) => items.map((r) => ctx.shapes.review(r)));
};

const EVENT_STATE: Record<NonNullable<CreateReviewBody['event']>, ReviewStateName> = { APPROVE: 'APPROVED', REQUEST_CHANGES: 'CHANGES_REQUESTED', COMMENT: 'COMMENTED' };

const createReview: Route = async (ctx) => {
  const who = caller(ctx);
  const repo = repoOf(ctx);
  const pull = pullOf(ctx, repo);
  const body = ctx.body as CreateReviewBody;
  const own = who.login.toLowerCase() === pull.author.toLowerCase();
  if (own && body.event === 'APPROVE') reviewRefused(ctx, 'Can not approve your own pull request');
  if (own && body.event === 'REQUEST_CHANGES') reviewRefused(ctx, 'Can not request changes on your own pull request');
  // GitHub documents `body` as required for these two events; the error text is guessed.
  if ((body.event === 'REQUEST_CHANGES' || body.event === 'COMMENT') && !body.body) reviewRefused(ctx, `Body is required when event is ${body.event}`);
  const mine = ctx.state.reviews.filter((r) => r.repo === repo && r.pullNumber === pull.number && r.user.toLowerCase() === who.login.toLowerCase());
  if (!body.event && mine.some((r) => r.state === 'PENDING')) reviewRefused(ctx, 'User can only have one pending review per pull request');
  await ctx.pulls.refresh(pull);
  let commitId = pull.headSha;
  if (body.commit_id !== undefined) {
    const resolved = await repo.git.resolveCommit(body.commit_id);
    if (!resolved) reviewRefused(ctx, 'Commit SHA is not part of the pull request'); // guessed text
    commitId = resolved!;
  }
  const state = body.event ? EVENT_STATE[body.event] : 'PENDING';
  const review = { id: ctx.state.id(), repo, pullNumber: pull.number, user: who.login, body: body.body ?? '', commitId, state, submittedAt: state === 'PENDING' ? undefined : isoNow() };
  ctx.state.reviews.push(review);
  if (state !== 'PENDING') pull.requestedReviewers = pull.requestedReviewers.filter((r) => r.toLowerCase() !== who.login.toLowerCase());
  return ok(ctx.shapes.review(review));
};

const dismissReview: Route = async (ctx) => {
  caller(ctx);
  const repo = repoOf(ctx);
  const pull = pullOf(ctx, repo);
  const review = ctx.state.reviews.find((r) => r.repo === repo && r.pullNumber === pull.number && r.id === Number(ctx.params.review_id));
  if (!review) return notFound(ctx);
  // Only approvals and change requests can be dismissed (guessed text).
  if (review.state !== 'APPROVED' && review.state !== 'CHANGES_REQUESTED') reviewRefused(ctx, `Can not dismiss a ${review.state.toLowerCase().replace('_', ' ')} pull request review`);
  review.state = 'DISMISSED';
  return ok(ctx.shapes.review(review));
};

export const pullRoutes: Readonly<Record<string, Route>> = {
  'pulls/list': list,
  'pulls/get': get,
  'pulls/create': create,
  'pulls/update': update,
  'pulls/list-commits': listCommits,
  'pulls/request-reviewers': requestReviewers,
  'pulls/list-reviews': listReviews,
  'pulls/create-review': createReview,
  'pulls/dismiss-review': dismissReview,
};
