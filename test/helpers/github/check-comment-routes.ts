/**
 * Issue comments on pull requests (clawops' sticky plan comment) and check runs (its status, with
 * annotations). Only a GitHub App may write check runs: a user token gets 403 "You must
 * authenticate via a GitHub App.", as on GitHub. Annotations accumulate across updates, as
 * GitHub documents; the description caps them at 50 per request, which the request check
 * enforces (422). Guessed texts: a completed run without a conclusion, an unknown head_sha.
 */
import { isoNow, type CheckConclusion, type CheckRunState, type CheckStatus, type CommentState, type RepoState, type Annotation } from './github-state.ts';
import type { PullView } from './github-shapes.ts';
import { caller, fail, notFound, ok, pageReply, pullOf, repoOf, type Route, type RouteContext } from './routes.ts';

interface CheckRunBody {
  name?: string;
  head_sha?: string;
  details_url?: string;
  external_id?: string;
  status?: CheckStatus;
  started_at?: string;
  conclusion?: CheckConclusion;
  completed_at?: string;
  output?: { title?: string; summary?: string; text?: string; annotations?: Annotation[] };
}

const listComments: Route = async (ctx) => {
  const repo = repoOf(ctx);
  const pull = pullOf(ctx, repo, 'issue_number');
  const since = ctx.query.get('since');
  const comments = ctx.state.comments.filter((c) => c.repo === repo && c.issueNumber === pull.number && (!since || c.updatedAt >= since));
  return pageReply(ctx, comments, (items) => items.map((c) => ctx.shapes.comment(c)));
};

const createComment: Route = async (ctx) => {
  const who = caller(ctx);
  const repo = repoOf(ctx);
  const pull = pullOf(ctx, repo, 'issue_number');
  const now = isoNow();
  const comment: CommentState = { id: ctx.state.id(), repo, issueNumber: pull.number, user: who.login, createdAt: now, body: (ctx.body as { body: string }).body, updatedAt: now };
  ctx.state.comments.push(comment);
  return ok(ctx.shapes.comment(comment), 201);
};

const updateComment: Route = async (ctx) => {
  caller(ctx);
  const repo = repoOf(ctx);
  const comment = ctx.state.comments.find((c) => c.repo === repo && c.id === Number(ctx.params.comment_id));
  if (!comment) return notFound(ctx);
  comment.body = (ctx.body as { body: string }).body;
  comment.updatedAt = isoNow();
  return ok(ctx.shapes.comment(comment));
};

function requireApp(ctx: RouteContext): void {
  if (caller(ctx).kind !== 'installation') fail(ctx, 403, 'You must authenticate via a GitHub App.');
}

/** Open pull requests of this repository whose head is the run's commit (GitHub leaves out forks). */
async function pullsFor(ctx: RouteContext, repo: RepoState, sha: string): Promise<PullView[]> {
  const views: PullView[] = [];
  for (const p of ctx.state.pulls) {
    if (p.repo !== repo || p.headRepo !== repo || p.state !== 'open') continue;
    const v = await ctx.pulls.view(p);
    if (v.headSha === sha) views.push(v);
  }
  return views;
}

function applyCheckBody(ctx: RouteContext, run: CheckRunState, body: CheckRunBody): void {
  // A conclusion (or completed_at) completes the run, as GitHub documents; completing needs a conclusion.
  const status = body.conclusion !== undefined || body.completed_at !== undefined ? 'completed' : (body.status ?? run.status);
  const conclusion = body.conclusion ?? run.conclusion;
  if (status === 'completed' && conclusion === null) fail(ctx, 422, 'Conclusion must be provided when the status is completed');
  if (body.name !== undefined) run.name = body.name;
  if (body.details_url !== undefined) run.detailsUrl = body.details_url;
  if (body.external_id !== undefined) run.externalId = body.external_id;
  if (body.started_at !== undefined) run.startedAt = body.started_at;
  run.status = status;
  run.conclusion = conclusion;
  if (status === 'completed') run.completedAt = body.completed_at ?? run.completedAt ?? isoNow();
  if (body.output) {
    run.output = { title: body.output.title ?? run.output.title, summary: body.output.summary ?? run.output.summary, text: body.output.text ?? run.output.text };
    run.annotations.push(...(body.output.annotations ?? []));
  }
}

const createCheck: Route = async (ctx) => {
  requireApp(ctx);
  const repo = repoOf(ctx);
  const body = ctx.body as CheckRunBody & { name: string; head_sha: string };
  const sha = await repo.git.resolveCommit(body.head_sha);
  if (!sha || sha !== body.head_sha.toLowerCase()) fail(ctx, 422, `No commit found for SHA: ${body.head_sha}`);
  const run: CheckRunState = {
    id: ctx.state.id(),
    repo,
    headSha: sha!,
    suiteId: ctx.state.suiteId(repo, sha!),
    name: body.name,
    status: 'queued',
    conclusion: null,
    startedAt: isoNow(),
    completedAt: null,
    detailsUrl: null,
    externalId: null,
    output: { title: null, summary: null, text: null },
    annotations: [],
  };
  applyCheckBody(ctx, run, body);
  ctx.state.checkRuns.push(run);
  return ok(ctx.shapes.checkRun(run, await pullsFor(ctx, repo, run.headSha)), 201);
};

const updateCheck: Route = async (ctx) => {
  requireApp(ctx);
  const repo = repoOf(ctx);
  const run = ctx.state.checkRuns.find((r) => r.repo === repo && r.id === Number(ctx.params.check_run_id));
  if (!run) return notFound(ctx);
  applyCheckBody(ctx, run, ctx.body as CheckRunBody);
  return ok(ctx.shapes.checkRun(run, await pullsFor(ctx, repo, run.headSha)));
};

const listForRef: Route = async (ctx) => {
  const repo = repoOf(ctx);
  const ref = ctx.params.ref ?? '';
  const sha = await repo.git.resolveCommit(ref);
  if (!sha) fail(ctx, 422, `No commit found for SHA: ${ref}`);
  const name = ctx.query.get('check_name');
  const status = ctx.query.get('status');
  let runs = ctx.state.checkRuns.filter((r) => r.repo === repo && r.headSha === sha && (!name || r.name === name) && (!status || r.status === status));
  // filter=latest (the default): the most recent run of each name.
  if ((ctx.query.get('filter') ?? 'latest') === 'latest') runs = runs.filter((r) => !runs.some((o) => o.name === r.name && o.id > r.id));
  runs = [...runs].sort((a, b) => b.id - a.id);
  const pulls = await pullsFor(ctx, repo, sha!);
  return pageReply(ctx, runs, (items) => ({ total_count: runs.length, check_runs: items.map((r) => ctx.shapes.checkRun(r, pulls)) }));
};

export const checkCommentRoutes: Readonly<Record<string, Route>> = {
  'issues/list-comments': listComments,
  'issues/create-comment': createComment,
  'issues/update-comment': updateComment,
  'checks/create': createCheck,
  'checks/update': updateCheck,
  'checks/list-for-ref': listForRef,
};
