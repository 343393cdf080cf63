/**
 * The approval check at apply time (reconciler/github/change-approvals.ts) against a fake GitHub
 * validated by GitHub's OpenAPI description and a real git history: each way of faking,
 * skipping or reusing an approval is decided correctly, and each honest way of merging passes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApproverDirectory } from '../reconciler/github/approver-directory.ts';
import { ChangeApprovals } from '../reconciler/github/change-approvals.ts';
import { connectGitHub, type GitHubClient } from '../reconciler/github/client.ts';
import { decideReviews } from '../reconciler/github/review-decision.ts';
import { gate, missingApprovals } from '../reconciler/policy/approvals.ts';
import type { Change } from '../reconciler/plan/plan.ts';
import { Redactor } from '../reconciler/redact/redactor.ts';
import { runGit } from './helpers/git-http-server.ts';
import { startFakeGitHub, type FakeGitHub } from './helpers/github/fake-github.ts';
import { gitAs, people } from './helpers/github/people.ts';

let fake: FakeGitHub;
let gh: GitHubClient;
let tmp: string;
let dev: string;
let runner: string;
const as = people(() => fake);
const git = gitAs;


/** One approval-gated change to agents/<name>.yaml, needing `count` approvals from security. */
function change(name: string, count = 1): Change {
  return {
    gateway: 'gw',
    agentId: name,
    resource: `Agent/${name}`,
    action: 'update',
    category: 'model',
    risk: 'high',
    path: 'spec.config.model.primary',
    before: 'a',
    after: 'b',
    verdict: { effect: 'require-approval', rules: [{ rule: 'baseline/model-change', effect: 'require-approval', risk: 'high', message: 'model' }], approvals: [{ rule: 'baseline/model-change', count, teams: ['security'] }] },
    source: { file: `agents/${name}.yaml`, line: 1, col: 1 },
  };
}

/** A branch off main that edits agents/<name>.yaml, pushed to `remote`; returns its head. */
async function branch(name: string, opts: { author?: string; message?: string; remote?: string } = {}): Promise<string> {
  await git(dev, ['fetch', '-q', 'origin']);
  await git(dev, ['checkout', '-q', '-B', name, 'origin/main']);
  writeFileSync(join(dev, 'agents', `${name}.yaml`), `kind: Agent\nmetadata: { name: ${name} }\nspec: { config: { model: { primary: b-${Date.now()} } } }\n`);
  await git(dev, ['add', '-A']);
  await git(dev, ['commit', '-q', '-m', opts.message ?? `change ${name}`], opts.author ?? 'dev');
  await git(dev, ['push', '-q', opts.remote ?? 'origin', `${name}:refs/heads/${name}`]);
  return git(dev, ['rev-parse', 'HEAD']);
}

async function openPr(name: string, author = 'dev', head = name): Promise<number> {
  const { data } = await as(author).rest.pulls.create({ owner: 'acme', repo: 'fleet', head, base: 'main', title: `change ${name}` });
  return data.number;
}

const approve = (login: string, pr: number, commit_id?: string) =>
  as(login).rest.pulls.createReview({ owner: 'acme', repo: 'fleet', pull_number: pr, event: 'APPROVE', ...(commit_id ? { commit_id } : {}) });
const merge = (pr: number, method: 'merge' | 'squash' | 'rebase' = 'merge') => as('dev').rest.pulls.merge({ owner: 'acme', repo: 'fleet', pull_number: pr, merge_method: method });

/** The runner's view after the merge: the approval check of change(name) from `base` to main's head. */
async function decide(name: string, base: string, count = 1) {
  await git(runner, ['fetch', '-q', 'origin']);
  const head = await git(runner, ['rev-parse', 'origin/main']);
  const check = new ChangeApprovals({ gh, directory: new ApproverDirectory(gh, { security: { githubTeam: 'acme/security' } }), gitdir: join(runner, '.git'), prefix: '', head, branch: 'main', ledger: new Map() });
  const c = change(name, count);
  const result = await check.check({ gateway: 'gw', agentId: name, changes: [c], files: [`agents/${name}.yaml`], base });
  return { ...result, gate: gate(c.verdict, result.evidence), missing: missingApprovals(c.verdict, result.evidence) };
}

const mainSha = async () => (await git(dev, ['ls-remote', 'origin', 'refs/heads/main'])).split(/\s/)[0]!;

