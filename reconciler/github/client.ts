/**
 * The one way clawops reaches GitHub: @octokit/rest with Octokit's own retry (5xx, network) and
 * throttling (primary and secondary rate limits, GitHub's write pacing) plugins, authenticated as a
 * GitHub App installation or with a token, for the fleet repo named in clawops.yaml or by Actions.
 *
 * Every credential (token, App key, each installation token minted later) is registered with the
 * redactor before the first request, so no output path can print it.
 */
import { readFile } from 'node:fs/promises';
import { createAppAuth } from '@octokit/auth-app';
import { retry } from '@octokit/plugin-retry';
import { throttling, type ThrottlingOptions } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import { ClawopsError } from '../errors.ts';
import type { RepositoryConfig } from '../model/repository.ts';
import type { Redactor } from '../redact/redactor.ts';
import { explainGitHubError, type GitHubCredentialContext } from './errors.ts';

export const DEFAULT_API_URL = 'https://api.github.com';
export const GITHUB_API_VERSION = '2022-11-28';
/** Who an Actions `GITHUB_TOKEN` acts as; it cannot ask GitHub (GET /user answers 403). */
export const ACTIONS_BOT_LOGIN = 'github-actions[bot]';

export const GITHUB_ENV = {
  login: 'CLAWOPS_GITHUB_LOGIN',
  token: ['CLAWOPS_GITHUB_TOKEN', 'GITHUB_TOKEN'],
  appId: 'CLAWOPS_GITHUB_APP_ID',
  appKey: 'CLAWOPS_GITHUB_APP_PRIVATE_KEY',
  appKeyFile: 'CLAWOPS_GITHUB_APP_PRIVATE_KEY_FILE',
  appInstallation: 'CLAWOPS_GITHUB_APP_INSTALLATION_ID',
  appSlug: 'CLAWOPS_GITHUB_APP_SLUG',
  /** `off`: no pause between writes (a GitHub Enterprise Server without secondary limits, or a local test server). */
  paceWrites: 'CLAWOPS_GITHUB_PACE_WRITES',
  apiUrl: 'GITHUB_API_URL',
  repository: 'GITHUB_REPOSITORY',
} as const;

const ClawopsOctokit = Octokit.plugin(retry, throttling);
export type GitHubOctokit = InstanceType<typeof ClawopsOctokit>;

export interface GitHubClient {
  readonly octokit: GitHubOctokit;
  readonly owner: string;
  readonly repo: string;
  /** The identity we act as (`name[bot]` for Apps and Actions): recognises our own comments, runs and PRs. */
  readonly login: string;
  /** Base URL of the REST API, without a trailing slash. */
  readonly apiUrl: string;
  /** Where the credential came from, for error messages (`explainGitHubError(e, doing, gh)`). */
  readonly credential: GitHubCredentialContext['credential'];
}

export class GitHubConfigError extends ClawopsError<{ missing: string[] }> {
  readonly code = 'GITHUB_CONFIG';
}

export interface RetryLimits {
  /** Retries of a 5xx answer or a network failure (plugin-retry; default 3). */
  readonly retries?: number;
  /** plugin-retry waits (retry count + 1)² × this many ms (default 1000; tests lower it). */
  readonly baseDelayMs?: number;
  /** Retries after a primary or secondary rate limit (plugin-throttling; default 2). */
  readonly rateLimitRetries?: number;
  /** A rate limit that asks us to wait longer than this fails instead (default 60 s). */
  readonly maxRateLimitWaitSeconds?: number;
  /** Milliseconds per second of `retry-after` (default 1000; tests lower it so waits stay tiny). */
  readonly retryAfterUnitMs?: number;
  /**
   * GitHub asks integrators to leave a second between writes (three after writes that notify
   * people); plugin-throttling does that by default. Only a local fake may turn it off.
   */
  readonly paceWrites?: boolean;
}

export interface ConnectGitHubOptions {
  /** The environment (`ports.env`): credentials, GITHUB_REPOSITORY, GITHUB_API_URL. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** clawops.yaml `spec.github`; wins over the environment. */
  readonly github?: RepositoryConfig['spec']['github'];
  readonly redactor: Redactor;
  /** A fetch to use instead of the global one (tests pass a validating fetch). */
  readonly fetch?: typeof fetch;
  /** Per attempt; a timed-out attempt counts as a network failure and is retried (default 30 s). */
  readonly timeoutMs?: number;
  readonly limits?: RetryLimits;
  /** Retries and rate-limit waits are reported here (redacted), never on the console. */
  readonly warn?: (message: string) => void;
}

interface AppCredentials {
  readonly appId: string;
  readonly privateKey: string;
  readonly installationId: string | undefined;
  readonly slug: string | undefined;
}

