/**
 * The GitHub client, its error explanations, the sticky plan comment, the check run and its
 * annotations, against the fake GitHub (test/helpers/github/fake-github.ts), which checks every
 * request and response against GitHub's OpenAPI description: each test ends with no problems.
 * Retries and rate limits are Octokit's plugins reacting to failures the fake injects; their waits
 * are scaled down to milliseconds, never asserted.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Octokit } from '@octokit/rest';
import { parse as parseYaml } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../fleet/harness/free-port.ts';
import { ClawopsError } from '../reconciler/errors.ts';
import { annotationsFor, checkConclusion, repoPath } from '../reconciler/github/annotations.ts';
import { normalizeAnnotation, publishCheckRun, type CheckAnnotation } from '../reconciler/github/check-run.ts';
import { connectGitHub, GitHubConfigError, type ConnectGitHubOptions, type GitHubClient } from '../reconciler/github/client.ts';
import { explainGitHubError, GitHubError } from '../reconciler/github/errors.ts';
import { COMMENT_BODY_LIMIT, TRUNCATED_COMMENT_NOTE, upsertStickyComment } from '../reconciler/github/sticky-comment.ts';
import { fitMarkdown } from '../reconciler/github/truncate.ts';
import { loadRepo } from '../reconciler/load/load-repo.ts';
import type { ResourceOf } from '../reconciler/model/kinds.ts';
import { assemblePlan } from '../reconciler/plan/make-plan.ts';
import { planGateway } from '../reconciler/plan/planner.ts';
import { activeExceptions } from '../reconciler/policy/exceptions.ts';
import { compileRuleSet } from '../reconciler/policy/rule-set.ts';
import { PolicyEngine } from '../reconciler/policy/verdict.ts';
import { Redactor } from '../reconciler/redact/redactor.ts';
import { fleets, freshGateway, RULE_FILE, SUPPORT_FILE, secretHasher } from './fixtures/planner/fleet.ts';
import { startFakeGitHub, type FakeGitHub } from './helpers/github/fake-github.ts';

/** Octokit's waits in milliseconds instead of seconds; no one-second pacing between writes. */
const FAST = { baseDelayMs: 1, retryAfterUnitMs: 1, paceWrites: false } as const;

let fake: FakeGitHub;
let headSha: string;
let pr: number;
const tmp = mkdtempSync(join(tmpdir(), 'clawops-github-'));

beforeAll(async () => {
  fake = await startFakeGitHub();
  // A pull request by alice, as a person would open one: a branch with one commit.
  const alice = userOctokit('alice');
  const { owner, repo } = fake;
  const main = (await alice.rest.git.getRef({ owner, repo, ref: 'heads/main' })).data.object.sha;
  const base = await alice.rest.git.getCommit({ owner, repo, commit_sha: main });
  const tree = await alice.rest.git.createTree({ owner, repo, base_tree: base.data.tree.sha, tree: [{ path: 'agents/a.yaml', mode: '100644', type: 'blob', content: 'kind: Agent\n' }] });
  const commit = await alice.rest.git.createCommit({ owner, repo, message: 'Add an agent', tree: tree.data.sha, parents: [main] });
  await alice.rest.git.createRef({ owner, repo, ref: 'refs/heads/add-agent', sha: commit.data.sha });
  pr = (await alice.rest.pulls.create({ owner, repo, title: 'Add an agent', head: 'add-agent', base: 'main' })).data.number;
  headSha = commit.data.sha;
});
afterEach(() => {
  expect(fake.problems).toEqual([]);
});
afterAll(async () => {
  await fake?.close();
  rmSync(tmp, { recursive: true, force: true });
});

function userOctokit(login: string): Octokit {
  return new Octokit({ baseUrl: fake.url, auth: fake.tokenFor(login) });
}

const baseEnv = () => ({ GITHUB_API_URL: fake.url, GITHUB_REPOSITORY: `${fake.owner}/${fake.repo}` });
const appEnv = () => ({
  ...baseEnv(),
  CLAWOPS_GITHUB_APP_ID: String(fake.app.appId),
  CLAWOPS_GITHUB_APP_PRIVATE_KEY: fake.app.privateKeyPem,
  CLAWOPS_GITHUB_APP_INSTALLATION_ID: String(fake.app.installationId),
  CLAWOPS_GITHUB_APP_SLUG: 'clawops-bot',
});

function connect(env: Record<string, string>, extra: Partial<ConnectGitHubOptions> = {}): Promise<GitHubClient> {
  return connectGitHub({ env, redactor: new Redactor(), limits: FAST, ...extra });
}

/** Requests the fake served since `from`, as `operationId status`. */
const served = (from: number, op?: string) =>
  fake.requests
    .slice(from)
    .filter((r) => !op || r.operationId === op)
    .map((r) => `${r.operationId} ${r.status}`);

async function thrown(p: Promise<unknown>): Promise<ClawopsError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ClawopsError);
  return e as ClawopsError;
}

