/**
 * The GitHub Action end to end: the committed bundle (actions/dist/index.js) run the way the runner
 * runs it (INPUT_* variables, an event file, GITHUB_OUTPUT), against a fake GitHub validated by
 * GitHub's OpenAPI description and a real OpenClaw gateway.
 *
 * 1. A pull request that changes an agent's model: the plan lands as one sticky comment and one
 *    check run; after the security team's review, a second run updates the same comment.
 * 2. The merge: a push event applies it; the signed audit branch records the review evidence.
 * 3. The same kind of change pushed straight to main is held and gets exactly one approval PR;
 *    merging that PR with a security review releases it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { GatewayClient } from '../fleet/openclaw/client.ts';
import { generateDeviceIdentity } from '../fleet/openclaw/device-identity.ts';
import { agentEntries, OpenClawGateway } from '../fleet/openclaw/gateway-api.ts';
import { openclaw } from '../fleet/harness/openclaw-cli.ts';
import { ACTION_COMMANDS } from '../reconciler/github/action.ts';
import { allowedSignersText, makeKey, type TestKey } from './fixtures/audit/audit-branch.ts';
import { ROOT } from './helpers/cli.ts';
import { sharedGateway } from './helpers/gateways.ts';
import { runGit } from './helpers/git-http-server.ts';
import { startFakeGitHub, type FakeGitHub } from './helpers/github/fake-github.ts';
import { gitAs, people } from './helpers/github/people.ts';
import { liveRepos } from './helpers/live-repo.ts';

const AGENT = 'gh-flow';
const BUNDLE = join(ROOT, 'actions', 'dist', 'index.js');

let fake: FakeGitHub;
let tmp: string;
let dev: string;
let key: TestKey;
let baseEnv: Record<string, string>;
const secrets: string[] = [];
const as = people(() => fake);
const git = gitAs;
const repo = { owner: 'acme', repo: 'fleet' };


/** What actions/checkout leaves: a full clone at `sha`, the token in the local config's extraheader. */
async function checkout(sha: string): Promise<string> {
  const dir = mkdtempSync(join(tmp, 'runner-'));
  const auth = `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${fake.botToken}`).toString('base64')}`;
  await git(tmp, ['-c', `http.extraHeader=${auth}`, 'clone', '-q', fake.gitUrl, dir]);
  await git(dir, ['config', 'http.extraHeader', auth]);
  await git(dir, ['checkout', '-q', sha]);
  return dir;
}

interface ActionRun {
  readonly code: number;
  readonly output: string;
  readonly outputs: Record<string, string>;
  readonly summary: string;
}

/** Runs the bundle as the runner would for `event`. */
async function runAction(command: string, event: { name: string; payload: object; sha: string }): Promise<ActionRun> {
  const workspace = await checkout(event.sha);
  const files = mkdtempSync(join(tmp, 'gh-files-'));
  const paths = { event: join(files, 'event.json'), output: join(files, 'output'), summary: join(files, 'summary.md') };
  writeFileSync(paths.event, JSON.stringify(event.payload));
  writeFileSync(paths.output, '');
  writeFileSync(paths.summary, '');
  const env = {
    ...baseEnv,
    'INPUT_COMMAND': command,
    'INPUT_REPO-PATH': '.',
    GITHUB_WORKSPACE: workspace,
    GITHUB_EVENT_NAME: event.name,
    GITHUB_EVENT_PATH: paths.event,
    GITHUB_SHA: event.sha,
    GITHUB_OUTPUT: paths.output,
    GITHUB_STEP_SUMMARY: paths.summary,
    GITHUB_RUN_ID: '77',
  };
  const { code, output } = await new Promise<{ code: number; output: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [BUNDLE], { env, cwd: workspace, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c ?? 1, output: out }));
  });
  const outputs: Record<string, string> = {};
  for (const m of readFileSync(paths.output, 'utf8').matchAll(/^([\w-]+)<<(ghadelimiter_[\w-]+)\n([\s\S]*?)\n\2$/gm)) outputs[m[1]!] = m[3]!;
  const summary = readFileSync(paths.summary, 'utf8');
  for (const s of secrets) expect(output + summary, 'a secret in the Action output').not.toContain(s);
  return { code, output, outputs, summary };
}

const pushEvent = (sha: string, ref = 'refs/heads/main') => ({ name: 'push', sha, payload: { ref, after: sha, repository: { default_branch: 'main' } } });
const prEvent = (number: number, sha: string) => ({ name: 'pull_request', sha, payload: { action: 'synchronize', number, pull_request: { number, head: { sha } } } });
const mainSha = async () => (await git(dev, ['ls-remote', 'origin', 'refs/heads/main'])).split(/\s/)[0]!;

async function liveModel(): Promise<unknown> {
  const gw = sharedGateway('a');
  const session = new OpenClawGateway(await GatewayClient.connect({ url: gw.url, token: gw.token, device: generateDeviceIdentity(), scopes: ['operator.read'] }));
  try {
    const agent = agentEntries(await session.configGet())[AGENT] as { model?: { primary?: string } } | undefined;
    return agent?.model?.primary;
  } finally {
    await session.client.close();
  }
}

/** Edits the agent's model on a branch (or main) of the developer's clone and pushes it. */
async function editModel(model: string, branch: string): Promise<string> {
  await git(dev, ['fetch', '-q', 'origin']);
  await git(dev, ['checkout', '-q', '-B', branch, 'origin/main']);
  const file = join(dev, 'agents', `${AGENT}.yaml`);
  writeFileSync(file, readFileSync(file, 'utf8').replace(/primary: \S+/, `primary: ${model}`));
  await git(dev, ['commit', '-q', '-am', `${AGENT}: model ${model}`]);
  await git(dev, ['push', '-q', 'origin', `${branch}:refs/heads/${branch}`]);
  return git(dev, ['rev-parse', 'HEAD']);
}

/** The audit events on the fake's audit branch, verified with native git against our key. */
async function auditEvents(): Promise<Array<Record<string, unknown>>> {
  const gitdir = fake.bareRepo;
  const signers = join(tmp, 'allowed_signers');
  writeFileSync(signers, allowedSignersText([{ principal: 'clawops@localhost', key }]));
  const head = (await runGit(['rev-parse', 'refs/heads/clawops/audit'], { cwd: gitdir })).stdout.trim();
  const verify = await runGit(['-c', `gpg.ssh.allowedSignersFile=${signers}`, 'verify-commit', head], { cwd: gitdir });
  expect(verify.code, `git verify-commit: ${verify.stderr}`).toBe(0);
  const files = (await runGit(['ls-tree', '-r', '--name-only', head, 'events'], { cwd: gitdir })).stdout.trim().split('\n');
  const lines: string[] = [];
  for (const f of files) lines.push(...(await runGit(['cat-file', 'blob', `${head}:${f}`], { cwd: gitdir })).stdout.trim().split('\n'));
  return lines.filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

const makeRepo = liveRepos();

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'clawops-action-'));
  key = makeKey(tmp, 'audit-key');
  const gw = sharedGateway('a');
  const live = await makeRepo([{ name: 'gw', url: gw.url, token: gw.token }]);
  secrets.push(gw.token);
  const cfg = join(live.dir, 'clawops.yaml');
  writeFileSync(
    cfg,
    readFileSync(cfg, 'utf8') +
      '  github: { repository: acme/fleet }\n  policies: [baseline]\n  approvers:\n    security: { githubTeam: acme/security }\n  defaults: { drift: { mode: propose } }\n',
  );
  await import('node:fs').then((fs) => fs.mkdirSync(join(live.dir, 'agents')));
  writeFileSync(
    join(live.dir, 'agents', `${AGENT}.yaml`),
    [
      '# The flow test agent. Its model is what the pull requests change.',
      'apiVersion: clawops.dev/v1',
      'kind: Agent',
      'metadata: { name: gh-flow }',
      'spec:',
      '  gateway: gw',
      '  config:',
      '    name: Flow Bot  # shown in the UI',
      '    sandbox: { mode: all, scope: agent, workspaceAccess: ro }',
      '    model:',
      '      # Which model answers.',
      '      primary: anthropic/claude-sonnet-4-6',
      '',
    ].join('\n'),
  );
  writeFileSync(join(live.dir, '.gitignore'), '.clawops/\n');
  fake = await startFakeGitHub({ ...repo, seedDir: live.dir });
  fake.addTeam('acme', 'security', ['sam', 'sue']);
  secrets.push(fake.botToken, fake.app.privateKeyPem.split('\n')[1]!);
  baseEnv = {
    PATH: process.env.PATH ?? '',
    HOME: tmp,
    GITHUB_REPOSITORY: 'acme/fleet',
    GITHUB_API_URL: fake.url,
    GITHUB_SERVER_URL: 'https://github.example',
    GITHUB_TOKEN: fake.botToken,
    CLAWOPS_GITHUB_APP_ID: String(fake.app.appId),
    CLAWOPS_GITHUB_APP_PRIVATE_KEY: fake.app.privateKeyPem,
    CLAWOPS_GITHUB_APP_INSTALLATION_ID: String(fake.app.installationId),
    CLAWOPS_GITHUB_PACE_WRITES: 'off',
    CLAWOPS_SIGNING_KEY_FILE: key.file,
    CLAWOPS_CACHE_DIR: join(tmp, 'cache'),
    ...live.env,
  };
  dev = join(tmp, 'dev');
  await git(tmp, ['clone', '-q', fake.bareRepo, dev]);
  // Bootstrap: creating an agent needs approval under baseline; the first apply is break-glass.
  const first = await runAction('apply', pushEvent(await mainSha()));
  expect(first.outputs.result, first.output).toBe('held');
  expect(await liveModel()).toBeUndefined();
}, 180_000);

afterAll(async () => {
  await fake?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the Action on a pull request, a merge and a direct push', { timeout: 240_000 }, () => {
  it('the example workflows call the Action with its own commands and inputs', () => {
    const action = parse(readFileSync(join(ROOT, 'actions', 'action.yml'), 'utf8')) as { inputs: Record<string, unknown>; runs: { using: string; main: string } };
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js' });
    const steps = ['pull-request.yml', 'apply.yml', 'reconcile.yml'].flatMap((f) => {
      const wf = parse(readFileSync(join(ROOT, 'examples', 'fleet', '.github', 'workflows', f), 'utf8')) as { jobs: Record<string, { steps: Array<{ uses?: string; with?: Record<string, string> }> }> };
      return Object.values(wf.jobs).flatMap((j) => j.steps.filter((s) => s.uses?.includes('/actions@')));
    });
    expect(steps.map((s) => s.with?.command)).toEqual(['validate', 'plan', 'apply', 'reconcile']);
    for (const s of steps) {
      expect(ACTION_COMMANDS).toContain(s.with?.command);
      for (const k of Object.keys(s.with ?? {})) expect(Object.keys(action.inputs)).toContain(k);
    }
  });

  it('the first apply held the new agent and asked for approval in exactly one approval PR', async () => {
    const pulls = (await fake.pulls()).filter((p) => p.head.ref.startsWith('clawops/approval/'));
    expect(pulls).toHaveLength(1);
    expect(pulls[0]).toMatchObject({ state: 'open', author: fake.botLogin, requestedTeams: ['security'] });
    // Approve and merge the ledger entry: the agent is created by the next apply.
    await as('sam').rest.pulls.createReview({ ...repo, pull_number: pulls[0]!.number, event: 'APPROVE' });
    await as('dev').rest.pulls.merge({ ...repo, pull_number: pulls[0]!.number, merge_method: 'squash' });
    const applied = await runAction('apply', pushEvent(await mainSha()));
    expect(applied.code, applied.output).toBe(0);
    expect(applied.outputs.result).toBeUndefined();
    expect(await liveModel()).toBe('anthropic/claude-sonnet-4-6');
    const released = (await auditEvents()).filter((e) => e.type === 'approval.recorded');
    expect(released).toEqual([expect.objectContaining({ agentId: AGENT, approval: expect.objectContaining({ kind: 'pull-request', ledger: expect.any(String) }) })]);
  });

  let prNumber = 0;
  it('a pull request gets one sticky plan comment and a check; a second run after review updates them', async () => {
    const head = await editModel('openai/gpt-5.4', 'model-upgrade');
    prNumber = (await as('dev').rest.pulls.create({ ...repo, head: 'model-upgrade', base: 'main', title: 'Upgrade the flow bot' })).data.number;

    const first = await runAction('plan', prEvent(prNumber, head));
    expect(first.code, first.output).toBe(0);
    let comments = fake.comments(prNumber);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.user).toBe(fake.botLogin);
    expect(comments[0]!.body).toMatch(/^<!-- clawops:plan -->/);
    expect(comments[0]!.body).toContain('openai/gpt-5.4');
    expect(comments[0]!.body).toMatch(/⏳ 1 more approval from security on #\d+ \(baseline\/model-change\)/);
    let runs = fake.checkRuns().filter((r) => r.headSha === head && r.name === 'clawops plan');
    expect(runs.at(-1)).toMatchObject({ conclusion: 'neutral' });
    expect(runs.at(-1)!.annotations).toEqual([expect.objectContaining({ path: `agents/${AGENT}.yaml`, start_line: 12, annotation_level: 'warning' })]);
    expect(first.outputs['comment-url']).toBe(comments[0]!.id && first.outputs['comment-url']);

    await as('sam').rest.pulls.createReview({ ...repo, pull_number: prNumber, event: 'APPROVE' });
    const second = await runAction('plan', { ...prEvent(prNumber, head), name: 'pull_request_review' });
    expect(second.code, second.output).toBe(0);
    comments = fake.comments(prNumber);
    expect(comments, 'updated in place, not a second comment').toHaveLength(1);
    expect(comments[0]!.body).toMatch(/✅ approved by `sam`/);
    expect(comments[0]!.updatedAt >= comments[0]!.createdAt).toBe(true);
    runs = fake.checkRuns().filter((r) => r.headSha === head && r.name === 'clawops plan');
    expect(runs.at(-1)).toMatchObject({ conclusion: 'success' });
  });

  it('the merge is applied on push, with the review as signed audit evidence', async () => {
    await as('dev').rest.pulls.merge({ ...repo, pull_number: prNumber, merge_method: 'merge' });
    const merged = await mainSha();
    const run = await runAction('apply', pushEvent(merged));
    expect(run.code, run.output).toBe(0);
    expect(await liveModel()).toBe('openai/gpt-5.4');
    const applied = (await auditEvents()).filter((e) => e.type === 'change.applied' && e.desiredCommit === merged);
    expect(applied).toEqual([
      expect.objectContaining({
        agentId: AGENT,
        summary: expect.objectContaining({ path: 'spec.config.model.primary' }),
        approval: { kind: 'pull-request', pulls: [expect.objectContaining({ pr: prNumber, author: 'dev', mergeCommit: merged, reviewers: [expect.objectContaining({ login: 'sam', groups: ['security'], reviewId: expect.any(Number) })] })] },
      }),
    ]);
  });

  it('a risky change pushed straight to main is held with exactly one approval PR, which releases it when merged with approvals', async () => {
    await editModel('openai/gpt-5.4-mini', 'main');
    const pushed = await mainSha();
    const held = await runAction('apply', pushEvent(pushed));
    expect(held.code, held.output).toBe(0);
    expect(held.outputs.result).toBe('held');
    expect(await liveModel()).toBe('openai/gpt-5.4');
    const again = await runAction('apply', pushEvent(pushed));
    expect(again.outputs.result).toBe('held');
    const open = (await fake.pulls()).filter((p) => p.state === 'open' && p.head.ref.startsWith('clawops/approval/'));
    expect(open, 'one approval PR, however many runs').toHaveLength(1);
    expect((await auditEvents()).filter((e) => e.type === 'change.held' && e.desiredCommit === pushed).length).toBeGreaterThan(0);

    // A review from outside the team changes nothing; one from security releases it.
    const pr = open[0]!.number;
    await as('mallory').rest.pulls.createReview({ ...repo, pull_number: pr, event: 'APPROVE' });
    await as('sue').rest.pulls.createReview({ ...repo, pull_number: pr, event: 'APPROVE' });
    await as('dev').rest.pulls.merge({ ...repo, pull_number: pr, merge_method: 'merge' });
    const release = await runAction('apply', pushEvent(await mainSha()));
    expect(release.code, release.output).toBe(0);
    expect(release.outputs.result).toBeUndefined();
    expect(await liveModel()).toBe('openai/gpt-5.4-mini');
    const recorded = (await auditEvents()).filter((e) => e.type === 'approval.recorded').at(-1);
    // The evidence keeps every valid approval with the reviewer's groups at the time: only sue's was from security.
    expect(recorded).toMatchObject({
      approval: { kind: 'pull-request', pulls: [expect.objectContaining({ pr, reviewers: [expect.objectContaining({ login: 'mallory', groups: [] }), expect.objectContaining({ login: 'sue', groups: ['security'] })] })] },
    });
  });

  it('drift round trip: a live edit with the openclaw CLI becomes one drift PR that keeps comments, is updated in place, and closes when live is reverted', async () => {
    const home = sharedGateway('a').home;
    const branch = 'clawops/drift/gw';
    const driftPulls = async () => (await fake.pulls()).filter((p) => p.head.ref === branch);
    const atBranch = async () => (await runGit(['cat-file', 'blob', `refs/heads/${branch}:agents/${AGENT}.yaml`], { cwd: fake.bareRepo })).stdout;
    const onMain = (await runGit(['cat-file', 'blob', `refs/heads/main:agents/${AGENT}.yaml`], { cwd: fake.bareRepo })).stdout;
    const schedule = async () => runAction('reconcile', { name: 'schedule', sha: await mainSha(), payload: { schedule: '*/15 * * * *' } });

    await openclaw(home, ['config', 'set', `agents.entries.${AGENT}.name`, 'Flow Bot (edited live)']);
    const first = await schedule();
    expect(first.code, first.output).toBe(0);
    expect(first.outputs.result, first.output + first.summary).toBe('drift');
    let pulls = await driftPulls();
    expect(pulls).toHaveLength(1);
    expect(pulls[0]).toMatchObject({ state: 'open', author: fake.botLogin });
    expect(pulls[0]!.body).toMatch(/spec\.config\.name/);
    expect(pulls[0]!.body).toMatch(/cli \(/);
    // Only the drifted value changed; its trailing comment and every other comment stayed.
    const changed = (text: string) => text.split('\n').filter((l, i) => l !== onMain.split('\n')[i]);
    expect(changed(await atBranch())).toEqual(['    name: Flow Bot (edited live)  # shown in the UI']);

    await openclaw(home, ['config', 'set', `agents.entries.${AGENT}.name`, 'Flow Bot (edited twice)']);
    const second = await schedule();
    expect(second.outputs.result).toBe('drift');
    pulls = await driftPulls();
    expect(pulls, 'the same PR, updated in place').toHaveLength(1);
    expect(pulls[0]!.state).toBe('open');
    expect(changed(await atBranch())).toEqual(['    name: Flow Bot (edited twice)  # shown in the UI']);

    await openclaw(home, ['config', 'set', `agents.entries.${AGENT}.name`, 'Flow Bot']);
    const third = await schedule();
    expect(third.code, third.output).toBe(0);
    expect(third.outputs.result).toBeUndefined();
    pulls = await driftPulls();
    expect(pulls).toHaveLength(1);
    expect(pulls[0]!.state).toBe('closed');
    expect(fake.comments(pulls[0]!.number).map((c) => c.body)).toEqual([expect.stringMatching(/drift on `gw` is gone/)]);
    expect((await auditEvents()).filter((e) => e.type === 'drift.detected').map((e) => (e.summary as { path: string }).path)).toEqual(['spec.config.name', 'spec.config.name']);
  });

  it('a runner that cannot reach the gateway plans against the last live snapshot and says how old it is', async () => {
    // The PR's checkout names a gateway address nothing listens on, as a hosted runner outside the fleet's network sees it.
    await git(dev, ['fetch', '-q', 'origin']);
    await git(dev, ['checkout', '-q', '-B', 'offline', 'origin/main']);
    const gwFile = join(dev, 'gateways', 'gw.yaml');
    writeFileSync(gwFile, readFileSync(gwFile, 'utf8').replace(/url: \S+/, 'url: ws://127.0.0.1:9'));
    const agentFile = join(dev, 'agents', `${AGENT}.yaml`);
    writeFileSync(agentFile, readFileSync(agentFile, 'utf8').replace(/primary: \S+/, 'primary: openai/gpt-5.4'));
    await git(dev, ['commit', '-q', '-am', 'offline plan']);
    await git(dev, ['push', '-q', 'origin', 'offline:refs/heads/offline']);
    const head = await git(dev, ['rev-parse', 'HEAD']);
    const pr = (await as('dev').rest.pulls.create({ ...repo, head: 'offline', base: 'main', title: 'Plan without reaching the gateway' })).data.number;
    const run = await runAction('plan', prEvent(pr, head));
    expect(run.code, run.output).toBe(0);
    const body = fake.comments(pr)[0]!.body;
    expect(body).toMatch(/planned against the live snapshot taken \d{4}-\d\d-\d\dT[\d:.]+Z \(\d+ minutes? ago\), because gw is unreachable/);
    // The snapshot is the live state the last apply left: the model change shows against it.
    expect(body).toContain('openai/gpt-5.4-mini');
    await as('dev').rest.pulls.update({ ...repo, pull_number: pr, state: 'closed' });
  });

  it('apply refuses a push to a branch other than the default one', async () => {
    const run = await runAction('apply', pushEvent(await mainSha(), 'refs/heads/feature'));
    expect(run.code).toBe(1);
    expect(run.output).toMatch(/::error::clawops apply runs on pushes to main; this is a push to refs\/heads\/feature/);
  });

  it('every request and response matched GitHub’s published API description', () => {
    expect(fake.problems).toEqual([]);
  });
});