const nonEmpty = (v: string | undefined): string | undefined => (v && v.trim() ? v.trim() : undefined);

function resolveRepository(opts: ConnectGitHubOptions): { owner: string; repo: string } {
  const fromConfig = opts.github?.repository;
  const value = fromConfig ?? nonEmpty(opts.env[GITHUB_ENV.repository]);
  if (!value) {
    throw new GitHubConfigError(
      `no GitHub repository: set \`spec.github.repository: owner/name\` in clawops.yaml (or ${GITHUB_ENV.repository}=owner/name, which GitHub Actions sets)`,
      { missing: ['spec.github.repository', GITHUB_ENV.repository] },
    );
  }
  const m = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(value);
  if (!m) {
    const where = fromConfig ? 'clawops.yaml spec.github.repository' : GITHUB_ENV.repository;
    throw new GitHubConfigError(`${where} is ${JSON.stringify(value)}; it must be \`owner/name\``, { missing: [] });
  }
  return { owner: m[1]!, repo: m[2]! };
}

function resolveApiUrl(opts: ConnectGitHubOptions): string {
  const raw = opts.github?.apiUrl ?? nonEmpty(opts.env[GITHUB_ENV.apiUrl]) ?? DEFAULT_API_URL;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    const where = opts.github?.apiUrl ? 'clawops.yaml spec.github.apiUrl' : GITHUB_ENV.apiUrl;
    throw new GitHubConfigError(`${where} is not a URL (${JSON.stringify(raw)}); use e.g. https://github.example.com/api/v3`, { missing: [] });
  }
  return url.href.replace(/\/+$/, '');
}

async function resolveApp(env: ConnectGitHubOptions['env'], redactor: Redactor): Promise<AppCredentials | undefined> {
  const appId = nonEmpty(env[GITHUB_ENV.appId]);
  const inlineKey = nonEmpty(env[GITHUB_ENV.appKey]);
  const keyFile = nonEmpty(env[GITHUB_ENV.appKeyFile]);
  if (!appId && !inlineKey && !keyFile) return undefined;
  if (!appId) {
    throw new GitHubConfigError(`a GitHub App private key is set but ${GITHUB_ENV.appId} is not: set it to the App's numeric ID (App settings → General → App ID)`, {
      missing: [GITHUB_ENV.appId],
    });
  }
  if (!/^\d+$/.test(appId)) throw new GitHubConfigError(`${GITHUB_ENV.appId} must be the App's numeric ID, not ${JSON.stringify(appId)}`, { missing: [] });
  let privateKey: string;
  if (inlineKey) {
    // CI secret stores often turn the PEM's newlines into literal "\n".
    privateKey = inlineKey.includes('\\n') && !inlineKey.includes('\n') ? inlineKey.replace(/\\n/g, '\n') : inlineKey;
    redactor.add(inlineKey, 'github-app-key');
  } else if (keyFile) {
    try {
      privateKey = await readFile(keyFile, 'utf8');
    } catch (e) {
      throw new GitHubConfigError(`${GITHUB_ENV.appKeyFile} names ${keyFile}, which cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { missing: [] });
    }
  } else {
    throw new GitHubConfigError(`${GITHUB_ENV.appId} is set but the App's private key is not: set ${GITHUB_ENV.appKey} (the PEM) or ${GITHUB_ENV.appKeyFile} (its path)`, {
      missing: [GITHUB_ENV.appKey, GITHUB_ENV.appKeyFile],
    });
  }
  redactor.add(privateKey, 'github-app-key');
  for (const line of privateKey.split('\n')) if (line.length >= 40 && !line.startsWith('-----')) redactor.add(line.trim(), 'github-app-key');
  if (!/-----BEGIN (RSA )?PRIVATE KEY-----/.test(privateKey)) {
    const source = inlineKey ? GITHUB_ENV.appKey : `${GITHUB_ENV.appKeyFile} (${keyFile})`;
    throw new GitHubConfigError(`${source} is not a PEM private key; download one from the App's settings (General → Private keys)`, { missing: [] });
  }
  const installationId = nonEmpty(env[GITHUB_ENV.appInstallation]);
  if (installationId && !/^\d+$/.test(installationId)) {
    throw new GitHubConfigError(`${GITHUB_ENV.appInstallation} must be a number, not ${JSON.stringify(installationId)}`, { missing: [] });
  }
  return { appId, privateKey, installationId, slug: nonEmpty(env[GITHUB_ENV.appSlug]) };
}

/** GitHub Apps' `[bot]` login for a slug. */
export const botLogin = (slug: string): string => (slug.endsWith('[bot]') ? slug : `${slug}[bot]`);

