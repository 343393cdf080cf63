/**
 * What a route of the fake GitHub receives and answers, GitHub's error replies, and pagination
 * the way GitHub does it (`per_page` up to 100, `page`, a `Link` header with first/prev/next/last).
 */
import type { GitHubSpec } from './openapi-validator.ts';
import type { Caller, FakeState, PullState, RepoState } from './github-state.ts';
import type { JsonObject } from './account-shapes.ts';
import { errorBody, type Shapes } from './github-shapes.ts';
import type { PullViews } from './pull-views.ts';

export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Thrown by a route to answer with an error (status and GitHub-shaped body). */
export class HttpError extends Error {
  readonly status: number;
  readonly body: JsonObject;
  constructor(status: number, body: JsonObject) {
    super(String(body.message));
    this.status = status;
    this.body = body;
  }
}

export interface RouteContext {
  readonly operationId: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** The JSON body, already checked against the operation's request schema. */
  readonly body: unknown;
  /** Undefined only for the App's JWT-authenticated endpoints (account-routes.ts JWT_OPERATIONS). */
  readonly caller: Caller | undefined;
  readonly authorization: string | undefined;
  /** The request URL as the client sent it (for pagination links). */
  readonly url: URL;
  readonly state: FakeState;
  readonly shapes: Shapes;
  readonly spec: GitHubSpec;
  readonly defaultPerPage: number;
  /** Pull requests as they look now (heads followed, mergeability computed). */
  readonly pulls: PullViews;
}

export type Route = (ctx: RouteContext) => Promise<Reply>;

export const docs = (ctx: RouteContext): string => ctx.spec.docsUrl(ctx.operationId);

export function fail(ctx: RouteContext, status: number, message: string, errors?: ReadonlyArray<JsonObject | string>): never {
  throw new HttpError(status, errorBody(status, message, docs(ctx), errors));
}

export const notFound = (ctx: RouteContext): never => fail(ctx, 404, 'Not Found');

/** 422 with GitHub's usual `Validation Failed` and one `errors` entry. */
export const validationFailed = (ctx: RouteContext, error: JsonObject): never => fail(ctx, 422, 'Validation Failed', [error]);

/** The caller (every route but the App's JWT-authenticated ones requires one). */
export function caller(ctx: RouteContext): Caller {
  if (!ctx.caller) return fail(ctx, 401, 'Requires authentication');
  return ctx.caller;
}

export function repoOf(ctx: RouteContext): RepoState {
  const repo = ctx.state.repo(ctx.params.owner ?? '', ctx.params.repo ?? '');
  return repo ?? notFound(ctx);
}

/** The repository must have a commit (GitHub's git data API answers 409 otherwise). */
export async function nonEmpty(ctx: RouteContext, repo: RepoState): Promise<void> {
  if (await repo.git.isEmpty()) fail(ctx, 409, 'Git Repository is empty.');
}

export function pullOf(ctx: RouteContext, repo: RepoState, param = 'pull_number'): PullState {
  const pull = ctx.state.pull(repo, Number(ctx.params[param]));
  return pull ?? notFound(ctx);
}

export const ok = (body: unknown, status = 200): Reply => ({ status, body });

/** One page of `items`, with GitHub's `Link` header when there is more than one page. */
export function paginate<T>(ctx: RouteContext, items: readonly T[]): { items: T[]; headers?: Record<string, string> } {
  const perPage = Math.min(100, Math.max(1, Number(ctx.query.get('per_page') ?? ctx.defaultPerPage) || ctx.defaultPerPage));
  const current = Math.max(1, Number(ctx.query.get('page') ?? 1) || 1);
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const link = (n: number) => {
    const u = new URL(ctx.url.href);
    u.searchParams.set('page', String(n));
    return `<${u.href}>`;
  };
  const rels: string[] = [];
  if (current > 1) rels.push(`${link(current - 1)}; rel="prev"`);
  if (current < last) rels.push(`${link(current + 1)}; rel="next"`, `${link(last)}; rel="last"`);
  if (current > 1) rels.push(`${link(1)}; rel="first"`);
  return { items: items.slice((current - 1) * perPage, current * perPage), ...(rels.length > 0 ? { headers: { link: rels.join(', ') } } : {}) };
}

/** A paginated list reply; `build` turns the page's items into the body (an array, or an object for check runs). */
export async function pageReply<T>(ctx: RouteContext, items: readonly T[], build: (pageItems: T[]) => Promise<unknown> | unknown): Promise<Reply> {
  const { items: pageItems, headers } = paginate(ctx, items);
  return { status: 200, body: await build(pageItems), ...(headers ? { headers } : {}) };
}