describe('connecting', () => {
  it('names what to set when the repository or the credentials are missing', async () => {
    const noRepo = await thrown(connect({ GITHUB_TOKEN: 'x' }));
    expect(noRepo).toBeInstanceOf(GitHubConfigError);
    expect(noRepo.message).toContain('spec.github.repository');
    expect(noRepo.message).toContain('GITHUB_REPOSITORY');
    const noToken = await thrown(connect(baseEnv()));
    expect(noToken.message).toMatch(/set CLAWOPS_GITHUB_TOKEN or GITHUB_TOKEN/);
    expect(noToken.message).toContain('CLAWOPS_GITHUB_APP_ID');
    const halfApp = await thrown(connect({ ...baseEnv(), CLAWOPS_GITHUB_APP_ID: '1' }));
    expect(halfApp.message).toMatch(/set CLAWOPS_GITHUB_APP_PRIVATE_KEY .* or CLAWOPS_GITHUB_APP_PRIVATE_KEY_FILE/);
    const badRepo = await thrown(connect({ GITHUB_TOKEN: 'x', GITHUB_REPOSITORY: 'just-a-name' }));
    expect(badRepo.message).toContain('owner/name');
  });

  it('takes the API URL and repository from clawops.yaml over the environment, and the environment over the default', async () => {
    const env = { GITHUB_TOKEN: 'ghp_unused', CLAWOPS_GITHUB_LOGIN: 'someone', GITHUB_REPOSITORY: 'env/repo', GITHUB_API_URL: 'https://ghe.example.com/api/v3/' };
    const fromEnv = await connect(env);
    expect([fromEnv.apiUrl, fromEnv.owner, fromEnv.repo, fromEnv.login]).toEqual(['https://ghe.example.com/api/v3', 'env', 'repo', 'someone']);
    const fromConfig = await connect(env, { github: { repository: 'cfg/fleet', apiUrl: 'https://other.example.com/api/v3' } });
    expect([fromConfig.apiUrl, fromConfig.owner, fromConfig.repo]).toEqual(['https://other.example.com/api/v3', 'cfg', 'fleet']);
    const byDefault = await connect({ GITHUB_TOKEN: 'ghp_unused', CLAWOPS_GITHUB_LOGIN: 'someone' }, { github: { repository: 'a/b' } });
    expect(byDefault.apiUrl).toBe('https://api.github.com');
  });

  it('with a token: asks GET /user who it is, and puts the token in the redactor', async () => {
    const token = fake.tokenFor('carol');
    const redactor = new Redactor();
    const from = fake.requests.length;
    const gh = await connectGitHub({ env: { ...baseEnv(), GITHUB_TOKEN: token }, redactor, limits: FAST });
    expect(gh.login).toBe('carol');
    expect(gh.credential).toBe('GITHUB_TOKEN');
    expect(fake.requests.slice(from).map((r) => `${r.operationId} ${r.status} ${r.login}`)).toEqual(['users/get-authenticated 200 carol']);
    expect(redactor.redact(`token=${token}`)).toBe('token=[REDACTED:github-token]');
  });

  it('CLAWOPS_GITHUB_TOKEN wins over GITHUB_TOKEN', async () => {
    const gh = await connect({ ...baseEnv(), CLAWOPS_GITHUB_TOKEN: fake.tokenFor('dave'), GITHUB_TOKEN: fake.tokenFor('carol') });
    expect([gh.login, gh.credential]).toEqual(['dave', 'CLAWOPS_GITHUB_TOKEN']);
  });

  it('with an installation or Actions token, GET /user answers 403 and the login is github-actions[bot]', async () => {
    const from = fake.requests.length;
    const gh = await connect({ ...baseEnv(), GITHUB_TOKEN: fake.botToken });
    expect(served(from)).toEqual(['users/get-authenticated 403']);
    expect(gh.login).toBe('github-actions[bot]');
    // CLAWOPS_GITHUB_LOGIN names it without asking.
    const named = await connect({ ...baseEnv(), GITHUB_TOKEN: fake.botToken, CLAWOPS_GITHUB_LOGIN: fake.botLogin });
    expect(named.login).toBe(fake.botLogin);
  });

  it('as a GitHub App: mints an installation token with a JWT, redacts it, and acts as <slug>[bot]', async () => {
    const redactor = new Redactor();
    const from = fake.requests.length;
    const gh = await connectGitHub({ env: appEnv(), redactor, limits: FAST });
    expect(gh.login).toBe('clawops-bot[bot]');
    expect(gh.credential).toMatch(/GitHub App 424242/);
    expect(served(from)).toEqual(['apps/create-installation-access-token 201']);
    await gh.octokit.rest.repos.get({ owner: gh.owner, repo: gh.repo });
    // The repo read went out with the installation token, which the fake knows as the App's bot.
    expect(fake.requests.at(-1)).toMatchObject({ operationId: 'repos/get', status: 200, login: 'clawops-bot[bot]' });
    const { token } = (await gh.octokit.auth({ type: 'installation' })) as { token: string };
    expect(token.length).toBeGreaterThan(10);
    expect(redactor.redact(`x ${token} y`)).toBe('x [REDACTED:github-token] y');
    // Tokens minted later (auth-app refreshes them before they expire) are caught as they arrive.
    const { token: fresh } = (await gh.octokit.auth({ type: 'installation', refresh: true })) as { token: string };
    expect(fresh).not.toBe(token);
    expect(redactor.redact(fresh)).toBe('[REDACTED:github-token]');
    // The key's body is masked line by line too (the PEM rule alone needs both armour lines).
    const keyLine = fake.app.privateKeyPem.split('\n')[5]!;
    expect(redactor.redact(`..${keyLine}..`)).toBe('..[REDACTED:github-app-key]..');
  });

  it('a key that is not the App’s: GitHub refuses the JWT and the message says what to check', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const e = await thrown(connect({ ...appEnv(), CLAWOPS_GITHUB_APP_PRIVATE_KEY: privateKey }));
    expect(e.data).toMatchObject({ problem: 'bad-credentials', status: 401 });
    expect(e.message).toMatch(/^getting an installation token for GitHub App 424242 \(installation 5000001\) failed: GitHub rejected the GitHub App 424242 .*\(401 A JSON web token could not be decoded\); check the App ID, that the private key is the App’s current one, and the installation ID$/);
    expect(e.message).not.toContain('PRIVATE KEY');
  });

  it('as a GitHub App without a slug or installation id: asks GET /app and the repo installation, both with the JWT', async () => {
    const env: Record<string, string> = { ...appEnv() };
    delete env.CLAWOPS_GITHUB_APP_SLUG;
    delete env.CLAWOPS_GITHUB_APP_INSTALLATION_ID;
    const from = fake.requests.length;
    const gh = await connect(env);
    // The fake answers both only to the App's JWT (no login), and the installation it names is the one the token comes from.
    expect(fake.requests.slice(from).map((r) => `${r.operationId} ${r.status} ${r.login}`)).toEqual([
      'apps/get-repo-installation 200 undefined',
      'apps/get-authenticated 200 undefined',
      'apps/create-installation-access-token 201 undefined',
    ]);
    expect(fake.requests.slice(from).find((r) => r.operationId === 'apps/create-installation-access-token')?.path).toBe(`/app/installations/${fake.app.installationId}/access_tokens`);
    expect(gh.login).toBe('clawops-bot[bot]');
    await gh.octokit.rest.repos.get({ owner: gh.owner, repo: gh.repo });
    expect(fake.requests.at(-1)).toMatchObject({ operationId: 'repos/get', login: 'clawops-bot[bot]' });
  });

  it('as a GitHub App not installed on the repository: says so and names CLAWOPS_GITHUB_APP_INSTALLATION_ID', async () => {
    const elsewhere = await fake.addRepo({ owner: 'elsewhere', empty: true });
    const env: Record<string, string> = { ...appEnv(), GITHUB_REPOSITORY: `${elsewhere.owner}/${elsewhere.repo}` };
    delete env.CLAWOPS_GITHUB_APP_INSTALLATION_ID;
    const from = fake.requests.length;
    const e = await thrown(connect(env));
    expect(e).toBeInstanceOf(GitHubConfigError);
    expect(e.message).toBe(`GitHub App 424242 is not installed on elsewhere/fleet: install it there, or set CLAWOPS_GITHUB_APP_INSTALLATION_ID`);
    expect(served(from)).toEqual(['apps/get-repo-installation 404']);
  });

  it('reads the App key from CLAWOPS_GITHUB_APP_PRIVATE_KEY_FILE, and from a secret whose newlines became "\\n"', async () => {
    const file = join(tmp, 'app.pem');
    writeFileSync(file, fake.app.privateKeyPem);
    const env: Record<string, string> = { ...appEnv(), CLAWOPS_GITHUB_APP_PRIVATE_KEY_FILE: file };
    delete env.CLAWOPS_GITHUB_APP_PRIVATE_KEY;
    expect((await connect(env)).login).toBe('clawops-bot[bot]');
    const escaped = await connect({ ...appEnv(), CLAWOPS_GITHUB_APP_PRIVATE_KEY: fake.app.privateKeyPem.trim().replace(/\n/g, '\\n') });
    expect(escaped.login).toBe('clawops-bot[bot]');
    const missing = await thrown(connect({ ...env, CLAWOPS_GITHUB_APP_PRIVATE_KEY_FILE: join(tmp, 'nope.pem') }));
    expect(missing.message).toMatch(/CLAWOPS_GITHUB_APP_PRIVATE_KEY_FILE names .*nope\.pem, which cannot be read \(ENOENT\)/);
  });

  it('a wrong installation id fails at connect, saying what it was doing', async () => {
    const e = await thrown(connect({ ...appEnv(), CLAWOPS_GITHUB_APP_INSTALLATION_ID: '99' }));
    expect(e).toBeInstanceOf(GitHubError);
    expect(e.message).toMatch(/^getting an installation token for GitHub App 424242 \(installation 99\) failed: GitHub answered 404/);
  });
});