/**
 * Bottleneck's group interface, reduced to the one call plugin-throttling makes on its write and
 * notification groups (`group.key(id).schedule(options, fn)`), without the minimum spacing.
 */
const UNPACED_GROUP = { key: () => ({ schedule: (_options: unknown, fn: () => Promise<unknown>) => fn() }) };
const UNPACED = { write: UNPACED_GROUP, notifications: UNPACED_GROUP } as unknown as Pick<ThrottlingOptions, 'write' | 'notifications'>;

function withTimeout(base: typeof fetch, timeoutMs: number): typeof fetch {
  return (input, init) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    return base(input, { ...init, signal });
  };
}

interface OctokitSetup {
  readonly apiUrl: string;
  readonly fetch: typeof fetch;
  readonly limits: RetryLimits;
  readonly warn: (message: string) => void;
  readonly auth: { readonly token: string } | { readonly app: AppCredentials; readonly installationId: string | undefined };
}

function makeOctokit(setup: OctokitSetup): GitHubOctokit {
  const { limits, warn } = setup;
  const rateLimitRetries = limits.rateLimitRetries ?? 2;
  const maxWait = limits.maxRateLimitWaitSeconds ?? 60;
  const onLimit =
    (what: string) =>
    (retryAfter: number, options: { method: string; url: string }, _octokit: unknown, retryCount: number): boolean => {
      const retrying = retryCount < rateLimitRetries && retryAfter <= maxWait;
      // `url` is the route template; fill in its parameters so the message names the real path.
      const params = options as unknown as Record<string, unknown>;
      const path = options.url.replace(/\{(\w+)\}/g, (m, k: string) => (params[k] === undefined ? m : String(params[k])));
      warn(`GitHub ${what} on ${options.method} ${path}: ${retrying ? `retrying in ${retryAfter}s` : `giving up (asked to wait ${retryAfter}s)`}`);
      return retrying;
    };
  const noop = () => undefined;
  const throttle: ThrottlingOptions = {
    onRateLimit: onLimit('rate limit exhausted'),
    onSecondaryRateLimit: onLimit('secondary rate limit'),
    retryAfterBaseValue: limits.retryAfterUnitMs ?? 1000,
    ...(limits.paceWrites === false ? UNPACED : {}),
  };
  const common = {
    baseUrl: setup.apiUrl,
    userAgent: 'clawops',
    // Pinned: the approval check reads pull requests' merge_commit_sha, which API version
    // 2026-03-10 removes; the request and response shapes clawops relies on are this version's.
    headers: { 'x-github-api-version': GITHUB_API_VERSION },
    request: { fetch: setup.fetch },
    // Failed requests reach the caller as errors (explainGitHubError); logging them as well would only repeat them.
    log: { debug: noop, info: noop, warn: (m: string) => warn(m), error: noop },
    retry: { retries: limits.retries ?? 3, retryAfterBaseValue: limits.baseDelayMs ?? 1000 },
    throttle,
  };
  if ('token' in setup.auth) return new ClawopsOctokit({ ...common, auth: setup.auth.token });
  const { app, installationId } = setup.auth;
  return new ClawopsOctokit({
    ...common,
    authStrategy: createAppAuth,
    auth: { appId: app.appId, privateKey: app.privateKey, ...(installationId ? { installationId } : {}) },
  });
}

const statusOf = (e: unknown): number | undefined => (e && typeof e === 'object' && typeof (e as { status?: unknown }).status === 'number' ? (e as { status: number }).status : undefined);

type ClientSetup = Omit<OctokitSetup, 'auth'> & { readonly owner: string; readonly repo: string; readonly redactor: Redactor; readonly configuredLogin: string | undefined };

