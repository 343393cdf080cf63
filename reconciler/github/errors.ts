/**
 * One sentence, with the fix, for anything GitHub refused: which variable holds the bad
 * credential, which workflow permission is missing, when a rate limit resets, which URL could not
 * be reached. The message never holds a credential: GitHub's answers don't, and token-shaped text
 * is masked anyway.
 */
import { ClawopsError } from '../errors.ts';

export const GITHUB_PROBLEMS = [
  'bad-credentials',
  'team-access',
  'permission',
  'rate-limit',
  'secondary-rate-limit',
  'network',
  'not-found',
  'invalid',
  'conflict',
  'server',
  'error',
] as const;
export type GitHubProblem = (typeof GITHUB_PROBLEMS)[number];

export interface GitHubErrorData {
  readonly problem: GitHubProblem;
  /** What clawops was doing, e.g. `publishing the check run "clawops plan"`. */
  readonly doing: string;
  readonly status?: number;
  readonly method?: string;
  /** API path without the base URL or query, e.g. `/repos/o/r/check-runs`. */
  readonly path?: string;
  /** ISO time a primary rate limit resets. */
  readonly resetAt?: string;
  readonly retryAfterSeconds?: number;
}

export class GitHubError extends ClawopsError<GitHubErrorData> {
  readonly code = 'GITHUB';
}

export interface GitHubCredentialContext {
  /** Where the credential came from: the variable name, or a description of the GitHub App. */
  readonly credential?: string;
  readonly apiUrl?: string;
}

/** What Octokit's `RequestError` (and a network failure, reported as one with status 500) carries. */
interface OctokitFailure {
  readonly status: number;
  readonly message: string;
  readonly request?: { readonly method?: string; readonly url?: string };
  readonly response?: { readonly headers?: Readonly<Record<string, string | number | undefined>>; readonly data?: unknown };
}

const isOctokitFailure = (e: unknown): e is OctokitFailure =>
  e instanceof Error && typeof (e as { status?: unknown }).status === 'number';

// Classic, fine-grained, OAuth, App user/installation/refresh tokens, and JWTs (App authentication).
const TOKEN_SHAPES = /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})\b/g;
const scrub = (text: string): string => text.replace(TOKEN_SHAPES, '[REDACTED:github-token]');

const WORKFLOW_FORK_NOTE =
  'on a pull request from a fork GitHub gives the workflow a read-only token whatever it asks for: run the writing steps in a workflow that does not execute fork code (e.g. `on: workflow_run`), or skip them for forks';

/** The workflow permission (and its GitHub App name) a route needs. */
function permissionFor(method: string, path: string): { scope: string; app: string; access: 'read' | 'write' } {
  const access = method === 'GET' || method === 'HEAD' ? 'read' : 'write';
  if (/\/check-(runs|suites)\b/.test(path)) return { scope: 'checks', app: 'Checks', access };
  if (/\/pulls\b/.test(path)) return { scope: 'pull-requests', app: 'Pull requests', access };
  // PR comments are issue comments; GitHub accepts either permission for them on a pull request.
  if (/\/issues\b/.test(path)) return { scope: 'pull-requests', app: 'Pull requests', access };
  if (/\/statuses\b|\/status$/.test(path)) return { scope: 'statuses', app: 'Commit statuses', access };
  if (/\/actions\b/.test(path)) return { scope: 'actions', app: 'Actions', access };
  return { scope: 'contents', app: 'Contents', access };
}

function apiPath(url: string | undefined, apiUrl: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    let path = u.pathname;
    const base = apiUrl ? new URL(apiUrl).pathname.replace(/\/+$/, '') : '';
    if (base && path.startsWith(base + '/')) path = path.slice(base.length);
    return path;
  } catch {
    return url.split('?')[0];
  }
}

/** Where a request went, without its query string. */
function endpointOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return url.split('?')[0];
  }
}

const header = (f: OctokitFailure, name: string): string | undefined => {
  const v = f.response?.headers?.[name];
  return v === undefined ? undefined : String(v);
};

function minutesUntil(resetAt: Date, now: Date): string {
  const m = Math.max(0, Math.ceil((resetAt.getTime() - now.getTime()) / 60_000));
  return m <= 1 ? 'in about a minute' : `in ${m} minutes`;
}

/**
 * Turns whatever a GitHub call threw into a `ClawopsError` whose message says what to do. `doing`
 * reads after "while": `reading team acme/security`. A `ClawopsError` passes through unchanged.
 */
