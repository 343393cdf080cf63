/**
 * Who is who: repos/get, users/get-authenticated, teams/list-members-in-org and the GitHub App's
 * own endpoints. An installation token (the bot) gets 403 "Resource not accessible by integration"
 * from GET /user, as on GitHub; it may read team membership (the App is assumed to hold
 * `members: read`). The App's endpoints (GET /app, GET /repos/{owner}/{repo}/installation, the
 * installation token exchange) take only the App's JWT: any other credential, an installation or
 * user token included, gets GitHub's 401 "A JSON web token could not be decoded".
 */
import type { KeyObject } from 'node:crypto';
import { jwtProblem } from './app-jwt.ts';
import { APP_PERMISSIONS } from './account-shapes.ts';
import { caller, fail, notFound, ok, pageReply, repoOf, type Route, type RouteContext } from './routes.ts';

export interface AppAuthority {
  readonly appId: number;
  readonly installationId: number;
  readonly publicKey: KeyObject;
  readonly botLogin: string;
  /** The account the App is installed on (all of its repositories, and only those). */
  readonly account: string;
  /** Lifetime of minted installation tokens (GitHub: one hour). */
  readonly tokenTtlMs: number;
}

const getRepo: Route = async (ctx) => ok(ctx.shapes.repository(repoOf(ctx), true));

const getAuthenticated: Route = async (ctx) => {
  const who = caller(ctx);
  if (who.kind === 'installation') fail(ctx, 403, 'Resource not accessible by integration');
  return ok(ctx.shapes.privateUser(who.login));
};

const listTeamMembers: Route = async (ctx) => {
  caller(ctx);
  const team = ctx.state.team(ctx.params.org ?? '', ctx.params.team_slug ?? '');
  if (!team) return notFound(ctx);
  // Every member is a plain member of the team in the fake, so role=maintainer lists nobody.
  const members = ctx.query.get('role') === 'maintainer' ? [] : team.members;
  return pageReply(ctx, members, (items) => items.map((login) => ctx.shapes.teamMember(login)));
};

export function accountRoutes(app: AppAuthority): Readonly<Record<string, Route>> {
  /** Refuses the request unless it carries a valid JWT of this App. */
  const requireAppJwt = (ctx: RouteContext): void => {
    const jwt = /^Bearer\s+(\S+)$/i.exec(ctx.authorization ?? '')?.[1];
    const problem = jwt === undefined ? 'A JSON web token could not be decoded' : jwtProblem(jwt, app.publicKey, app.appId);
    if (problem) fail(ctx, 401, problem);
  };
  const createInstallationToken: Route = async (ctx) => {
    requireAppJwt(ctx);
    if (Number(ctx.params.installation_id) !== app.installationId) notFound(ctx);
    const token = ctx.state.mintToken(app.botLogin, 'installation', app.tokenTtlMs);
    const expiresAt = new Date(Date.now() + app.tokenTtlMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
    return ok({ token, expires_at: expiresAt, permissions: { ...APP_PERMISSIONS }, repository_selection: 'all' }, 201);
  };
  const getApp: Route = async (ctx) => {
    requireAppJwt(ctx);
    return ok(ctx.shapes.authenticatedApp(1));
  };
  const getRepoInstallation: Route = async (ctx) => {
    requireAppJwt(ctx);
    const repo = repoOf(ctx);
    // A repository of another account exists, but the App is not installed there: GitHub says 404 too.
    if (repo.owner.toLowerCase() !== app.account.toLowerCase()) notFound(ctx);
    return ok(ctx.shapes.installation(app.installationId, app.account));
  };
  return {
    'repos/get': getRepo,
    'users/get-authenticated': getAuthenticated,
    'teams/list-members-in-org': listTeamMembers,
    'apps/create-installation-access-token': createInstallationToken,
    'apps/get-authenticated': getApp,
    'apps/get-repo-installation': getRepoInstallation,
  };
}

/** Operations authenticated by the App's JWT alone (the fake skips its token check for them). */
export const JWT_OPERATIONS: ReadonlySet<string> = new Set(['apps/create-installation-access-token', 'apps/get-authenticated', 'apps/get-repo-installation']);
