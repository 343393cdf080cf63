/**
 * A stateful fake of the GitHub REST API for tests, on 127.0.0.1, backed by a real bare git
 * repository. Every request and every response is checked against GitHub's published OpenAPI
 * description (openapi-validator.ts); what does not match lands in `problems`, which tests assert
 * stays empty. Octokit reaches it with `baseUrl: fake.url`; git reaches the same repository over
 * smart HTTP at `gitUrl` (token `botToken`) or directly at `bareRepo`.
 *
 * Requests are handled one at a time (state changes never interleave). Which operations exist,
 * and what each one does, is in the *-routes.ts files next to this one.
 */
import { randomBytes } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../../../fleet/harness/free-port.ts';
import { runGit, startGitHttpServer } from '../git-http-server.ts';
import { accountRoutes, JWT_OPERATIONS } from './account-routes.ts';
import { generateAppKey } from './app-jwt.ts';
import { BareRepo } from './bare-repo.ts';
import { checkCommentRoutes } from './check-comment-routes.ts';
import { gitRoutes } from './git-routes.ts';
import { FakeState, isoNow, type Annotation, type Caller, type CheckConclusion, type CheckStatus, type MergeMethod, type RepoState, type ReviewStateName } from './github-state.ts';
import { errorBody, Shapes } from './github-shapes.ts';
import { mergeRoutes } from './merge-routes.ts';
import { loadGitHubSpec } from './openapi-validator.ts';
import { pullRoutes } from './pull-routes.ts';
import { PullViews } from './pull-views.ts';
import { HttpError, type Reply, type Route, type RouteContext } from './routes.ts';

export interface FakeGitHubOptions {
  owner?: string;
  repo?: string;
  defaultBranch?: string;
  /** Default page size of list endpoints (GitHub: 30), small to force pagination in tests. */
  perPage?: number;
  /** Files for the first commit of the default branch (default: a README). */
  seedDir?: string;
  /** Start with no commit at all (git data endpoints answer 409 "Git Repository is empty."). */
  empty?: boolean;
}

export interface FakeRepo {
  readonly owner: string;
  readonly repo: string;
  readonly fullName: string;
  /** Absolute path of the bare repository (push to it directly to simulate a push to GitHub). */
  readonly bareRepo: string;
  /** Smart-HTTP URL; authenticate as `x-access-token:<botToken>`. */
  readonly gitUrl: string;
}

export interface FakeRequest {
  readonly method: string;
  readonly path: string;
  readonly operationId: string | undefined;
  readonly status: number;
  readonly login: string | undefined;
}

export interface FakePull {
  readonly number: number;
  readonly title: string;
  readonly body: string | null;
  readonly state: 'open' | 'closed';
  readonly draft: boolean;
  readonly author: string;
  readonly head: { readonly repo: string; readonly ref: string; readonly sha: string };
  readonly base: { readonly ref: string; readonly sha: string };
  readonly merged: { readonly method: MergeMethod; readonly sha: string; readonly by: string; readonly at: string } | undefined;
  readonly requestedReviewers: readonly string[];
  readonly requestedTeams: readonly string[];
}

export interface FakeReview {
  readonly id: number;
  readonly user: string;
  readonly state: ReviewStateName;
  readonly commitId: string | null;
  readonly body: string;
}