async function connectAsApp(app: AppCredentials, setup: ClientSetup): Promise<GitHubClient> {
  const { owner, repo, redactor, apiUrl } = setup;
  const credential = `the GitHub App ${app.appId} (${GITHUB_ENV.appId}, ${GITHUB_ENV.appKey}/${GITHUB_ENV.appKeyFile})`;
  const context: GitHubCredentialContext = { credential, apiUrl };
  let jwtOctokit: GitHubOctokit | undefined;
  // Authenticated as the App itself (a JWT), for the two questions only the App may ask.
  const asApp = () => (jwtOctokit ??= makeOctokit({ ...setup, auth: { app, installationId: undefined } }));

  let installationId = app.installationId;
  if (!installationId) {
    try {
      installationId = String((await asApp().rest.apps.getRepoInstallation({ owner, repo })).data.id);
    } catch (e) {
      if (statusOf(e) === 404) {
        throw new GitHubConfigError(`GitHub App ${app.appId} is not installed on ${owner}/${repo}: install it there, or set ${GITHUB_ENV.appInstallation}`, {
          missing: [GITHUB_ENV.appInstallation],
        });
      }
      throw explainGitHubError(e, `finding the installation of GitHub App ${app.appId} on ${owner}/${repo}`, context);
    }
  }
  const octokit = makeOctokit({ ...setup, auth: { app, installationId } });
  // Installation tokens are minted (and re-minted before they expire) inside auth-app; catch each one as it arrives.
  octokit.hook.after('request', (response, options) => {
    if (/\/app\/installations\/[^/]+\/access_tokens$/.test(options.url)) {
      const token = (response.data as { token?: unknown } | undefined)?.token;
      if (typeof token === 'string') redactor.add(token, 'github-token');
    }
  });

  let login = setup.configuredLogin ?? (app.slug ? botLogin(app.slug) : undefined);
  if (!login) {
    let slug: string | undefined;
    try {
      slug = (await asApp().rest.apps.getAuthenticated()).data?.slug;
    } catch (e) {
      throw explainGitHubError(e, `reading GitHub App ${app.appId}`, context);
    }
    if (!slug) throw new GitHubConfigError(`GitHub did not say GitHub App ${app.appId}'s slug; set ${GITHUB_ENV.appSlug}`, { missing: [GITHUB_ENV.appSlug] });
    login = botLogin(slug);
  }
  // Mint the installation token now: a wrong key or installation fails here, clearly, not mid-run.
  try {
    const auth = (await octokit.auth({ type: 'installation' })) as { token?: unknown };
    if (typeof auth.token === 'string') redactor.add(auth.token, 'github-token');
  } catch (e) {
    throw explainGitHubError(e, `getting an installation token for GitHub App ${app.appId} (installation ${installationId})`, context);
  }
  return { octokit, owner, repo, login, apiUrl, credential };
}

async function connectWithToken(env: ConnectGitHubOptions['env'], setup: ClientSetup): Promise<GitHubClient> {
  const { owner, repo, redactor, apiUrl } = setup;
  const tokenVar = GITHUB_ENV.token.find((name) => nonEmpty(env[name]));
  if (!tokenVar) {
    throw new GitHubConfigError(
      `no GitHub credentials: set ${GITHUB_ENV.token.join(' or ')} (in a workflow: \`env: GITHUB_TOKEN: \${{ github.token }}\`), or a GitHub App with ${GITHUB_ENV.appId}, ${GITHUB_ENV.appKey} and ${GITHUB_ENV.appInstallation}`,
      { missing: [...GITHUB_ENV.token, GITHUB_ENV.appId] },
    );
  }
  const token = env[tokenVar]!.trim();
  redactor.add(token, 'github-token');
  const octokit = makeOctokit({ ...setup, auth: { token } });
  let login = setup.configuredLogin;
  if (!login) {
    try {
      login = (await octokit.rest.users.getAuthenticated()).data.login;
    } catch (e) {
      // Installation and Actions tokens are not users: GitHub answers 403 "Resource not accessible
      // by integration". An App installation token passed as a token needs CLAWOPS_GITHUB_LOGIN.
      if (statusOf(e) !== 403) throw explainGitHubError(e, 'reading the user this token belongs to (GET /user)', { credential: tokenVar, apiUrl });
      login = ACTIONS_BOT_LOGIN;
    }
  }
  return { octokit, owner, repo, login, apiUrl, credential: tokenVar };
}

/**
 * Connects to the fleet repo's GitHub: resolves the API URL, repository and credentials (a GitHub
 * App wins over a token), then the login we act as. Throws `GitHubConfigError` naming the variable
 * or clawops.yaml field to set, or the `explainGitHubError` of the first request that failed.
 */
export async function connectGitHub(opts: ConnectGitHubOptions): Promise<GitHubClient> {
  const { redactor, env } = opts;
  const setup: ClientSetup = {
    ...resolveRepository(opts),
    apiUrl: resolveApiUrl(opts),
    fetch: withTimeout(opts.fetch ?? globalThis.fetch, opts.timeoutMs ?? 30_000),
    limits: { ...(env[GITHUB_ENV.paceWrites]?.trim().toLowerCase() === 'off' ? { paceWrites: false } : {}), ...opts.limits },
    warn: (m) => opts.warn?.(redactor.redact(m)),
    redactor,
    configuredLogin: nonEmpty(env[GITHUB_ENV.login]),
  };
  const app = await resolveApp(env, redactor);
  return app ? connectAsApp(app, setup) : connectWithToken(env, setup);
}

/** Case-insensitive, as GitHub logins are. */
export const isOurs = (gh: Pick<GitHubClient, 'login'>, login: string | undefined | null): boolean =>
  typeof login === 'string' && login.toLowerCase() === gh.login.toLowerCase();