export function explainGitHubError(e: unknown, doing: string, context: GitHubCredentialContext = {}, now: Date = new Date()): ClawopsError {
  if (e instanceof ClawopsError) return e;
  const make = (problem: GitHubProblem, message: string, extra: Partial<GitHubErrorData> = {}) =>
    new GitHubError(scrub(message), { problem, doing, ...extra });
  if (!isOctokitFailure(e)) return make('error', `${doing} failed: ${e instanceof Error ? e.message : String(e)}`);

  const method = (e.request?.method ?? 'GET').toUpperCase();
  const path = apiPath(e.request?.url, context.apiUrl);
  const status = e.status;
  const base = { status, method, ...(path ? { path } : {}) };
  const credential = context.credential ?? 'the configured GitHub credential';
  const ghMessage = (typeof (e.response?.data as { message?: unknown } | undefined)?.message === 'string'
    ? (e.response!.data as { message: string }).message
    : e.message
  ).replace(/ - https:\/\/docs\.github\.com\S*$/, '');
  const what = path ? `${method} ${path}` : method;

  // Octokit 22 reports a failed fetch (DNS, refused, reset, timeout) as status 500 without a response.
  if (!e.response && (status === 500 || status === 0)) {
    const where = endpointOf(e.request?.url) ?? context.apiUrl ?? 'the GitHub API';
    const reason = e.message === 'fetch failed' ? 'the connection failed' : e.message;
    return make(
      'network',
      `${doing} failed: could not reach GitHub at ${where} (${reason}); check the network and the API URL (GITHUB_API_URL or clawops.yaml spec.github.apiUrl)`,
      base,
    );
  }

  if (status === 401) {
    const fix = context.credential?.startsWith('the GitHub App')
      ? 'check the App ID, that the private key is the App’s current one, and the installation ID'
      : `set ${credential} to a valid token (it is wrong, expired or revoked)`;
    return make('bad-credentials', `${doing} failed: GitHub rejected ${credential} (401 ${ghMessage}); ${fix}`, base);
  }

  const remaining = header(e, 'x-ratelimit-remaining');
  if ((status === 403 || status === 429) && remaining === '0') {
    const reset = Number(header(e, 'x-ratelimit-reset'));
    const resetAt = Number.isFinite(reset) && reset > 0 ? new Date(reset * 1000) : undefined;
    const limit = header(e, 'x-ratelimit-limit');
    const when = resetAt ? `; it resets at ${resetAt.toISOString()} (${minutesUntil(resetAt, now)})` : '';
    return make(
      'rate-limit',
      `${doing} failed: the GitHub API rate limit of ${credential} is exhausted${limit ? ` (${limit} requests per hour)` : ''}${when}; wait, or use a GitHub App installation (CLAWOPS_GITHUB_APP_*), whose limit is higher`,
      { ...base, ...(resetAt ? { resetAt: resetAt.toISOString() } : {}) },
    );
  }
  if ((status === 403 || status === 429) && (/secondary rate limit/i.test(ghMessage) || header(e, 'retry-after') !== undefined)) {
    const after = Number(header(e, 'retry-after'));
    const retryAfterSeconds = Number.isFinite(after) && after > 0 ? after : undefined;
    return make(
      'secondary-rate-limit',
      `${doing} failed: GitHub's secondary rate limit (too many requests or writes at once) stopped ${what} after clawops' retries; try again${retryAfterSeconds ? ` in ${retryAfterSeconds}s` : ' in a few minutes'}, and run fewer clawops jobs at once`,
      { ...base, ...(retryAfterSeconds ? { retryAfterSeconds } : {}) },
    );
  }

  const team = path ? /^\/orgs\/([^/]+)\/teams\/([^/]+)/.exec(path) : null;
  if (team && (status === 403 || status === 404)) {
    const [, org, slug] = team;
    return make(
      'team-access',
      `${doing} failed: reading team ${org}/${slug} needs organization members read access (GitHub answered ${status} ${ghMessage}): the Actions GITHUB_TOKEN cannot read teams; use a GitHub App installation token with \`members: read\` (CLAWOPS_GITHUB_APP_*) or a token with \`read:org\`. If it has that, check that the team ${org}/${slug} exists`,
      base,
    );
  }

  if (status === 403) {
    const need = permissionFor(method, path ?? '');
    if (/not accessible by integration/i.test(ghMessage)) {
      return make(
        'permission',
        `${doing} failed: ${credential} may not ${what} ("${ghMessage}"): the workflow needs \`permissions: { ${need.scope}: ${need.access} }\` (a GitHub App needs the ${need.app} "${need.access === 'write' ? 'Read and write' : 'Read-only'}" permission); ${WORKFLOW_FORK_NOTE}`,
        base,
      );
    }
    if (need.scope === 'checks' && need.access === 'write') {
      return make(
        'permission',
        `${doing} failed: only a GitHub App or the Actions GITHUB_TOKEN may write check runs, and ${credential} is neither ("${ghMessage}"): use the workflow's GITHUB_TOKEN with \`permissions: { checks: write }\`, or a GitHub App (CLAWOPS_GITHUB_APP_*)`,
        base,
      );
    }
    if (/personal access token/i.test(ghMessage)) {
      return make('permission', `${doing} failed: ${credential} may not ${what} ("${ghMessage}"): give the fine-grained token the ${need.app} ${need.access} permission on this repository`, base);
    }
    return make('permission', `${doing} failed: GitHub refused ${what} (403 ${ghMessage}); check what ${credential} is allowed to do on this repository`, base);
  }

  if (status === 404) {
    const repo = path ? /^\/repos\/([^/]+\/[^/]+)/.exec(path)?.[1] : undefined;
    const subject = repo ? `${repo} does not exist, or` : 'it does not exist, or';
    return make('not-found', `${doing} failed: GitHub answered 404 for ${what}: ${subject} ${credential} cannot see it (GitHub answers 404, not 403, for what a credential may not read)`, base);
  }
  if (status === 422) return make('invalid', `${doing} failed: GitHub refused the request (422 ${ghMessage})`, base);
  if (status === 409) return make('conflict', `${doing} failed: GitHub answered 409 (${ghMessage}); someone else changed it at the same time: run again`, base);
  if (status >= 500) {
    return make('server', `${doing} failed: GitHub had an error (${status} ${ghMessage}) and still did after clawops' retries; try again later (https://www.githubstatus.com)`, base);
  }
  return make('error', `${doing} failed: GitHub answered ${status} for ${what}: ${ghMessage}`, base);
}