export interface FakeComment {
  readonly id: number;
  readonly user: string;
  readonly body: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface FakeCheckRun {
  readonly id: number;
  readonly name: string;
  readonly headSha: string;
  readonly status: CheckStatus;
  readonly conclusion: CheckConclusion | null;
  readonly title: string | null;
  readonly summary: string | null;
  readonly text: string | null;
  readonly annotations: readonly Annotation[];
}

export interface FakeGitHub extends FakeRepo {
  /** Octokit's baseUrl, e.g. http://127.0.0.1:PORT (the API is served at the root, like api.github.com). */
  readonly url: string;
  /** 'clawops-bot[bot]': who `botToken` and App installation tokens act as. */
  readonly botLogin: string;
  readonly botToken: string;
  /** A token that authenticates as a (human) user; creates the user if new. Same login, same token. */
  tokenFor(login: string, opts?: { email?: string; name?: string }): string;
  /** Commits with this author/committer email are attributed to `login` (pulls/list-commits). */
  setEmail(login: string, email: string): void;
  addTeam(org: string, slug: string, members: readonly string[]): void;
  /** Another repository: a fork of the main one (`owner/<repo>`, head of cross-repository pull requests), or an empty one. */
  addRepo(opts: { owner: string; repo?: string; fork?: boolean; empty?: boolean }): Promise<FakeRepo>;
  /**
   * The GitHub App (slug 'clawops-bot'), installed on every repository of `owner`. Its endpoints (GET /app,
   * GET /repos/{owner}/{repo}/installation, POST /app/installations/{installationId}/access_tokens) take an
   * RS256 JWT signed by `privateKeyPem` (PKCS#1), `iss` = appId.
   */
  readonly app: { readonly appId: number; readonly privateKeyPem: string; readonly installationId: number };
  /** Every request served. */
  readonly requests: readonly FakeRequest[];
  /** Spec violations seen in any request or response. */
  readonly problems: readonly string[];
  /** The next `times` (default 1) requests of `operationId` fail with this status; it must be one the operation may answer. */
  failNext(operationId: string, status: number, opts?: { headers?: Record<string, string>; times?: number; message?: string }): void;
  /** Pull requests of the main repository, heads brought up to date with their branches. */
  pulls(): Promise<readonly FakePull[]>;
  reviews(prNumber: number): readonly FakeReview[];
  comments(prNumber: number): readonly FakeComment[];
  checkRuns(): readonly FakeCheckRun[];
  close(): Promise<void>;
}

function defaultMessage(status: number, headers: Record<string, string>): string {
  if ((status === 403 || status === 429) && headers['retry-after'] !== undefined) {
    return 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.';
  }
  if ((status === 403 || status === 429) && headers['x-ratelimit-remaining'] === '0') return 'API rate limit exceeded for installation.';
  if (status === 401) return 'Bad credentials';
  if (status === 422) return 'Validation Failed';
  return STATUS_CODES[status] ?? 'Error';
}

export async function startFakeGitHub(opts: FakeGitHubOptions = {}): Promise<FakeGitHub> {
  const owner = opts.owner ?? 'acme';
  const repoName = opts.repo ?? 'fleet';
  const defaultBranch = opts.defaultBranch ?? 'main';
  const spec = loadGitHubSpec();
  const state = new FakeState();
  const appSlug = 'clawops-bot';
  const botLogin = `${appSlug}[bot]`;
  state.account(owner, 'Organization');
  state.account(botLogin, 'Bot');
  state.account('web-flow').email = 'noreply@github.com';
  const botToken = state.mintToken(botLogin, 'installation');
  const [port, key, gitServer] = await Promise.all([freePort(), generateAppKey(), startGitHttpServer({ token: botToken })]);
  const url = `http://127.0.0.1:${port}`;
  const app = { appId: 424242, installationId: 5_000_001, privateKeyPem: key.privateKeyPem };
  const shapes = new Shapes(state, url, url, gitServer.url, { id: app.appId, slug: appSlug, name: 'clawops', owner, createdAt: isoNow() });
  const views = new PullViews(state);
  const routes: Record<string, Route> = {
    ...pullRoutes,
    ...mergeRoutes,
    ...gitRoutes,
    ...checkCommentRoutes,
    ...accountRoutes({ appId: app.appId, installationId: app.installationId, publicKey: key.publicKey, botLogin, account: owner, tokenTtlMs: 3_600_000 }),
  };

  const createRepo = async (o: { owner: string; repo: string; fork?: RepoState; empty?: boolean; seedDir?: string }): Promise<RepoState> => {
    const gitdir = join(gitServer.root, o.owner, `${o.repo}.git`);
    let git: BareRepo;
    if (o.fork) {
      const r = await runGit(['clone', '--bare', '--quiet', o.fork.git.gitdir, gitdir]);
      if (r.code !== 0) throw new Error(`cannot fork ${o.fork.fullName}: ${r.stderr}`);
      git = new BareRepo(gitdir);
    } else {
      git = await BareRepo.init(gitdir, defaultBranch);
      if (!o.empty) {
        const who = { name: 'Fleet Admin', email: 'admin@example.com', date: isoNow() };
        if (o.seedDir) {
          await git.commitDirectory(o.seedDir, defaultBranch, 'Initial commit', who);
        } else {
          const tree = await git.buildTree(undefined, [{ path: 'README.md', content: `# ${o.repo}\n` }]);
          await git.updateRef(`refs/heads/${defaultBranch}`, await git.commitTree({ tree, parents: [], message: 'Initial commit', author: who, committer: who }), undefined);
        }
      }
    }
    const repo: RepoState = { id: state.id(), owner: o.owner, name: o.repo, fullName: `${o.owner}/${o.repo}`, git, defaultBranch, createdAt: isoNow(), parent: o.fork, nextNumber: 1 };
    state.repos.set(repo.fullName.toLowerCase(), repo);
    return repo;
  };
  const main = await createRepo({ owner, repo: repoName, empty: opts.empty, seedDir: opts.seedDir });
  const asFakeRepo = (r: RepoState): FakeRepo => ({ owner: r.owner, repo: r.name, fullName: r.fullName, bareRepo: r.git.gitdir, gitUrl: `${gitServer.url}/${r.fullName}.git` });

  const requests: FakeRequest[] = [];
  const problems: string[] = [];
  const failures = new Map<string, Array<{ status: number; headers: Record<string, string>; message: string | undefined }>>();
  const used = new Map<string, number>();
  const resetAt = Math.floor(Date.now() / 1000) + 3600;

  const handle = async (req: IncomingMessage, raw: Buffer): Promise<{ reply: Reply; opId: string | undefined; login: string | undefined }> => {
    const requestUrl = new URL(req.url ?? '/', url);
    const method = req.method ?? 'GET';
    const label = `${method} ${requestUrl.pathname}`;
    const match = spec.matchOperation(method, requestUrl.pathname);
    if (!match) {
      problems.push(`${label}: no operation in the description matches`);
      return { reply: { status: 404, body: errorBody(404, 'Not Found', 'https://docs.github.com/rest') }, opId: undefined, login: undefined };
    }
    const opId = match.operationId;
    const docsUrl = spec.docsUrl(opId);
    const authorization = req.headers.authorization;
    let caller: Caller | undefined;
    if (!JWT_OPERATIONS.has(opId)) {
      const token = /^(?:token|bearer)\s+(\S+)$/i.exec(authorization ?? '')?.[1];
      if (!token) return { reply: { status: 401, body: errorBody(401, 'Requires authentication', docsUrl) }, opId, login: undefined };
      caller = state.callerFor(token);
      if (!caller) return { reply: { status: 401, body: errorBody(401, 'Bad credentials', docsUrl) }, opId, login: undefined };
    }
    const login = caller?.login;
    let body: unknown;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8')) as unknown;
      } catch {
        problems.push(`${label} (${opId}): request body is not JSON`);
        return { reply: { status: 400, body: errorBody(400, 'Problems parsing JSON', docsUrl) }, opId, login };
      }
    }
    const invalid = spec.validateRequest(opId, match.params, requestUrl.searchParams, body);
    if (invalid.length > 0) {
      problems.push(...invalid.map((p) => `${label} (${opId}): ${p}`));
      return { reply: { status: 422, body: errorBody(422, `Invalid request.\n\n${invalid.join('\n')}`, docsUrl) }, opId, login };
    }
    const queued = failures.get(opId);
    const failure = queued?.shift();
    if (failure) return { reply: { status: failure.status, body: errorBody(failure.status, failure.message ?? defaultMessage(failure.status, failure.headers), docsUrl), headers: failure.headers }, opId, login };
    const ctx: RouteContext = { operationId: opId, params: match.params, query: requestUrl.searchParams, body, caller, authorization, url: requestUrl, state, shapes, spec, defaultPerPage: opts.perPage ?? 30, pulls: views };
    const route = routes[opId];
    if (!route) {
      problems.push(`${label} (${opId}): the fake does not implement this operation`);
      return { reply: { status: 404, body: errorBody(404, 'Not Found', docsUrl) }, opId, login };
    }
    try {
      return { reply: await route(ctx), opId, login };
    } catch (e) {
      if (e instanceof HttpError) return { reply: { status: e.status, body: e.body }, opId, login };
      problems.push(`${label} (${opId}): the fake failed: ${(e as Error).stack ?? String(e)}`);
      return { reply: { status: 500, body: errorBody(500, 'Server Error', docsUrl) }, opId, login };
    }
  };

  const send = (req: IncomingMessage, res: ServerResponse, result: Awaited<ReturnType<typeof handle>>) => {
    const { reply, opId, login } = result;
    const bucket = login ?? `ip:${req.socket.remoteAddress ?? ''}`;
    const count = (used.get(bucket) ?? 0) + 1;
    used.set(bucket, count);
    const limit = login ? 5000 : 60;
    const headers: Record<string, string> = {
      'x-github-request-id': `${randomBytes(2).toString('hex').toUpperCase()}:${randomBytes(3).toString('hex').toUpperCase()}:${randomBytes(4).toString('hex').toUpperCase()}:${randomBytes(4).toString('hex').toUpperCase()}:${Math.floor(Date.now() / 1000).toString(16).toUpperCase()}`,
      'x-github-api-version-selected': '2022-11-28',
      'x-github-media-type': 'github.v3; format=json',
      'x-ratelimit-limit': String(limit),
      'x-ratelimit-remaining': String(Math.max(0, limit - count)),
      'x-ratelimit-reset': String(resetAt),
      'x-ratelimit-used': String(count),
      'x-ratelimit-resource': 'core',
      ...(reply.body !== undefined ? { 'content-type': 'application/json; charset=utf-8' } : {}),
      ...reply.headers,
    };
    const requestUrl = new URL(req.url ?? '/', url);
    if (opId) {
      const found = spec.validateResponse(opId, reply.status, headers, reply.body);
      problems.push(...found.map((p) => `${req.method} ${requestUrl.pathname} (${opId}): ${p}`));
    }
    requests.push({ method: req.method ?? 'GET', path: requestUrl.pathname, operationId: opId, status: reply.status, login });
    res.writeHead(reply.status, headers);
    res.end(reply.body === undefined ? undefined : JSON.stringify(reply.body));
  };

  // One request at a time: state changes never interleave.
  let queue: Promise<void> = Promise.resolve();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      queue = queue.then(async () => {
        try {
          send(req, res, await handle(req, raw));
        } catch (e) {
          problems.push(`${req.method} ${req.url}: the fake failed: ${String(e)}`);
          if (!res.headersSent) res.writeHead(500);
          res.end();
        }
      });
    });
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });

  const snapshotPull = (p: (typeof state.pulls)[number]): FakePull => ({
    number: p.number,
    title: p.title,
    body: p.body,
    state: p.state,
    draft: p.draft,
    author: p.author,
    head: { repo: p.headRepo.fullName, ref: p.headRef, sha: p.headSha },
    base: { ref: p.baseRef, sha: p.baseSha },
    merged: p.merged ? { method: p.merged.method, sha: p.merged.sha, by: p.merged.by, at: p.merged.at } : undefined,
    requestedReviewers: [...p.requestedReviewers],
    requestedTeams: [...p.requestedTeams],
  });

  return {
    ...asFakeRepo(main),
    url,
    botLogin,
    botToken,
    app,
    requests,
    problems,
    tokenFor(login, o = {}) {
      const account = state.account(login);
      if (o.email !== undefined) account.email = o.email;
      if (o.name !== undefined) account.name = o.name;
      for (const [token, t] of state.tokens) if (t.kind === 'user' && t.login.toLowerCase() === login.toLowerCase()) return token;
      return state.mintToken(account.login, 'user');
    },
    setEmail(login, email) {
      state.account(login).email = email;
    },
    addTeam(org, slug, members) {
      state.account(org, 'Organization');
      for (const m of members) state.account(m);
      state.teams.set(`${org}/${slug}`.toLowerCase(), { id: state.id(), org, slug, name: slug, members: members.map((m) => state.account(m).login) });
    },
    async addRepo(o) {
      const name = o.repo ?? repoName;
      if (state.repo(o.owner, name)) throw new Error(`${o.owner}/${name} already exists in the fake`);
      state.account(o.owner);
      return asFakeRepo(await createRepo({ owner: o.owner, repo: name, ...(o.fork ? { fork: main } : {}), empty: o.empty ?? false }));
    },
    failNext(operationId, status, o = {}) {
      if (!spec.operations.has(operationId)) throw new Error(`failNext: ${operationId} is not an operation of the description`);
      if (!spec.allowsStatus(operationId, status)) throw new Error(`failNext: GitHub does not answer ${status} to ${operationId}`);
      const list = failures.get(operationId) ?? [];
      for (let i = 0; i < (o.times ?? 1); i++) list.push({ status, headers: { ...o.headers }, message: o.message });
      failures.set(operationId, list);
    },
    async pulls() {
      const mine = state.pulls.filter((p) => p.repo === main);
      for (const p of mine) await views.refresh(p);
      return mine.map(snapshotPull);
    },
    reviews(prNumber) {
      return state.reviews.filter((r) => r.repo === main && r.pullNumber === prNumber).map((r) => ({ id: r.id, user: r.user, state: r.state, commitId: r.commitId, body: r.body }));
    },
    comments(prNumber) {
      return state.comments.filter((c) => c.repo === main && c.issueNumber === prNumber).map((c) => ({ id: c.id, user: c.user, body: c.body, createdAt: c.createdAt, updatedAt: c.updatedAt }));
    },
    checkRuns() {
      return state.checkRuns
        .filter((r) => r.repo === main)
        .map((r) => ({ id: r.id, name: r.name, headSha: r.headSha, status: r.status, conclusion: r.conclusion, title: r.output.title, summary: r.output.summary, text: r.output.text, annotations: shapes.annotations(r) }));
    },
    async close() {
      await queue.catch(() => undefined);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await gitServer.close();
    },
  };
}