describe('retries and rate limits are Octokit’s plugins', () => {
  it('a 502 is retried until it succeeds', async () => {
    const gh = await connect(appEnv());
    fake.failNext('repos/get', 502, { times: 2 });
    const from = fake.requests.length;
    const { data } = await gh.octokit.rest.repos.get({ owner: gh.owner, repo: gh.repo });
    expect(data.full_name).toBe(`${fake.owner}/${fake.repo}`);
    expect(served(from)).toEqual(['repos/get 502', 'repos/get 502', 'repos/get 200']);
  });

  it('a 502 that never ends is given up after the configured retries and explained', async () => {
    const gh = await connect(appEnv(), { limits: { ...FAST, retries: 2 } });
    fake.failNext('repos/get', 502, { times: 3 });
    const from = fake.requests.length;
    const e = await gh.octokit.rest.repos.get({ owner: gh.owner, repo: gh.repo }).catch((x: unknown) => x);
    expect(served(from)).toEqual(['repos/get 502', 'repos/get 502', 'repos/get 502']);
    expect(explainGitHubError(e, 'reading the repository', gh).message).toMatch(/GitHub had an error \(502 .*\) and still did after clawops' retries/);
  });

  it('a secondary rate limit (403 with retry-after) waits as asked and retries, and says so', async () => {
    const warnings: string[] = [];
    const gh = await connect(appEnv(), { warn: (m) => warnings.push(m) });
    fake.failNext('issues/create-comment', 403, { headers: { 'retry-after': '2' } });
    const from = fake.requests.length;
    const r = await upsertStickyComment(gh, pr, { marker: 'retry-test', body: 'after a secondary limit' });
    expect(r.action).toBe('created');
    expect(served(from, 'issues/create-comment')).toEqual(['issues/create-comment 403', 'issues/create-comment 201']);
    expect(warnings).toEqual([`GitHub secondary rate limit on POST /repos/acme/fleet/issues/${pr}/comments: retrying in 2s`]);
    expect(fake.comments(pr).filter((c) => c.body.includes('after a secondary limit'))).toHaveLength(1);
  });

  it('a rate limit that asks for a longer wait than allowed fails at once, saying when to retry', async () => {
    const gh = await connect(appEnv());
    fake.failNext('issues/create-comment', 403, { headers: { 'retry-after': '3600' } });
    const from = fake.requests.length;
    const e = await thrown(upsertStickyComment(gh, pr, { marker: 'limit-test', body: 'x' }));
    expect(served(from, 'issues/create-comment')).toEqual(['issues/create-comment 403']);
    expect(e.data).toMatchObject({ problem: 'secondary-rate-limit', retryAfterSeconds: 3600 });
    expect(e.message).toMatch(/^posting the clawops comment on acme\/fleet#\d+ failed: GitHub's secondary rate limit .* try again in 3600s/);
  });

  it('an exhausted primary rate limit says when it resets', async () => {
    const gh = await connect(appEnv());
    const reset = Math.floor(Date.now() / 1000) + 1800;
    fake.failNext('repos/get', 403, { headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset), 'x-ratelimit-limit': '5000' } });
    const e = explainGitHubError(
      await gh.octokit.rest.repos.get({ owner: gh.owner, repo: gh.repo }).catch((x: unknown) => x),
      'reading the repository',
      gh,
    );
    expect(e.data).toMatchObject({ problem: 'rate-limit', resetAt: new Date(reset * 1000).toISOString() });
    expect(e.message).toContain(`(5000 requests per hour); it resets at ${new Date(reset * 1000).toISOString()} (in 30 minutes)`);
  });
});

