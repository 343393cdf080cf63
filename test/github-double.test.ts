/**
 * The GitHub test double itself: a real Octokit (with the clawops plugins) against the fake
 * server, every exchange checked twice against GitHub's OpenAPI description (by the fake, and
 * client-side by validatingFetch), the bare repository checked with native git; then proof that
 * the validator catches the mistakes a hand-written fake makes.
 */
import { createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAppAuth } from '@octokit/auth-app';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import { MockAgent, fetch as undiciFetch } from 'undici';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { extractSubset, GITHUB_OPERATIONS } from '../scripts/extract-github-openapi.ts';
import { startFakeGitHub, type FakeGitHub } from './helpers/github/fake-github.ts';
import { DEFAULT_SUBSET_FILE, loadGitHubSpec, validateExchange, validatingFetch } from './helpers/github/openapi-validator.ts';
import { runGit } from './helpers/git-http-server.ts';

const spec = loadGitHubSpec();
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const tmp = mkdtempSync(join(tmpdir(), 'clawops-github-double-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** An Octokit that also validates every exchange on the client side. */
function client(fake: FakeGitHub, auth: string, seen: string[], extra: Record<string, unknown> = {}): Octokit {
  return new Octokit({ baseUrl: fake.url, auth, log: quiet, request: { fetch: validatingFetch(undefined, (p) => seen.push(p)) }, ...extra });
}

/** An App JWT as @octokit/auth-app makes it (RS256, `iss` = App id, valid for five minutes). */
function appJwt(privateKeyPem: string, appId: number): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const unsigned = `${part({ alg: 'RS256', typ: 'JWT' })}.${part({ iat: now - 30, exp: now + 300, iss: appId })}`;
  return `${unsigned}.${createSign('RSA-SHA256').update(unsigned).sign(privateKeyPem, 'base64url')}`;
}

let strangerKey: string | undefined;
/** A well-formed App key that is not the fake App's (made once: RSA generation is slow). */
const otherKey = (): string => (strangerKey ??= generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString());

async function git(args: string[], cwd?: string): Promise<string> {
  const r = await runGit(args, { ...(cwd ? { cwd } : {}), env: { GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z', GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z' } });
  if (r.code !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

const clones = new Map<string, string>();
/** A developer's clone of `origin` (one per origin): commits files on a branch (from `from`) and pushes it with native git. */
async function humanPush(origin: string, branch: string, files: Record<string, string>, who: { name: string; email: string }, from = 'origin/main'): Promise<string> {
  let dir = clones.get(origin);
  if (!dir) {
    dir = join(tmp, `clone-${randomBytes(4).toString('hex')}`);
    await git(['clone', '--quiet', origin, dir]);
    clones.set(origin, dir);
  } else {
    await git(['fetch', '--quiet', '--prune', 'origin'], dir);
  }
  await git(['checkout', '--quiet', '-B', branch, from], dir);
  for (const [path, text] of Object.entries(files)) writeFileSync(join(dir, path), text);
  await git(['add', '--all'], dir);
  await git(['-c', `user.name=${who.name}`, '-c', `user.email=${who.email}`, 'commit', '--quiet', '-m', `edit ${Object.keys(files).join(', ')}`], dir);
  await git(['push', '--quiet', '--force', 'origin', `HEAD:refs/heads/${branch}`], dir);
  return git(['rev-parse', 'HEAD'], dir);
}

describe('the fake GitHub through Octokit, validated both ways', () => {
  let fake: FakeGitHub;
  const seen: string[] = [];
  let bot: Octokit;
  let alice: Octokit;
  let bob: Octokit;
  let o: { owner: string; repo: string };
  const aliceWho = { name: 'Alice', email: 'alice@users.noreply.github.com' };

  beforeAll(async () => {
    fake = await startFakeGitHub({ perPage: 2 });
    o = { owner: fake.owner, repo: fake.repo };
    bot = client(fake, fake.botToken, seen);
    alice = client(fake, fake.tokenFor('alice'), seen);
    bob = client(fake, fake.tokenFor('bob', { email: 'bob@corp.example' }), seen);
    fake.addTeam(fake.owner, 'fleet-approvers', ['alice', 'bob', 'carol', 'dave', 'erin']);
  });
  afterAll(() => fake?.close());
  // Honest use never violates the description: neither the fake nor the client saw a problem.
  let mark = 0;
  beforeEach(() => {
    mark = fake.problems.length;
    seen.length = 0;
  });
  afterEach(() => {
    expect(fake.problems.slice(mark)).toEqual([]);
    expect(seen).toEqual([]);
  });

  /** A bot branch made through the git data API, as clawops builds its PR branches. */
  async function botBranch(branch: string, files: Record<string, string | null>, from = 'heads/main'): Promise<string> {
    const { data: ref } = await bot.rest.git.getRef({ ...o, ref: from });
    const { data: base } = await bot.rest.git.getCommit({ ...o, commit_sha: ref.object.sha });
    const entries = Object.entries(files).map(([path, content]) => (content === null ? { path, mode: '100644' as const, type: 'blob' as const, sha: null } : { path, mode: '100644' as const, type: 'blob' as const, content }));
    const { data: tree } = await bot.rest.git.createTree({ ...o, base_tree: base.tree.sha, tree: entries });
    const { data: commit } = await bot.rest.git.createCommit({ ...o, message: `clawops: ${branch}`, tree: tree.sha, parents: [base.sha] });
    await bot.rest.git.createRef({ ...o, ref: `refs/heads/${branch}`, sha: commit.sha });
    return commit.sha;
  }
  const bare = (args: string[]) => git(['--git-dir', fake.bareRepo, ...args]);

  it('serves the repository, and GET /user as GitHub does for users and for an installation token', async () => {
    const { data: repo } = await bot.rest.repos.get(o);
    expect(repo).toMatchObject({ full_name: 'acme/fleet', default_branch: 'main', owner: { login: 'acme', type: 'Organization' } });
    expect((await alice.rest.users.getAuthenticated()).data.login).toBe('alice');
    const refused = await bot.rest.users.getAuthenticated().catch((e: { status: number; message: string }) => e);
    expect(refused).toMatchObject({ status: 403, message: expect.stringContaining('Resource not accessible by integration') });
  });

  it('builds a bot branch through the git data API; the bare repository and getContent agree', async () => {
    const sha = await botBranch('clawops/read-back', { 'agents/support.yaml': 'kind: Agent\nmetadata: { name: support }\n', 'README.md': null });
    expect(await bare(['cat-file', '-p', `${sha}:agents/support.yaml`])).toBe('kind: Agent\nmetadata: { name: support }');
    expect(await bare(['ls-tree', '--name-only', sha])).toBe('agents');
    expect(await bare(['log', '-1', '--format=%an <%ae>|%s', sha])).toMatch(/^clawops-bot\[bot\] <\d+\+clawops-bot\[bot\]@users\.noreply\.github\.com>\|clawops: clawops\/read-back$/);
    const { data: file } = await bot.rest.repos.getContent({ ...o, path: 'agents/support.yaml', ref: 'clawops/read-back' });
    expect(Array.isArray(file) ? undefined : file.type === 'file' && Buffer.from(file.content, 'base64').toString()).toBe('kind: Agent\nmetadata: { name: support }\n');
    const { data: dir } = await bot.rest.repos.getContent({ ...o, path: 'agents', ref: 'clawops/read-back' });
    expect(Array.isArray(dir) && dir.map((e) => [e.type, e.path])).toEqual([['file', 'agents/support.yaml']]);
    const { data: commit } = await bot.rest.git.getCommit({ ...o, commit_sha: sha });
    expect(commit).toMatchObject({ sha, message: 'clawops: clawops/read-back', verification: { verified: false, reason: 'unsigned' } });
  });

  it('refs: create, fast-forward, refuse a non-fast-forward unless forced, refuse a duplicate, delete', async () => {
    const first = await botBranch('clawops/refs', { 'a.txt': 'one\n' });
    const { data: tree } = await bot.rest.git.createTree({ ...o, tree: [{ path: 'b.txt', mode: '100644', type: 'blob', content: 'two\n' }] });
    const { data: child } = await bot.rest.git.createCommit({ ...o, message: 'child', tree: tree.sha, parents: [first] });
    const { data: orphan } = await bot.rest.git.createCommit({ ...o, message: 'orphan', tree: tree.sha, parents: [] });
    expect((await bot.rest.git.updateRef({ ...o, ref: 'heads/clawops/refs', sha: child.sha })).data.object.sha).toBe(child.sha);
    const nonFf = await bot.rest.git.updateRef({ ...o, ref: 'heads/clawops/refs', sha: orphan.sha }).catch((e: { status: number; response: { data: unknown } }) => e);
    expect(nonFf).toMatchObject({ status: 422, response: { data: { message: 'Update is not a fast forward' } } });
    await bot.rest.git.updateRef({ ...o, ref: 'heads/clawops/refs', sha: orphan.sha, force: true });
    expect(await bare(['rev-parse', 'refs/heads/clawops/refs'])).toBe(orphan.sha);
    const dup = await bot.rest.git.createRef({ ...o, ref: 'refs/heads/clawops/refs', sha: first }).catch((e: { status: number; response: { data: unknown } }) => e);
    expect(dup).toMatchObject({ status: 422, response: { data: { message: 'Reference already exists' } } });
    expect((await bot.rest.git.deleteRef({ ...o, ref: 'heads/clawops/refs' })).status).toBe(204);
    expect(await bot.rest.git.getRef({ ...o, ref: 'heads/clawops/refs' }).catch((e: { status: number }) => e.status)).toBe(404);
  });

  it('keeps a signature given to git.createCommit as the gpgsig header', async () => {
    const { data: ref } = await bot.rest.git.getRef({ ...o, ref: 'heads/main' });
    const { data: base } = await bot.rest.git.getCommit({ ...o, commit_sha: ref.object.sha });
    const signature = '-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQ==\n-----END SSH SIGNATURE-----';
    const author = { name: 'clawops', email: 'audit@example.com', date: '2026-01-01T00:00:00Z' };
    const { data: signed } = await bot.rest.git.createCommit({ ...o, message: 'audit: run 1', tree: base.tree.sha, parents: [base.sha], author, signature });
    expect(signed).toMatchObject({ author, committer: author, verification: { verified: false, signature } });
    expect(signed.verification.payload).toMatch(/^tree [0-9a-f]{40}\nparent [0-9a-f]{40}\nauthor clawops <audit@example\.com> 1767225600 \+0000\ncommitter .*\n\naudit: run 1\n$/);
    expect(await bare(['cat-file', 'commit', signed.sha])).toContain(`gpgsig -----BEGIN SSH SIGNATURE-----\n U1NIU0lHAAAAAQ==\n -----END SSH SIGNATURE-----\n\naudit: run 1`);
  });

  it('serves the same repository over git smart HTTP with the bot token', async () => {
    const dir = join(tmp, 'over-http');
    const authed = fake.gitUrl.replace('http://', `http://x-access-token:${fake.botToken}@`);
    await git(['clone', '--quiet', authed, dir]);
    writeFileSync(join(dir, 'via-http.txt'), 'h\n');
    await git(['add', '--all'], dir);
    await git(['-c', 'user.name=ci', '-c', 'user.email=ci@example.com', 'commit', '--quiet', '-m', 'over http'], dir);
    await git(['push', '--quiet', 'origin', 'HEAD:refs/heads/via-http'], dir);
    const { data: ref } = await bot.rest.git.getRef({ ...o, ref: 'heads/via-http' });
    expect(ref.object.sha).toBe(await git(['rev-parse', 'HEAD'], dir));
    const refused = await runGit(['ls-remote', fake.gitUrl.replace('http://', 'http://x-access-token:wrong@')], { env: { GIT_TERMINAL_PROMPT: '0' } });
    expect(refused.code).not.toBe(0);
  });

  it('opens, lists (head filter), dedupes (422 "A pull request already exists") and updates pull requests', async () => {
    await botBranch('clawops/drift-gw1', { 'drift.yaml': 'x: 1\n' });
    const { data: pr } = await bot.rest.pulls.create({ ...o, title: 'Adopt drift on gw1', head: 'clawops/drift-gw1', base: 'main', body: 'from clawops' });
    expect(pr).toMatchObject({ state: 'open', user: { login: 'clawops-bot[bot]', type: 'Bot' }, head: { ref: 'clawops/drift-gw1', repo: { full_name: 'acme/fleet' } }, base: { ref: 'main' }, merged: false, mergeable: true, commits: 1, additions: 1 });
    const dup = await bot.rest.pulls.create({ ...o, title: 'again', head: 'clawops/drift-gw1', base: 'main' }).catch((e: { status: number; response: { data: unknown } }) => e);
    expect(dup).toMatchObject({ status: 422, response: { data: { message: 'Validation Failed', errors: [{ resource: 'PullRequest', code: 'custom', message: 'A pull request already exists for acme:clawops/drift-gw1.' }] } } });
    const { data: found } = await bot.rest.pulls.list({ ...o, head: 'acme:clawops/drift-gw1', state: 'open' });
    expect(found.map((p) => p.number)).toEqual([pr.number]);
    const { data: updated } = await bot.rest.pulls.update({ ...o, pull_number: pr.number, title: 'Adopt drift on gw1 (2 fields)', state: 'closed' });
    expect(updated).toMatchObject({ title: 'Adopt drift on gw1 (2 fields)', state: 'closed', closed_at: expect.any(String), merged: false });
    expect((await bot.rest.pulls.list({ ...o, head: 'acme:clawops/drift-gw1' })).data).toEqual([]);
    expect((await bot.rest.pulls.update({ ...o, pull_number: pr.number, state: 'open' })).data.state).toBe('open');
  });

  it('reviews: request users and teams, approve, request changes, dismiss, and refuse self-approval', async () => {
    await botBranch('clawops/budget', { 'budget.yaml': 'limit: 10\n' });
    const { data: pr } = await bot.rest.pulls.create({ ...o, title: 'Raise budget', head: 'clawops/budget', base: 'main' });
    const { data: requested } = await bot.rest.pulls.requestReviewers({ ...o, pull_number: pr.number, reviewers: ['alice', 'bob'], team_reviewers: ['fleet-approvers'] });
    expect([requested.requested_reviewers?.map((u) => u.login), requested.requested_teams?.map((t) => t.slug)]).toEqual([['alice', 'bob'], ['fleet-approvers']]);
    const self = await bot.rest.pulls.createReview({ ...o, pull_number: pr.number, event: 'APPROVE' }).catch((e: { status: number; response: { data: unknown } }) => e);
    expect(self).toMatchObject({ status: 422, response: { data: { message: 'Unprocessable Entity', errors: ['Can not approve your own pull request'] } } });
    const { data: approval } = await alice.rest.pulls.createReview({ ...o, pull_number: pr.number, event: 'APPROVE' });
    expect(approval).toMatchObject({ state: 'APPROVED', commit_id: pr.head.sha, user: { login: 'alice' }, author_association: 'MEMBER' });
    await bob.rest.pulls.createReview({ ...o, pull_number: pr.number, event: 'REQUEST_CHANGES', body: 'too high' });
    const { data: dismissed } = await bot.rest.pulls.dismissReview({ ...o, pull_number: pr.number, review_id: approval.id, message: 'stale' });
    expect(dismissed.state).toBe('DISMISSED');
    const reviews = await bot.paginate(bot.rest.pulls.listReviews, { ...o, pull_number: pr.number });
    expect(reviews.map((r) => [r.user?.login, r.state])).toEqual([['alice', 'DISMISSED'], ['bob', 'CHANGES_REQUESTED']]);
    expect((await bot.rest.pulls.get({ ...o, pull_number: pr.number })).data.requested_reviewers?.map((u) => u.login)).toEqual([]);
    expect(fake.reviews(pr.number).map((r) => r.state)).toEqual(['DISMISSED', 'CHANGES_REQUESTED']);
  });

  /** A developer's branch with two commits, as a pull request. */
  async function twoCommitPr(branch: string) {
    await humanPush(fake.bareRepo, branch, { [`${branch}-1.txt`]: 'one\n' }, aliceWho);
    const head = await humanPush(fake.bareRepo, branch, { [`${branch}-2.txt`]: 'two\n' }, aliceWho, `origin/${branch}`);
    const own = (await bare(['rev-list', '--reverse', `main..${head}`])).split('\n');
    const { data: pr } = await alice.rest.pulls.create({ ...o, title: `Change ${branch}`, head: branch, base: 'main' });
    return { pr, head, own };
  }
  const associated = async (sha: string) => (await bot.rest.repos.listPullRequestsAssociatedWithCommit({ ...o, commit_sha: sha })).data.map((p) => p.number);

  it('merge commit: two parents in the bare repository; the merge and the PR commits map back to the PR', async () => {
    const { pr, head, own } = await twoCommitPr('m-merge');
    expect(own).toHaveLength(2);
    expect(await associated(own[0]!)).toEqual([pr.number]); // open PR containing it
    const before = await bare(['rev-parse', 'main']);
    const { data: result } = await bob.rest.pulls.merge({ ...o, pull_number: pr.number, merge_method: 'merge', sha: head });
    expect(await bare(['rev-parse', 'main'])).toBe(result.sha);
    expect(await bare(['log', '-1', '--format=%P|%an|%cn <%ce>|%s', result.sha])).toBe(`${before} ${head}|bob|GitHub <noreply@github.com>|Merge pull request #${pr.number} from acme/m-merge`);
    for (const sha of [result.sha, ...own]) expect(await associated(sha)).toEqual([pr.number]);
    const { data: merged } = await bot.rest.pulls.get({ ...o, pull_number: pr.number });
    expect(merged).toMatchObject({ merged: true, state: 'closed', merge_commit_sha: result.sha, merged_by: { login: 'bob' }, head: { sha: head } });
  });

  it('squash: one commit with the PR tree; it and the original commits map back to the PR', async () => {
    const { pr, head, own } = await twoCommitPr('m-squash');
    const before = await bare(['rev-parse', 'main']);
    const { data: result } = await bob.rest.pulls.merge({ ...o, pull_number: pr.number, merge_method: 'squash' });
    expect(await bare(['log', '-1', '--format=%P|%s', result.sha])).toBe(`${before}|Change m-squash (#${pr.number})`);
    expect(await bare(['diff', '--name-only', before, result.sha])).toBe('m-squash-1.txt\nm-squash-2.txt');
    expect(await bare(['merge-base', '--is-ancestor', head, 'main']).catch(() => 'not on main')).toBe('not on main');
    for (const sha of [result.sha, ...own]) expect(await associated(sha)).toEqual([pr.number]);
  });

  it('rebase: the commits are rewritten onto main (same authors, GitHub as committer); each maps back to the PR', async () => {
    const { pr, own } = await twoCommitPr('m-rebase');
    const before = await bare(['rev-parse', 'main']);
    const { data: result } = await bob.rest.pulls.merge({ ...o, pull_number: pr.number, merge_method: 'rebase' });
    const rebased = (await bare(['rev-list', '--reverse', `${before}..main`])).split('\n');
    expect(rebased).toHaveLength(2);
    expect(rebased.at(-1)).toBe(result.sha);
    expect(rebased.some((sha) => own.includes(sha))).toBe(false);
    expect(await bare(['log', '--format=%an <%ae>|%cn', `${before}..main`])).toBe('Alice <alice@users.noreply.github.com>|GitHub\nAlice <alice@users.noreply.github.com>|GitHub');
    for (const sha of [...rebased, ...own]) expect(await associated(sha)).toEqual([pr.number]);
    expect((await bot.rest.pulls.get({ ...o, pull_number: pr.number })).data.merge_commit_sha).toBe(result.sha);
  });

  it('a direct push to main (git push to the bare repository) has no pull request', async () => {
    const sha = await humanPush(fake.bareRepo, 'main', { 'hotfix.txt': 'x\n' }, aliceWho);
    expect(await bare(['rev-parse', 'main'])).toBe(sha);
    expect(await associated(sha)).toEqual([]);
  });

  it('405 for a conflicting merge, 409 for a stale head sha', async () => {
    await humanPush(fake.bareRepo, 'conflict-a', { 'shared.txt': 'a\n' }, aliceWho);
    const { data: pr } = await alice.rest.pulls.create({ ...o, title: 'A', head: 'conflict-a', base: 'main' });
    await humanPush(fake.bareRepo, 'main', { 'shared.txt': 'b\n' }, aliceWho);
    const { data: view } = await bot.rest.pulls.get({ ...o, pull_number: pr.number });
    expect([view.mergeable, view.mergeable_state]).toEqual([false, 'dirty']);
    const conflict = await bob.rest.pulls.merge({ ...o, pull_number: pr.number }).catch((e: { status: number; response: { data: unknown } }) => e);
    expect(conflict).toMatchObject({ status: 405, response: { data: { message: 'Pull Request is not mergeable' } } });
    const stale = await bob.rest.pulls.merge({ ...o, pull_number: pr.number, sha: '0'.repeat(40) }).catch((e: { status: number; response: { data: unknown } }) => e);
    expect(stale).toMatchObject({ status: 409, response: { data: { message: 'Head branch was modified. Review and try the merge again.' } } });
  });

  it('pulls.listCommits names the users behind commit emails (noreply form or a set email)', async () => {
    await humanPush(fake.bareRepo, 'authors', { 'x.txt': '1\n' }, aliceWho);
    await humanPush(fake.bareRepo, 'authors', { 'y.txt': '2\n' }, { name: 'Bob', email: 'bob@corp.example' }, 'origin/authors');
    await humanPush(fake.bareRepo, 'authors', { 'z.txt': '3\n' }, { name: 'Stranger', email: 'who@else.example' }, 'origin/authors');
    const { data: pr } = await alice.rest.pulls.create({ ...o, title: 'authors', head: 'authors', base: 'main' });
    const commits = await bot.paginate(bot.rest.pulls.listCommits, { ...o, pull_number: pr.number });
    expect(commits.map((c) => [c.commit.author?.email, c.author && 'login' in c.author ? c.author.login : null])).toEqual([
      ['alice@users.noreply.github.com', 'alice'],
      ['bob@corp.example', 'bob'],
      ['who@else.example', null],
    ]);
  });

  it('paginates lists with Link headers (next/last) that octokit.paginate follows', async () => {
    const first = await bot.rest.teams.listMembersInOrg({ org: 'acme', team_slug: 'fleet-approvers' });
    expect(first.data).toHaveLength(2);
    expect(first.headers.link).toMatch(/<http:\/\/127\.0\.0\.1:\d+\/orgs\/acme\/teams\/fleet-approvers\/members\?page=2>; rel="next", <[^>]*page=3>; rel="last"/);
    const before = fake.requests.length;
    const members = await bot.paginate(bot.rest.teams.listMembersInOrg, { org: 'acme', team_slug: 'fleet-approvers' });
    expect(members.map((m) => m.login)).toEqual(['alice', 'bob', 'carol', 'dave', 'erin']);
    expect(fake.requests.slice(before).map((r) => r.operationId)).toEqual(Array(3).fill('teams/list-members-in-org'));
    const all = await bot.paginate(bot.rest.pulls.list, { ...o, state: 'all' });
    expect(all.length).toBeGreaterThan(2);
    expect(new Set(all.map((p) => p.number)).size).toBe(all.length);
  });

  it('sends rate-limit headers and a request id on every response', async () => {
    const a = await bot.rest.repos.get(o);
    const b = await bot.rest.repos.get(o);
    for (const h of [a.headers, b.headers]) {
      expect(h).toMatchObject({ 'x-ratelimit-limit': '5000', 'x-ratelimit-resource': 'core', 'x-ratelimit-reset': expect.stringMatching(/^\d+$/), 'x-github-request-id': expect.stringMatching(/^[0-9A-F:]+$/) });
    }
    expect(Number(a.headers['x-ratelimit-remaining']) - Number(b.headers['x-ratelimit-remaining'])).toBe(1);
    expect(Number(b.headers['x-ratelimit-used'])).toBe(Number(a.headers['x-ratelimit-used']) + 1);
  });

  it('answers 401, 404, 409 and 422 in shapes the description accepts', async () => {
    const anon = client(fake, 'ghp_not-a-token', seen);
    const e401 = await anon.rest.repos.get(o).catch((e: { status: number; response: { data: unknown } }) => e);
    expect(e401).toMatchObject({ status: 401, response: { data: { message: 'Bad credentials', documentation_url: expect.stringMatching(/^https:\/\/docs\.github\.com\//) } } });
    const e404 = await bot.rest.teams.listMembersInOrg({ org: 'acme', team_slug: 'nobody' }).catch((e: { status: number; response: { data: unknown } }) => e);
    expect(e404).toMatchObject({ status: 404, response: { data: { message: 'Not Found' } } });
    const empty = await fake.addRepo({ owner: 'acme', repo: 'empty', empty: true });
    const e409 = await bot.rest.git.getRef({ owner: empty.owner, repo: empty.repo, ref: 'heads/main' }).catch((e: { status: number; response: { data: unknown } }) => e);
    expect(e409).toMatchObject({ status: 409, response: { data: { message: 'Git Repository is empty.' } } });
    const e422 = await bot.rest.pulls.create({ ...o, title: 'x', head: 'no-such-branch', base: 'main' }).catch((e: { status: number; response: { data: unknown } }) => e);
    expect(e422).toMatchObject({ status: 422, response: { data: { message: 'Validation Failed', errors: [{ resource: 'PullRequest', field: 'head', code: 'invalid' }] } } });
    expect(fake.requests.filter((r) => r.status >= 400).map((r) => r.status)).toEqual(expect.arrayContaining([401, 404, 409, 422]));
  });

  it('failNext: a 502 is retried by plugin-retry, a secondary rate limit (403 + retry-after) by plugin-throttling', async () => {
    const Plugged = Octokit.plugin(retry, throttling);
    const onSecondaryRateLimit: Array<number> = [];
    const gh = new Plugged({
      baseUrl: fake.url,
      auth: fake.botToken,
      log: quiet,
      request: { fetch: validatingFetch(undefined, (p) => seen.push(p)) },
      retry: { retryAfterBaseValue: 1 },
      throttle: { retryAfterBaseValue: 1, onRateLimit: () => false, onSecondaryRateLimit: (after: number) => (onSecondaryRateLimit.push(after), true) },
    });
    fake.failNext('repos/get', 502, { times: 2 });
    const before = fake.requests.length;
    expect((await gh.rest.repos.get(o)).status).toBe(200);
    expect(fake.requests.slice(before).map((r) => r.status)).toEqual([502, 502, 200]);
    fake.failNext('pulls/list', 403, { headers: { 'retry-after': '1' } });
    const again = fake.requests.length;
    await gh.rest.pulls.list(o);
    expect(fake.requests.slice(again).map((r) => r.status)).toEqual([403, 200]);
    expect(onSecondaryRateLimit).toEqual([1]);
    expect(() => fake.failNext('pulls/list-reviews', 409)).toThrow(/does not answer 409/);
  });

  it('exchanges an App JWT for an installation token (@octokit/auth-app) and refuses a forged one', async () => {
    const gh = new Octokit({
      baseUrl: fake.url,
      log: quiet,
      authStrategy: createAppAuth,
      auth: { appId: fake.app.appId, privateKey: fake.app.privateKeyPem, installationId: fake.app.installationId },
      request: { fetch: validatingFetch(undefined, (p) => seen.push(p)) },
    });
    expect((await gh.rest.repos.get(o)).data.full_name).toBe('acme/fleet');
    expect(fake.requests.slice(-2).map((r) => [r.operationId, r.login])).toEqual([
      ['apps/create-installation-access-token', undefined],
      ['repos/get', 'clawops-bot[bot]'],
    ]);
    const exchange = (jwt: string) => new Octokit({ baseUrl: fake.url, auth: jwt, log: quiet }).rest.apps.createInstallationAccessToken({ installation_id: fake.app.installationId });
    const { data: minted } = await exchange(appJwt(fake.app.privateKeyPem, fake.app.appId));
    expect(minted).toMatchObject({ token: expect.stringMatching(/^ghs_/), expires_at: expect.any(String) });
    expect(await exchange(appJwt(otherKey(), fake.app.appId)).catch((e: { status: number }) => e.status)).toBe(401);
  });

  it('GET /app and GET /repos/{owner}/{repo}/installation answer the App to its JWT (@octokit/auth-app), as the description says', async () => {
    const asApp = new Octokit({ baseUrl: fake.url, log: quiet, authStrategy: createAppAuth, auth: { appId: fake.app.appId, privateKey: fake.app.privateKeyPem }, request: { fetch: validatingFetch(undefined, (p) => seen.push(p)) } });
    const from = fake.requests.length;
    const { data: me } = await asApp.rest.apps.getAuthenticated();
    expect(me).toMatchObject({ id: fake.app.appId, slug: 'clawops-bot', name: 'clawops', owner: { login: 'acme', type: 'Organization' }, installations_count: 1, permissions: { checks: 'write' } });
    expect(spec.validateSchema('integration', me)).toEqual([]);
    const { data: installation } = await asApp.rest.apps.getRepoInstallation(o);
    expect(installation).toMatchObject({ id: fake.app.installationId, app_id: fake.app.appId, app_slug: 'clawops-bot', account: { login: 'acme' }, target_type: 'Organization', repository_selection: 'all' });
    expect(spec.validateSchema('installation', installation)).toEqual([]);
    // The installation it names is the one the token exchange accepts.
    const { data: minted } = await asApp.rest.apps.createInstallationAccessToken({ installation_id: installation.id });
    expect(minted.token).toMatch(/^ghs_/);
    expect(fake.requests.slice(from).map((r) => `${r.operationId} ${r.status} ${r.login}`)).toEqual([
      'apps/get-authenticated 200 undefined',
      'apps/get-repo-installation 200 undefined',
      'apps/create-installation-access-token 201 undefined',
    ]);
    // No such repository, or one of an account the App is not installed on: 404.
    const outsider = await fake.addRepo({ owner: 'outsider', empty: true });
    for (const repo of [{ ...o, repo: 'no-such-repo' }, { owner: outsider.owner, repo: outsider.repo }]) {
      expect(await asApp.rest.apps.getRepoInstallation(repo).catch((e: { status: number; response: { data: unknown } }) => e)).toMatchObject({ status: 404, response: { data: { message: 'Not Found' } } });
    }
  });

  it('GET /app and the repo installation refuse a JWT signed by another key, an installation token and a user token (401)', async () => {
    const refusal = (p: Promise<unknown>) => p.then(() => 'answered', (e: { status: number; response: { data: { message: string } } }) => `${e.status} ${e.response.data.message}`);
    const askBoth = (gh: Octokit, headers: Record<string, string> = {}) => [refusal(gh.rest.apps.getAuthenticated({ headers })), refusal(gh.rest.apps.getRepoInstallation({ ...o, headers }))];
    const forged = client(fake, appJwt(otherKey(), fake.app.appId), seen);
    const wrongIssuer = client(fake, appJwt(fake.app.privateKeyPem, fake.app.appId + 1), seen);
    const undecodable = '401 A JSON web token could not be decoded';
    expect(await Promise.all(askBoth(forged))).toEqual([undecodable, undecodable]);
    expect(await Promise.all(askBoth(wrongIssuer))).toEqual(['401 Integration not found', '401 Integration not found']);
    // Octokit sends an installation or user token as `token …`; sent as `bearer …` it is refused the same way.
    const unauthenticated = new Octokit({ baseUrl: fake.url, log: quiet, request: { fetch: validatingFetch(undefined, (p) => seen.push(p)) } });
    const asBearer = askBoth(unauthenticated, { authorization: `bearer ${fake.botToken}` });
    expect(await Promise.all([...askBoth(bot), ...askBoth(alice), ...asBearer, ...askBoth(unauthenticated)])).toEqual(Array(8).fill(undecodable));
  });

  it('sticky comment: create, find by marker and bot author, update in place', async () => {
    await botBranch('clawops/sticky', { 's.txt': 's\n' });
    const { data: pr } = await bot.rest.pulls.create({ ...o, title: 'sticky', head: 'clawops/sticky', base: 'main' });
    await alice.rest.issues.createComment({ ...o, issue_number: pr.number, body: '<!-- clawops:plan --> pasted by a human' });
    const upsert = async (body: string) => {
      const comments = await bot.paginate(bot.rest.issues.listComments, { ...o, issue_number: pr.number });
      const mine = comments.find((c) => c.body?.startsWith('<!-- clawops:plan -->') && c.user?.login === fake.botLogin);
      if (mine) await bot.rest.issues.updateComment({ ...o, comment_id: mine.id, body });
      else await bot.rest.issues.createComment({ ...o, issue_number: pr.number, body });
    };
    await upsert('<!-- clawops:plan -->\nplan v1');
    await upsert('<!-- clawops:plan -->\nplan v2');
    expect(fake.comments(pr.number).map((c) => [c.user, c.body])).toEqual([
      ['alice', '<!-- clawops:plan --> pasted by a human'],
      ['clawops-bot[bot]', '<!-- clawops:plan -->\nplan v2'],
    ]);
    const { data: listed } = await bot.rest.issues.listComments({ ...o, issue_number: pr.number });
    expect(listed[1]).toMatchObject({ performed_via_github_app: { slug: 'clawops-bot' }, user: { type: 'Bot' } });
  });

  it('check runs keep their annotations across create and update; listForRef filters by name', async () => {
    const sha = await botBranch('clawops/checks', { 'c.txt': 'c\n' });
    const note = (i: number) => ({ path: 'agents/support.yaml', start_line: i, end_line: i, annotation_level: 'warning' as const, message: `finding ${i}` });
    const { data: created } = await bot.rest.checks.create({ ...o, name: 'clawops/plan', head_sha: sha, status: 'in_progress', output: { title: 'Plan', summary: 'running', annotations: Array.from({ length: 50 }, (_, i) => note(i + 1)) } });
    expect(created).toMatchObject({ status: 'in_progress', conclusion: null, app: { id: fake.app.appId }, output: { annotations_count: 50 } });
    const { data: done } = await bot.rest.checks.update({ ...o, check_run_id: created.id, conclusion: 'failure', output: { title: 'Plan', summary: '1 denied', annotations: [note(51)] } });
    expect(done).toMatchObject({ status: 'completed', conclusion: 'failure', completed_at: expect.any(String), output: { annotations_count: 51, summary: '1 denied' } });
    await bot.rest.checks.create({ ...o, name: 'clawops/validate', head_sha: sha, conclusion: 'success', output: { title: 'ok', summary: 'ok' } });
    const { data: listed } = await bot.rest.checks.listForRef({ ...o, ref: 'clawops/checks', check_name: 'clawops/plan' });
    expect([listed.total_count, listed.check_runs[0]?.id]).toEqual([1, created.id]);
    const run = fake.checkRuns().find((r) => r.id === created.id);
    expect([run?.annotations.length, run?.annotations[50]?.message]).toEqual([51, 'finding 51']);
    const human = await alice.rest.checks.create({ ...o, name: 'x', head_sha: sha }).catch((e: { status: number }) => e.status);
    expect(human).toBe(403);
  });

  it('a pull request from a fork: head.repo differs, and it merges into the base repository', async () => {
    const fork = await fake.addRepo({ owner: 'forker', fork: true });
    const head = await humanPush(fork.bareRepo, 'from-fork', { 'fork.txt': 'f\n' }, { name: 'Forker', email: 'forker@users.noreply.github.com' });
    const forker = client(fake, fake.tokenFor('forker'), seen);
    const { data: pr } = await forker.rest.pulls.create({ ...o, title: 'From a fork', head: 'forker:from-fork', base: 'main' });
    expect([pr.head.repo.full_name, pr.base.repo.full_name, pr.head.label, pr.head.sha]).toEqual(['forker/fleet', 'acme/fleet', 'forker:from-fork', head]);
    const { data: result } = await bob.rest.pulls.merge({ ...o, pull_number: pr.number });
    expect(await bare(['rev-parse', `${result.sha}^2`])).toBe(head);
    expect(await bare(['cat-file', '-p', 'main:fork.txt'])).toBe('f');
    expect(await associated(head)).toEqual([pr.number]);
  });

  it('fake.pulls() follows a head branch pushed outside the API', async () => {
    await humanPush(fake.bareRepo, 'moving', { 'm.txt': '1\n' }, aliceWho);
    const { data: pr } = await alice.rest.pulls.create({ ...o, title: 'moving', head: 'moving', base: 'main' });
    const next = await humanPush(fake.bareRepo, 'moving', { 'm.txt': '2\n' }, aliceWho, 'origin/moving');
    expect((await fake.pulls()).find((p) => p.number === pr.number)?.head.sha).toBe(next);
  });
});

describe('the validator catches what a careless fake or client gets wrong', () => {
  let fake: FakeGitHub;
  beforeAll(async () => {
    fake = await startFakeGitHub();
  });
  afterAll(() => fake?.close());

  /** A fetch that answers one canned response (what a lazy hand-written mock does). */
  const canned = (status: number, body: unknown): typeof fetch => async () => new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8' } });

  it('a response missing a required field', async () => {
    const { data: repo } = await new Octokit({ baseUrl: fake.url, auth: fake.botToken, log: quiet }).rest.repos.get({ owner: fake.owner, repo: fake.repo });
    expect(spec.validateSchema('full-repository', repo)).toEqual([]);
    const lazy: Record<string, unknown> = { ...repo };
    delete lazy.node_id;
    const problems: string[] = [];
    const gh = new Octokit({ baseUrl: fake.url, auth: 'x', log: quiet, request: { fetch: validatingFetch(canned(200, lazy), (p) => problems.push(p)) } });
    await gh.rest.repos.get({ owner: 'acme', repo: 'fleet' });
    expect(problems).toEqual([expect.stringMatching(/^GET \/repos\/acme\/fleet \(repos\/get\): response 200 body invalid: \(root\) must have required property 'node_id'$/)]);
  });

  it('a request body with a wrong type, seen by the fake (which answers 422) and by the client', async () => {
    const problems: string[] = [];
    const gh = new Octokit({ baseUrl: fake.url, auth: fake.botToken, log: quiet, request: { fetch: validatingFetch(undefined, (p) => problems.push(p)) } });
    const status = await gh.rest.pulls.create({ owner: fake.owner, repo: fake.repo, title: 't', head: 'x', base: 'main', draft: 'yes' as unknown as boolean }).catch((e: { status: number }) => e.status);
    expect(status).toBe(422);
    expect(fake.problems).toEqual([expect.stringContaining('(pulls/create): request body invalid: /draft must be boolean')]);
    expect(problems).toEqual([expect.stringContaining('request body invalid: /draft must be boolean')]);
  });

  it('an undocumented status and a missing body', () => {
    const created = { method: 'POST', url: '/repos/acme/fleet/check-runs', requestBody: { name: 'n', head_sha: 'a'.repeat(40) } };
    expect(validateExchange({ ...created, status: 200, responseBody: {} })).toEqual(['POST /repos/acme/fleet/check-runs (checks/create): status 200 is not documented (documented: 201)']);
    expect(validateExchange({ ...created, status: 201 })).toEqual([expect.stringContaining('response 201 has no body, but the description documents application/json content')]);
    expect(validateExchange({ method: 'GET', url: '/repos/acme/fleet/pulls/1/reviews', status: 409, responseBody: { message: 'x' } })).toEqual([expect.stringContaining('status 409 is not documented')]);
    // Statuses every endpoint may answer are accepted, but their bodies are still checked.
    expect(validateExchange({ method: 'GET', url: '/orgs/acme/teams/x/members', status: 404, responseBody: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' } })).toEqual([]);
    expect(validateExchange({ method: 'GET', url: '/orgs/acme/teams/x/members', status: 404, responseBody: { message: 404 } })).toEqual([expect.stringContaining('/message must be string')]);
  });

  it("a bad enum (conclusion 'succes') in a request and in a response", async () => {
    const problems: string[] = [];
    const gh = new Octokit({ baseUrl: fake.url, auth: fake.botToken, log: quiet, request: { fetch: validatingFetch(undefined, (p) => problems.push(p)) } });
    const sha = (await runGit(['--git-dir', fake.bareRepo, 'rev-parse', 'main'])).stdout.trim();
    const before = fake.problems.length;
    await gh.rest.checks.create({ owner: fake.owner, repo: fake.repo, name: 'n', head_sha: sha, conclusion: 'succes' as 'success' }).catch(() => undefined);
    expect(fake.problems.slice(before)).toEqual([expect.stringContaining('/conclusion must be equal to one of the allowed values')]);
    const { data: run } = await gh.rest.checks.create({ owner: fake.owner, repo: fake.repo, name: 'n', head_sha: sha, conclusion: 'success' });
    expect(spec.validateSchema('check-run', { ...run, conclusion: 'succes' })).toEqual([expect.stringContaining('/conclusion must be equal to one of the allowed values')]);
  });

  it('more than 50 annotations in one request: 422 and a recorded problem', async () => {
    const gh = new Octokit({ baseUrl: fake.url, auth: fake.botToken, log: quiet });
    const sha = (await runGit(['--git-dir', fake.bareRepo, 'rev-parse', 'main'])).stdout.trim();
    const before = fake.problems.length;
    const annotations = Array.from({ length: 51 }, (_, i) => ({ path: 'a', start_line: i + 1, end_line: i + 1, annotation_level: 'notice' as const, message: 'm' }));
    const status = await gh.rest.checks.create({ owner: fake.owner, repo: fake.repo, name: 'n', head_sha: sha, output: { title: 't', summary: 's', annotations } }).catch((e: { status: number }) => e.status);
    expect(status).toBe(422);
    expect(fake.problems.slice(before)).toEqual([expect.stringContaining('/output/annotations must NOT have more than 50 items')]);
  });

  it('an operation outside the description, in the fake and through undici MockAgent', async () => {
    const before = fake.problems.length;
    const status = await new Octokit({ baseUrl: fake.url, auth: fake.botToken, log: quiet }).rest.pulls.listFiles({ owner: 'acme', repo: 'fleet', pull_number: 1 }).catch((e: { status: number }) => e.status);
    expect(status).toBe(404);
    expect(fake.problems.slice(before)).toEqual([expect.stringMatching(/^GET \/repos\/acme\/fleet\/pulls\/1\/files: no operation in the description matches/)]);
    const agent = new MockAgent();
    agent.disableNetConnect();
    agent.get('https://api.github.com').intercept({ path: '/repos/acme/fleet/pulls/7/reviews', method: 'GET' }).reply(200, [{ id: 1, user: 'alice', state: 'APPROVED' }], { headers: { 'content-type': 'application/json' } });
    const problems: string[] = [];
    const viaMock = ((input: string | URL | Request, init?: RequestInit) => undiciFetch(input as string, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch;
    await new Octokit({ auth: 'x', log: quiet, request: { fetch: validatingFetch(viaMock, (p) => problems.push(p)) } }).rest.pulls.listReviews({ owner: 'acme', repo: 'fleet', pull_number: 7 });
    await agent.close();
    expect(problems).toEqual([expect.stringMatching(/\(pulls\/list-reviews\): response 200 body invalid: .*\/0\/user must be object/)]);
  });
});

describe('options', () => {
  it('seeds the first commit from a folder, with the given owner, name and default branch', async () => {
    const seed = join(tmp, 'seed');
    mkdirSync(join(seed, 'agents'), { recursive: true });
    writeFileSync(join(seed, 'clawops.yaml'), 'github: { repo: o2/r2 }\n');
    writeFileSync(join(seed, 'agents', 'support.yaml'), 'kind: Agent\n');
    const fake = await startFakeGitHub({ seedDir: seed, owner: 'o2', repo: 'r2', defaultBranch: 'trunk' });
    try {
      const gh = new Octokit({ baseUrl: fake.url, auth: fake.botToken, log: quiet });
      expect((await gh.rest.repos.get({ owner: 'o2', repo: 'r2' })).data.default_branch).toBe('trunk');
      const { data: dir } = await gh.rest.repos.getContent({ owner: 'o2', repo: 'r2', path: 'agents' });
      expect(Array.isArray(dir) && dir.map((e) => e.name)).toEqual(['support.yaml']);
      expect((await runGit(['--git-dir', fake.bareRepo, 'ls-tree', '-r', '--name-only', 'trunk'])).stdout).toBe('agents/support.yaml\nclawops.yaml\n');
      expect(fake.problems).toEqual([]);
    } finally {
      await fake.close();
    }
  });
});

describe('the description subset', () => {
  it('is what the extraction script makes of it: the closure of the listed operations, nothing missing', () => {
    const subset = JSON.parse(readFileSync(DEFAULT_SUBSET_FILE, 'utf8')) as Record<string, unknown>;
    expect(subset['x-clawops-source']).toMatchObject({ package: '@octokit/openapi', version: '23.0.2', operations: [...GITHUB_OPERATIONS] });
    expect(extractSubset(subset as never, GITHUB_OPERATIONS, subset['x-clawops-source'] as never)).toEqual(subset);
    expect([...spec.operations.keys()].sort()).toEqual([...GITHUB_OPERATIONS].sort());
  });
});