beforeAll(async () => {
  fake = await startFakeGitHub({ owner: 'acme', repo: 'fleet', perPage: 2 });
  fake.addTeam('acme', 'security', ['sam', 'sue', 'dana']);
  tmp = mkdtempSync(join(tmpdir(), 'clawops-approvals-'));
  dev = join(tmp, 'dev');
  runner = join(tmp, 'runner');
  await runGit(['clone', '-q', fake.bareRepo, dev]);
  await git(dev, ['checkout', '-q', '-B', 'main', 'origin/main']);
  await import('node:fs').then((fs) => fs.mkdirSync(join(dev, 'agents'), { recursive: true }));
  await runGit(['clone', '-q', fake.bareRepo, runner]);
  gh = await connectGitHub({
    env: { GITHUB_TOKEN: fake.botToken, GITHUB_API_URL: fake.url, GITHUB_REPOSITORY: 'acme/fleet', CLAWOPS_GITHUB_LOGIN: fake.botLogin },
    redactor: new Redactor(),
    limits: { paceWrites: false, baseDelayMs: 1 },
  });
}, 60_000);

afterAll(async () => {
  await fake?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('which reviews count (the rules, without a network)', () => {
  const pull = { number: 1, author: 'dev', headSha: 'h2', coAuthors: new Set(['carol']) };
  const review = (id: number, login: string, state: string, commitId: string | null = 'h2', submittedAt = `2026-01-01T00:00:0${id}Z`) => ({ id, login, state, commitId, submittedAt });
  it('counts the latest non-comment review per person, on the head, not by an author, co-author or clawops', () => {
    const d = decideReviews(
      pull,
      [
        review(1, 'sam', 'APPROVED'),
        review(2, 'sam', 'COMMENTED'),
        review(3, 'ana', 'APPROVED', 'h1'),
        review(4, 'bob', 'APPROVED'),
        review(5, 'bob', 'CHANGES_REQUESTED'),
        review(6, 'dev', 'APPROVED'),
        review(7, 'carol', 'APPROVED'),
        review(8, 'eve', 'DISMISSED'),
        review(9, 'clawops[bot]', 'APPROVED'),
      ],
      new Set(['clawops[bot]']),
    );
    expect(d.approvedBy.map((r) => r.login)).toEqual(['sam']);
    expect(Object.fromEntries(d.ignored.map((i) => [i.login, i.why]))).toEqual({
      ana: 'approved h1, but the head is h2 (pushed after the approval)',
      bob: 'their latest review is changes requested',
      dev: 'the author cannot approve their own pull request',
      carol: 'a co-author of its commits cannot approve them',
      eve: 'their review was dismissed',
      'clawops[bot]': 'clawops does not approve its own changes',
    });
  });
  it('reads reviews in time order even when a page lists them out of order', () => {
    const d = decideReviews(pull, [review(5, 'sam', 'CHANGES_REQUESTED'), review(1, 'sam', 'APPROVED')], new Set());
    expect(d.approvedBy).toEqual([]);
  });
});

describe('the approval spoof suite (fake GitHub, real git history)', { timeout: 60_000 }, () => {
  it('an approval by a member of the team at the final head, merge commit: applied, with the evidence', async () => {
    const base = await mainSha();
    const head = await branch('honest');
    const pr = await openPr('honest');
    const { data: review } = await approve('sam', pr);
    await merge(pr, 'merge');
    const d = await decide('honest', base);
    expect(d.gate).toBe('apply');
    expect(d.evidence.pulls).toEqual([expect.objectContaining({ pr, headSha: head, author: 'dev', reviewers: [expect.objectContaining({ login: 'sam', groups: ['security'], reviewId: review.id })] })]);
    expect(d.evidence.pulls[0]!.mergeCommit).toBe(await mainSha());
  });

  it('squash merge and rebase merge are attributed to their pull request', async () => {
    for (const method of ['squash', 'rebase'] as const) {
      const name = `merged-by-${method}`;
      const base = await mainSha();
      await branch(name);
      const pr = await openPr(name);
      await approve('sue', pr);
      await merge(pr, method);
      const d = await decide(name, base);
      expect(d.gate, method).toBe('apply');
      expect(d.evidence.pulls.map((p) => p.pr), method).toEqual([pr]);
    }
  });

  it('self-approval: GitHub refuses it, and the author of a PR never counts', async () => {
    const base = await mainSha();
    await branch('self', { author: 'sam' });
    const pr = await openPr('self', 'sam');
    await expect(approve('sam', pr)).rejects.toMatchObject({ status: 422 });
    await merge(pr);
    const d = await decide('self', base);
    expect(d.gate).toBe('hold');
    expect(d.missing).toEqual([`1 more approval from security on #${pr} (baseline/model-change)`]);
  });

  it('a co-author of the commits cannot approve them', async () => {
    const base = await mainSha();
    await branch('coauthored', { message: 'change coauthored\n\nCo-authored-by: Sam <sam@users.noreply.github.com>' });
    const pr = await openPr('coauthored');
    await approve('sam', pr);
    await merge(pr);
    expect((await decide('coauthored', base)).gate).toBe('hold');
  });

  it('an approval before the last push does not count', async () => {
    const base = await mainSha();
    const first = await branch('stale');
    const pr = await openPr('stale');
    await approve('sam', pr, first);
    writeFileSync(join(dev, 'agents', 'stale.yaml'), 'kind: Agent\nmetadata: { name: stale }\nspec: { config: { model: { primary: sneaky } } }\n');
    await git(dev, ['commit', '-q', '-am', 'one more push']);
    await git(dev, ['push', '-q', 'origin', 'stale:refs/heads/stale']);
    await merge(pr);
    const d = await decide('stale', base);
    expect(d.gate).toBe('hold');
  });

  it('a reviewer outside the team does not count', async () => {
    const base = await mainSha();
    await branch('outsider');
    const pr = await openPr('outsider');
    await approve('mallory', pr);
    await merge(pr);
    expect((await decide('outsider', base)).gate).toBe('hold');
  });

  it('a dismissed review does not count', async () => {
    const base = await mainSha();
    await branch('dismissed');
    const pr = await openPr('dismissed');
    const { data: review } = await approve('sam', pr);
    await as('admin').rest.pulls.dismissReview({ owner: 'acme', repo: 'fleet', pull_number: pr, review_id: review.id, message: 'not this one' });
    await merge(pr);
    expect((await decide('dismissed', base)).gate).toBe('hold');
  });

  it('an approval followed by "changes requested" from the same reviewer does not count', async () => {
    const base = await mainSha();
    await branch('retracted');
    const pr = await openPr('retracted');
    await approve('sam', pr);
    await as('sam').rest.pulls.createReview({ owner: 'acme', repo: 'fleet', pull_number: pr, event: 'REQUEST_CHANGES', body: 'wait' });
    await merge(pr);
    expect((await decide('retracted', base)).gate).toBe('hold');
  });

  it('two approvals from the same person count once; two people count twice', async () => {
    const base = await mainSha();
    await branch('twice');
    const pr = await openPr('twice');
    await approve('sam', pr);
    await approve('sam', pr);
    await merge(pr);
    const once = await decide('twice', base, 2);
    expect(once.gate).toBe('hold');
    expect(once.missing).toEqual([`1 more approval from security on #${pr} (baseline/model-change)`]);

    const base2 = await mainSha();
    await branch('two-people');
    const pr2 = await openPr('two-people');
    await approve('sam', pr2);
    await approve('dana', pr2);
    await merge(pr2);
    expect((await decide('two-people', base2, 2)).gate).toBe('apply');
  });

  it('a direct push to main without a pull request is held, even when an approved PR carries the same commit', async () => {
    const base = await mainSha();
    await branch('direct');
    const pr = await openPr('direct');
    await approve('sam', pr);
    // Pushed straight to main instead of merging the (approved, still open) pull request.
    await git(dev, ['push', '-q', 'origin', 'direct:refs/heads/main']);
    const d = await decide('direct', base);
    expect(d.gate).toBe('hold');
    expect(d.evidence.unapproved).toEqual([{ commit: await mainSha(), why: expect.stringMatching(/no merged pull request into main brought .* \(pushed directly\?\)/) }]);
    await as('dev').rest.pulls.update({ owner: 'acme', repo: 'fleet', pull_number: pr, state: 'closed' });
  });

  it('a pull request merged from a fork counts like any other, judged on its head in the fork', async () => {
    const fork = await fake.addRepo({ owner: 'forker', fork: true });
    await git(dev, ['remote', 'add', 'fork', fork.bareRepo]);
    for (const [name, reviewer, expected] of [
      ['from-fork', 'sam', 'apply'],
      ['from-fork-unreviewed', 'mallory', 'hold'],
    ] as const) {
      const base = await mainSha();
      const head = await branch(name, { author: 'forker', remote: 'fork' });
      const pr = await openPr(name, 'forker', `forker:${name}`);
      await approve(reviewer, pr);
      await merge(pr);
      const d = await decide(name, base);
      expect(d.gate, name).toBe(expected);
      expect(d.evidence.pulls[0], name).toMatchObject({ pr, headSha: head, headRepo: 'forker/fleet', author: 'forker' });
    }
  });

  it('only files of the change set matter: an unreviewed PR elsewhere does not hold it', async () => {
    const base = await mainSha();
    await branch('scoped');
    const pr = await openPr('scoped');
    await approve('sam', pr);
    await merge(pr);
    await branch('unrelated');
    await merge(await openPr('unrelated'));
    expect((await decide('scoped', base)).gate).toBe('apply');
  });

  it('answered every request and response within GitHub’s published API description', () => {
    expect(fake.problems).toEqual([]);
  });
});