describe('errors say what to fix, never the token', () => {
  it('401: which variable holds the bad token', async () => {
    const bad = 'ghp_' + 'A1b2C3d4E5'.repeat(4);
    const e = await thrown(connect({ ...baseEnv(), CLAWOPS_GITHUB_TOKEN: bad }));
    expect(e.data).toMatchObject({ problem: 'bad-credentials', status: 401 });
    expect(e.message).toBe(
      'reading the user this token belongs to (GET /user) failed: GitHub rejected CLAWOPS_GITHUB_TOKEN (401 Bad credentials); set CLAWOPS_GITHUB_TOKEN to a valid token (it is wrong, expired or revoked)',
    );
    expect(JSON.stringify(e.toJSON())).not.toContain(bad);
  });

  it('a team that cannot be read (404 or 403): needs members read access, which GITHUB_TOKEN lacks', async () => {
    const gh = await connect({ ...baseEnv(), GITHUB_TOKEN: fake.tokenFor('carol') });
    const missing = await gh.octokit.rest.teams.listMembersInOrg({ org: 'acme', team_slug: 'security' }).catch((x: unknown) => x);
    const e404 = explainGitHubError(missing, 'reading the members of team acme/security', gh);
    expect(e404.data).toMatchObject({ problem: 'team-access', status: 404 });
    expect(e404.message).toContain(
      'reading team acme/security needs organization members read access (GitHub answered 404 Not Found): the Actions GITHUB_TOKEN cannot read teams; use a GitHub App installation token with `members: read` (CLAWOPS_GITHUB_APP_*) or a token with `read:org`',
    );
    fake.addTeam('acme', 'security', ['erin']);
    fake.failNext('teams/list-members-in-org', 403, { message: 'Resource not accessible by integration' });
    const refused = await gh.octokit.rest.teams.listMembersInOrg({ org: 'acme', team_slug: 'security' }).catch((x: unknown) => x);
    const e403 = explainGitHubError(refused, 'reading the members of team acme/security', gh);
    expect(e403.data).toMatchObject({ problem: 'team-access', status: 403 });
    expect(e403.message).toContain('reading team acme/security needs organization members read access');
    // With access, it reads.
    const members = await gh.octokit.paginate(gh.octokit.rest.teams.listMembersInOrg, { org: 'acme', team_slug: 'security' });
    expect(members.map((m) => m.login)).toEqual(['erin']);
  });

  it('403 "Resource not accessible by integration": the workflow permission to add, and the fork caveat', async () => {
    const gh = await connect(appEnv());
    fake.failNext('checks/create', 403, { message: 'Resource not accessible by integration' });
    const e = await thrown(publishCheckRun(gh, { name: 'perm-test', headSha, conclusion: 'success', title: 't', summary: 's', annotations: [] }));
    expect(e.data).toMatchObject({ problem: 'permission', status: 403, method: 'POST', path: '/repos/acme/fleet/check-runs' });
    expect(e.message).toContain('the workflow needs `permissions: { checks: write }` (a GitHub App needs the Checks "Read and write" permission)');
    expect(e.message).toContain('from a fork GitHub gives the workflow a read-only token');
    fake.failNext('issues/create-comment', 403, { message: 'Resource not accessible by integration' });
    const c = await thrown(upsertStickyComment(gh, pr, { marker: 'perm-test', body: 'x' }));
    expect(c.message).toContain('`permissions: { pull-requests: write }`');
  });

  it('a user token cannot write check runs: says to use GITHUB_TOKEN or an App', async () => {
    const gh = await connect({ ...baseEnv(), GITHUB_TOKEN: fake.tokenFor('carol') });
    const e = await thrown(publishCheckRun(gh, { name: 'user-test', headSha, conclusion: 'success', title: 't', summary: 's', annotations: [] }));
    expect(e.message).toMatch(/only a GitHub App or the Actions GITHUB_TOKEN may write check runs, and GITHUB_TOKEN is neither \("You must authenticate via a GitHub App\."\)/);
  });

  it('a network failure names the URL it tried', async () => {
    const port = await freePort();
    const gh = await connect({ GITHUB_API_URL: `http://127.0.0.1:${port}`, GITHUB_REPOSITORY: 'acme/fleet', GITHUB_TOKEN: 'ghp_x', CLAWOPS_GITHUB_LOGIN: 'x' });
    const e = await thrown(upsertStickyComment(gh, 1, { marker: 'plan', body: 'x' }));
    expect(e.data).toMatchObject({ problem: 'network' });
    expect(e.message).toMatch(new RegExp(`^finding the clawops comment on acme/fleet#1 failed: could not reach GitHub at http://127\\.0\\.0\\.1:${port}/repos/acme/fleet/issues/1/comments \\(.*ECONNREFUSED.*\\); check the network`));
  });

  it('a server that never answers times out per attempt, is retried, then explained as unreachable', async () => {
    const port = await freePort();
    const sockets = new Set<Socket>();
    const requests: string[] = [];
    const silent = createServer((s) => {
      sockets.add(s);
      s.on('data', (d: Buffer) => requests.push(d.toString('latin1').split('\r\n')[0]!));
    });
    await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve));
    try {
      const gh = await connect({ GITHUB_API_URL: `http://127.0.0.1:${port}`, GITHUB_REPOSITORY: 'acme/fleet', GITHUB_TOKEN: 'ghp_x', CLAWOPS_GITHUB_LOGIN: 'x' }, { timeoutMs: 100, limits: { ...FAST, retries: 1 } });
      const e = await thrown(publishCheckRun(gh, { name: 'n', headSha, conclusion: 'success', title: 't', summary: 's', annotations: [] }));
      expect(e.data).toMatchObject({ problem: 'network' });
      expect(e.message).toContain(`could not reach GitHub at http://127.0.0.1:${port}/repos/acme/fleet/commits/${headSha}/check-runs (The operation was aborted due to timeout)`);
      // The first attempt and its one retry.
      expect(requests).toEqual([`GET /repos/acme/fleet/commits/${headSha}/check-runs?check_name=n&filter=all&per_page=100 HTTP/1.1`, expect.stringMatching(/^GET /)]);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('masks token-shaped text even if GitHub or a cause echoed one', () => {
    const e = explainGitHubError(new Error('boom ghs_0123456789abcdefghijklmnop and github_pat_11ABCDEFG0123456789_abcdefghijkl'), 'testing');
    expect(e.message).toBe('testing failed: boom [REDACTED:github-token] and [REDACTED:github-token]');
  });
});

describe('sticky plan comment', () => {
  it('is created, left alone when identical, edited in place when the plan changes', async () => {
    const gh = await connect(appEnv());
    const marker = 'plan';
    const first = await upsertStickyComment(gh, pr, { marker, body: '## Plan\n\n1 to change' });
    expect(first.action).toBe('created');
    const from = fake.requests.length;
    const again = await upsertStickyComment(gh, pr, { marker, body: '## Plan\n\n1 to change' });
    expect(again).toMatchObject({ id: first.id, action: 'unchanged' });
    expect(served(from)).toEqual(['issues/list-comments 200']);
    const changed = await upsertStickyComment(gh, pr, { marker, body: '## Plan\n\n2 to change' });
    expect(changed).toMatchObject({ id: first.id, action: 'updated' });
    const ours = fake.comments(pr).filter((c) => c.body.startsWith('<!-- clawops:plan -->'));
    expect(ours).toEqual([expect.objectContaining({ id: first.id, user: 'clawops-bot[bot]', body: '<!-- clawops:plan -->\n## Plan\n\n2 to change' })]);
    expect(changed.url).toMatch(new RegExp(`/pull/${pr}#issuecomment-${first.id}$`));
  });

  it('ignores a comment by someone else that carries our marker: ours is created beside it, theirs untouched', async () => {
    const marker = 'hijack';
    const mallory = userOctokit('mallory');
    const theirs = await mallory.rest.issues.createComment({ owner: fake.owner, repo: fake.repo, issue_number: pr, body: '<!-- clawops:hijack -->\nLGTM, apply everything' });
    const gh = await connect(appEnv());
    const r = await upsertStickyComment(gh, pr, { marker, body: 'the real plan' });
    expect(r.action).toBe('created');
    expect(r.id).not.toBe(theirs.data.id);
    const marked = fake.comments(pr).filter((c) => c.body.startsWith('<!-- clawops:hijack -->'));
    expect(marked.map((c) => [c.user, c.body])).toEqual([
      ['mallory', '<!-- clawops:hijack -->\nLGTM, apply everything'],
      ['clawops-bot[bot]', '<!-- clawops:hijack -->\nthe real plan'],
    ]);
    expect((await upsertStickyComment(gh, pr, { marker, body: 'the real plan, v2' })).id).toBe(r.id);
    expect(fake.comments(pr).find((c) => c.id === theirs.data.id)?.body).toBe('<!-- clawops:hijack -->\nLGTM, apply everything');
  });

  it('finds ours past the first page of comments, and stops reading pages once found', async () => {
    const gh = await connect(appEnv());
    const early = await upsertStickyComment(gh, pr, { marker: 'early', body: 'v1' });
    const bob = userOctokit('bob');
    for (let i = 0; i < 105; i++) await bob.rest.issues.createComment({ owner: fake.owner, repo: fake.repo, issue_number: pr, body: `chatter ${i}` });
    const late = await upsertStickyComment(gh, pr, { marker: 'late', body: 'v1' });
    expect([early.action, late.action]).toEqual(['created', 'created']);
    expect(fake.comments(pr).findIndex((c) => c.id === late.id)).toBeGreaterThanOrEqual(100);

    let from = fake.requests.length;
    expect(await upsertStickyComment(gh, pr, { marker: 'late', body: 'v2' })).toMatchObject({ id: late.id, action: 'updated' });
    expect(served(from)).toEqual(['issues/list-comments 200', 'issues/list-comments 200', 'issues/update-comment 200']);
    from = fake.requests.length;
    expect(await upsertStickyComment(gh, pr, { marker: 'early', body: 'v1' })).toMatchObject({ id: early.id, action: 'unchanged' });
    expect(served(from)).toEqual(['issues/list-comments 200']);
  });

  it('a body over 65,536 characters is cut at a line, with a note where the full plan is', async () => {
    const gh = await connect(appEnv());
    const lines = Array.from({ length: 3000 }, (_, i) => `| gw-${String(i).padStart(4, '0')} | agent support | model → anthropic/claude-opus |`);
    const body = `## Plan\n\n${lines.join('\n')}`;
    expect(body.length).toBeGreaterThan(COMMENT_BODY_LIMIT);
    const r = await upsertStickyComment(gh, pr, { marker: 'long', body });
    expect(r.truncated).toBe(true);
    const posted = fake.comments(pr).find((c) => c.id === r.id)!.body;
    expect(posted.length).toBeLessThanOrEqual(COMMENT_BODY_LIMIT);
    expect(posted.length).toBeGreaterThan(COMMENT_BODY_LIMIT - 300);
    expect(posted.startsWith('<!-- clawops:long -->\n## Plan\n')).toBe(true);
    expect(posted.endsWith(`\n\n${TRUNCATED_COMMENT_NOTE}`)).toBe(true);
    const kept = posted.slice(0, -`\n\n${TRUNCATED_COMMENT_NOTE}`.length).split('\n').slice(3);
    expect(kept.every((l, i) => l === lines[i])).toBe(true);
    // The same long plan again is unchanged, not edited.
    expect((await upsertStickyComment(gh, pr, { marker: 'long', body })).action).toBe('unchanged');
  });
});

describe('check run', () => {
  it('one run per name and commit: created, then updated in place', async () => {
    const gh = await connect(appEnv());
    const name = 'clawops plan';
    const first = await publishCheckRun(gh, { name, headSha, conclusion: 'neutral', title: '1 change needs approval', summary: 'first', annotations: [] });
    expect(first.action).toBe('created');
    const second = await publishCheckRun(gh, { name, headSha, conclusion: 'success', title: 'No changes', summary: 'second', text: 'details', annotations: [] });
    expect(second).toMatchObject({ id: first.id, action: 'updated', requests: 1 });
    const runs = fake.checkRuns().filter((r) => r.name === name);
    expect(runs).toEqual([expect.objectContaining({ id: first.id, headSha, status: 'completed', conclusion: 'success', title: 'No changes', summary: 'second', text: 'details' })]);
  });

  it('120 annotations arrive in full, 50 per request, with their levels and lines', async () => {
    const gh = await connect(appEnv());
    const levels = ['failure', 'warning', 'notice'] as const;
    const annotations: CheckAnnotation[] = Array.from({ length: 120 }, (_, i) => ({
      path: `agents/a${i % 7}.yaml`,
      start_line: i + 1,
      end_line: i + 1,
      ...(i % 2 ? { start_column: 3 } : {}),
      annotation_level: levels[i % 3]!,
      message: `problem ${i}`,
    }));
    const from = fake.requests.length;
    const r = await publishCheckRun(gh, { name: 'clawops validate', headSha, conclusion: 'failure', title: '40 errors', summary: 'see annotations', annotations });
    expect(r).toMatchObject({ action: 'created', annotations: 120, requests: 3 });
    expect(served(from)).toEqual(['checks/list-for-ref 200', 'checks/create 201', 'checks/update 200', 'checks/update 200']);
    const run = fake.checkRuns().find((x) => x.id === r.id)!;
    expect(run.annotations).toHaveLength(120);
    expect(run.annotations.map((a) => [a.path, a.start_line, a.end_line, a.annotation_level, a.message])).toEqual(
      annotations.map((a) => [a.path, a.start_line, a.end_line, a.annotation_level, a.message]),
    );
    expect(run.conclusion).toBe('failure');
  });

  it('a run that already has annotations is replaced, not given a second set (GitHub appends them)', async () => {
    const gh = await connect(appEnv());
    const name = 'clawops replace';
    const ann = (message: string): CheckAnnotation => ({ path: 'a.yaml', start_line: 2, end_line: 2, annotation_level: 'failure', message });
    const first = await publishCheckRun(gh, { name, headSha, conclusion: 'failure', title: 'old', summary: 'old', annotations: [ann('old problem')] });
    const second = await publishCheckRun(gh, { name, headSha, conclusion: 'failure', title: 'new', summary: 'new', annotations: [ann('new problem')] });
    expect(second.action).toBe('replaced');
    expect(second.id).not.toBe(first.id);
    const runs = fake.checkRuns().filter((r) => r.name === name);
    expect(runs.find((r) => r.id === second.id)!.annotations.map((a) => a.message)).toEqual(['new problem']);
    // The next publish finds the newest run, whose annotations again forbid an update.
    const listed = await gh.octokit.rest.checks.listForRef({ owner: gh.owner, repo: gh.repo, ref: headSha, check_name: name });
    expect(listed.data.check_runs[0]!.id).toBe(second.id);
  });

  it('refuses action_required without detailsUrl, and cuts an oversized summary', async () => {
    const gh = await connect(appEnv());
    await expect(publishCheckRun(gh, { name: 'x', headSha, conclusion: 'action_required', title: 't', summary: 's', annotations: [] })).rejects.toThrow(/needs a detailsUrl/);
    const summary = Array.from({ length: 5000 }, (_, i) => `line ${i} of a long plan`).join('\n');
    const r = await publishCheckRun(gh, { name: 'clawops long', headSha, conclusion: 'action_required', detailsUrl: 'https://example.com/plan', title: 't', summary, annotations: [] });
    expect(r.truncated).toBe(true);
    const run = fake.checkRuns().find((x) => x.id === r.id)!;
    expect(run.summary!.length).toBeLessThanOrEqual(65_535);
    expect(run.summary).toMatch(/^line 0 of a long plan\n[\s\S]*\n\n> \*\*Cut\*\* to fit/);
    expect(run.conclusion).toBe('action_required');
  });

  it('annotations keep GitHub’s line and column rules', () => {
    expect(normalizeAnnotation({ path: './fleet/a.yaml', start_line: 0, end_line: -3, start_column: 4, annotation_level: 'notice', message: 'm' })).toEqual({
      path: 'fleet/a.yaml',
      start_line: 1,
      end_line: 1,
      start_column: 4,
      annotation_level: 'notice',
      message: 'm',
    });
    // Columns only on one line.
    expect(normalizeAnnotation({ path: 'a', start_line: 3, end_line: 5, start_column: 2, end_column: 9, annotation_level: 'warning', message: 'm' })).toEqual({
      path: 'a',
      start_line: 3,
      end_line: 5,
      annotation_level: 'warning',
      message: 'm',
    });
    expect(normalizeAnnotation({ path: 'a', start_line: 1, end_line: 1, annotation_level: 'warning', message: 'm', title: 't'.repeat(300) }).title).toHaveLength(255);
  });
});

describe('annotations from a real fleet', () => {
  const RECIPIENT = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';

  function writeRepo(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmp, 'fleet-'));
    for (const [p, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, p)), { recursive: true });
      writeFileSync(join(dir, p), text);
    }
    return dir;
  }
  const lineOf = (dir: string, file: string, text: string) => readFileSync(join(dir, file), 'utf8').split('\n').findIndex((l) => l.includes(text)) + 1;

  it('validation diagnostics point at the file and line, under the repo-path prefix', async () => {
    const dir = writeRepo({
      'clawops.yaml': `apiVersion: clawops.dev/v1\nkind: Repository\nspec:\n  secrets: { recipients: [${RECIPIENT}] }\n  policies: [baseline]\n`,
      'secrets/tok.age': 'x',
      'gateways/eu.yaml': 'apiVersion: clawops.dev/v1\nkind: Gateway\nmetadata: { name: eu, labels: { env: prod } }\nspec: { url: "ws://127.0.0.1:1", auth: { token: { secretRef: tok } } }\n',
      'agents/support.yaml': 'apiVersion: clawops.dev/v1\nkind: Agent\nmetadata:\n  name: support\nspec:\n  gateway: eu\n  confg: {}\n',
    });
    const repo = await loadRepo(dir);
    const annotations = annotationsFor({ diagnostics: repo.diagnostics, pathPrefix: 'fleet/' });
    expect(annotations.length).toBe(repo.diagnostics.length);
    const agent = annotations.filter((a) => a.path === 'fleet/agents/support.yaml');
    expect(agent.length).toBeGreaterThan(0);
    const typo = agent.find((a) => a.message.includes('confg'));
    expect(typo).toMatchObject({ annotation_level: 'failure', start_line: lineOf(dir, 'agents/support.yaml', 'confg'), end_line: lineOf(dir, 'agents/support.yaml', 'confg') });
    const warning = repo.diagnostics.find((d) => d.severity === 'warning');
    if (warning) expect(annotations).toContainEqual(expect.objectContaining({ path: `fleet/${warning.file}`, annotation_level: 'warning', start_line: warning.line }));
    // And GitHub accepts them as they are.
    const gh = await connect(appEnv());
    const r = await publishCheckRun(gh, { name: 'clawops fleet', headSha, conclusion: 'failure', title: 'invalid', summary: 'x', annotations });
    expect(fake.checkRuns().find((x) => x.id === r.id)!.annotations.map((a) => `${a.path}:${a.start_line}`)).toEqual(annotations.map((a) => `${a.path}:${a.start_line}`));
  });

  it('denied and approval-gated changes point at the YAML that causes them and say who must approve', async () => {
    const fleet = fleets();
    const { dir, desired } = await fleet();
    const policyDoc = parseYaml(`
apiVersion: clawops.dev/v1
kind: Policy
metadata: { name: test }
spec:
  rules:
    - { id: exec, match: { kinds: [ApprovalRule], paths: [spec.exec.security] }, risk: critical, effect: require-approval, approvals: { count: 2, teams: [security], users: [root] }, message: Exec security changes. }
    - { id: no-cron, match: { kinds: [Agent], paths: ["spec.cron.*"] }, risk: high, effect: deny, message: No scheduled jobs. }
`) as ResourceOf<'Policy'>;
    const policy = new PolicyEngine(compileRuleSet([{ name: 'test', file: 'test.yaml', value: policyDoc }]).set, activeExceptions([], new Date()));
    const secretHash = secretHasher({ 'github-token': 'ghp_value', 'gw-eu-token': 'gw' });
    const eu = await planGateway({ desired, live: freshGateway(), lastApplied: undefined, secretHash, policy });
    // The same changes on a second gateway make one annotation naming both.
    const us = { ...structuredClone(eu), gateway: 'gw-us', changes: eu.changes.map((c) => ({ ...structuredClone(c), gateway: 'gw-us' })) };
    const plan = assemblePlan([eu, us], new Date('2026-11-21T12:00:00Z'));
    const annotations = annotationsFor({ plan, approvers: { security: { githubTeam: 'acme/security' } } });

    const denied = annotations.filter((a) => a.annotation_level === 'failure');
    const cronChanges = eu.changes.filter((c) => c.verdict.effect === 'deny');
    expect(cronChanges.length).toBe(2);
    expect(denied).toHaveLength(2);
    for (const a of denied) {
      expect(a.path).toBe(SUPPORT_FILE);
      expect(readFileSync(join(dir, SUPPORT_FILE), 'utf8').split('\n')[a.start_line - 1]).toMatch(/- name: (nightly|hourly)/);
      expect(a.message).toMatch(/^Denied by policy: No scheduled jobs\. \(test\/no-cron\)\.\nThis change cannot be applied: create spec\.cron\[(nightly|hourly)\] of agent support on gateways gw-eu, gw-us\.$/);
    }
    const gated = annotations.filter((a) => a.annotation_level === 'warning');
    expect(gated).toEqual([
      {
        path: RULE_FILE,
        start_line: lineOf(dir, RULE_FILE, 'security: allowlist'),
        end_line: lineOf(dir, RULE_FILE, 'security: allowlist'),
        start_column: expect.any(Number),
        annotation_level: 'warning',
        title: 'ApprovalRule/support-exec: needs approval (critical risk)',
        message:
          'Needs approval before it is applied: 2 approving reviews from security (@acme/security) or @root (test/exec).\nWhy: Exec security changes. (test/exec).\nChange: create spec.exec.security of agent support on gateways gw-eu, gw-us.',
      },
    ]);

    const counts = { validationErrors: 0, denied: plan.summary.denied, awaitingApproval: plan.summary.needApproval, planErrors: plan.summary.gatewaysWithErrors };
    expect(counts).toMatchObject({ denied: 4, awaitingApproval: 2 });
    expect(checkConclusion(counts)).toEqual({ conclusion: 'failure', title: '4 changes denied by policy, 2 changes need approval' });
  });
});

describe('pure parts', () => {
  it('checkConclusion: failures fail, approvals alone are neutral, the rest succeeds', () => {
    expect(checkConclusion({ validationErrors: 1, denied: 0, awaitingApproval: 0, planErrors: 0 })).toEqual({ conclusion: 'failure', title: '1 validation error' });
    expect(checkConclusion({ validationErrors: 0, denied: 0, awaitingApproval: 0, planErrors: 2 })).toEqual({ conclusion: 'failure', title: 'plan failed for 2 gateways' });
    expect(checkConclusion({ validationErrors: 0, denied: 0, awaitingApproval: 1, planErrors: 0 })).toEqual({ conclusion: 'neutral', title: '1 change needs approval' });
    expect(checkConclusion({ validationErrors: 0, denied: 0, awaitingApproval: 0, planErrors: 0, changes: 0 })).toEqual({ conclusion: 'success', title: 'No changes' });
    expect(checkConclusion({ validationErrors: 0, denied: 0, awaitingApproval: 0, planErrors: 0, changes: 3 })).toEqual({ conclusion: 'success', title: '3 changes, all allowed by policy' });
  });

  it('fitMarkdown closes a code fence and <details> the cut left open', () => {
    const text = `<details><summary>gw</summary>\n\n\`\`\`diff\n${Array.from({ length: 100 }, (_, i) => `+ line ${i}`).join('\n')}\n\`\`\`\n</details>`;
    const { text: out, truncated } = fitMarkdown(text, 400, 'NOTE');
    expect(truncated).toBe(true);
    expect(out.length).toBeLessThanOrEqual(400);
    expect(out).toMatch(/\n\+ line \d+\n```\n<\/details>\n\nNOTE$/);
    expect(fitMarkdown('short', 10, 'NOTE')).toEqual({ text: 'short', truncated: false });
  });

  it('repoPath joins the repo-path prefix however it is written', () => {
    expect(['fleet', 'fleet/', './fleet', '/fleet/', ''].map((p) => repoPath('agents/a.yaml', p))).toEqual([
      'fleet/agents/a.yaml',
      'fleet/agents/a.yaml',
      'fleet/agents/a.yaml',
      'fleet/agents/a.yaml',
      'agents/a.yaml',
    ]);
    expect(repoPath('a.yaml', '.')).toBe('a.yaml');
  });
});
