/**
 * `clawops rollback` against the real gateway `c`, a git fleet repo and the fake GitHub: commits A
 * (good) → B (bad model) applied; rolling back to A opens a revert PR and pins the gateway, so
 * plan and apply bring A back and keep it while main still says B; merging the revert lifts the
 * pin. `--now` applies at once as break-glass; `--to SEQ` goes through the audit trail.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayClient } from '../fleet/openclaw/client.ts';
import { generateDeviceIdentity } from '../fleet/openclaw/device-identity.ts';
import { agentEntries, OpenClawGateway } from '../fleet/openclaw/gateway-api.ts';
import type { RollbackReport } from '../reconciler/cli/commands/rollback.ts';
import type { Plan } from '../reconciler/plan/plan.ts';
import type { RollbackPin } from '../reconciler/state/state-store.ts';
import { makeKey } from './fixtures/audit/audit-branch.ts';
import { clawops } from './helpers/cli.ts';
import { sharedGateway } from './helpers/gateways.ts';
import { startFakeGitHub, type FakeGitHub } from './helpers/github/fake-github.ts';
import { gitAs } from './helpers/github/people.ts';
import { liveRepos } from './helpers/live-repo.ts';

const AGENT = 'rollback-probe';
const FILE = `agents/${AGENT}.yaml`;
const MODEL = { a: 'anthropic/claude-sonnet-4-6', b: 'anthropic/claude-opus-4-6', c: 'anthropic/claude-haiku-4-5' };

const makeRepo = liveRepos();
let tmp: string;
let fake: FakeGitHub;
let dev: string;
let env: Record<string, string>;
let session: OpenClawGateway;
const commits: Record<string, string> = {};

const git = (args: readonly string[]) => gitAs(dev, args);
const agentYaml = (model: string) =>
  ['apiVersion: clawops.dev/v1', 'kind: Agent', `metadata: { name: ${AGENT} }`, 'spec:', '  gateway: rb', '  config:', '    name: Rollback Probe', '    model:', `      primary: ${model}  # which model answers`, ''].join('\n');

/** Commits the agent with `model` on main and pushes it; returns the commit. */
async function commitModel(model: string, message: string): Promise<string> {
  writeFileSync(join(dev, FILE), agentYaml(model));
  await git(['commit', '-q', '-am', message]);
  await git(['push', '-q', 'origin', 'HEAD:refs/heads/main']);
  return git(['rev-parse', 'HEAD']);
}

async function liveModel(): Promise<unknown> {
  return (agentEntries(await session.configGet())[AGENT] as { model?: { primary?: string } } | undefined)?.model?.primary;
}

const run = (args: readonly string[], e: Record<string, string> = env) => clawops([...args, '--repo', dev], { env: e });
const planOf = async (): Promise<Plan> => JSON.parse((await run(['plan', '--format', 'json'])).stdout) as Plan;
const onBranch = (path: string) => gitAs(dev, ['show', `clawops/audit:${path}`]);
const pinOf = async (): Promise<RollbackPin | undefined> => onBranch('state/pins/rb.json').then((t) => JSON.parse(t) as RollbackPin, () => undefined);

async function apply(): Promise<void> {
  const r = await run(['apply', '--auto-approve']);
  expect(r.code, r.stdout + r.stderr).toBe(0);
}

async function auditEvents(): Promise<Array<Record<string, unknown>>> {
  const files = (await git(['ls-tree', '-r', '--name-only', 'clawops/audit', 'events'])).split('\n').filter(Boolean);
  const lines = (await Promise.all(files.map((f) => onBranch(f)))).flatMap((t) => t.split('\n')).filter(Boolean);
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'clawops-rollback-'));
  const key = makeKey(tmp, 'audit-key');
  const c = sharedGateway('c');
  const live = await makeRepo([{ name: 'rb', url: c.url, token: c.token }]);
  writeFileSync(join(live.dir, 'clawops.yaml'), readFileSync(join(live.dir, 'clawops.yaml'), 'utf8') + '  github: { repository: acme/fleet }\n');
  mkdirSync(join(live.dir, 'agents'));
  writeFileSync(join(live.dir, FILE), agentYaml(MODEL.a));
  writeFileSync(join(live.dir, '.gitignore'), '.clawops/\n');
  fake = await startFakeGitHub({ owner: 'acme', repo: 'fleet', seedDir: live.dir });
  dev = join(tmp, 'dev');
  await gitAs(tmp, ['clone', '-q', fake.bareRepo, dev]);
  env = {
    ...live.env,
    GITHUB_TOKEN: fake.botToken,
    GITHUB_API_URL: fake.url,
    CLAWOPS_GITHUB_PACE_WRITES: 'off',
    CLAWOPS_SIGNING_KEY_FILE: key.file,
    CLAWOPS_CACHE_DIR: join(tmp, 'cache'),
    CLAWOPS_ACTOR: 'alice',
  };
  session = new OpenClawGateway(await GatewayClient.connect({ url: c.url, token: c.token, device: generateDeviceIdentity(), scopes: ['operator.admin'] }));
  commits.a = await git(['rev-parse', 'HEAD']);
  await apply();
  expect(await liveModel()).toBe(MODEL.a);
  commits.b = await commitModel(MODEL.b, 'switch to the bad model');
  await apply();
  expect(await liveModel()).toBe(MODEL.b);
}, 120_000);

afterAll(async () => {
  if (session) {
    if (agentEntries(await session.configGet())[AGENT]) await session.agentsDelete(AGENT, { deleteFiles: true });
    await session.client.close();
  }
  await fake?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('clawops rollback', { timeout: 120_000 }, () => {
  it('opens a revert PR with A\'s files and pins the gateway; plan and apply bring A back and keep it until the revert merges', async () => {
    const r = await run(['rollback', '--to', commits.a!.slice(0, 8), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as RollbackReport;
    expect(report).toMatchObject({ to: commits.a, from: commits.b, files: [FILE], targets: [{ gateway: 'rb', agents: [AGENT] }], pullRequest: { action: 'created' } });

    const pulls = await fake.pulls();
    expect(pulls.map((p) => [p.head.ref, p.state, p.author])).toEqual([[`clawops/rollback/${commits.a!.slice(0, 12)}`, 'open', fake.botLogin]]);
    expect(pulls[0]!.body).toContain(`from \`${commits.b!.slice(0, 12)}\` (main) to \`${commits.a!.slice(0, 12)}\``);
    const prFile = await gitAs(tmp, ['--git-dir', fake.bareRepo, 'show', `${pulls[0]!.head.sha}:${FILE}`]);
    expect(prFile).toBe(agentYaml(MODEL.a).trimEnd());
    expect(await pinOf()).toMatchObject({ target: 'rb', to: commits.a, from: commits.b, by: 'alice', pr: { number: pulls[0]!.number } });

    // Main still says B; the plan goes back to A and says why.
    const plan = await planOf();
    const g = plan.gateways[0]!;
    expect(g.changes.map((c) => [c.path, c.before, c.after])).toEqual([['spec.config.model.primary', MODEL.b, MODEL.a]]);
    expect(g.notes.map((n) => n.message).join('\n')).toMatch(new RegExp(`pinned to ${commits.a!.slice(0, 12)} by rollback .*lifts when main changes this gateway's config`));
    await apply();
    expect(await liveModel()).toBe(MODEL.a);
    // A later run while main is still B keeps A.
    const again = await run(['plan', '--detailed-exitcode']);
    expect(again.code, again.stdout).toBe(0);
    expect(again.stdout).toContain('pinned to');
    await apply();
    expect(await liveModel()).toBe(MODEL.a);

    // The revert merges (A's content lands on main): the pin lifts, nothing to do.
    commits.r = await commitModel(MODEL.a, `Roll back rb to ${commits.a!.slice(0, 12)}`);
    const lifted = await planOf();
    expect(lifted.gateways[0]!.changes).toEqual([]);
    expect(lifted.gateways[0]!.notes.map((n) => n.message).join('\n')).toContain(`rollback pin to ${commits.a!.slice(0, 12)} lifted`);
    await apply();
    expect(await pinOf()).toBeUndefined();
    expect((await run(['plan', '--detailed-exitcode'])).code).toBe(0);
  });

  it('--now --reason applies the old commit at once as break-glass, audits it, pins and opens the PR', async () => {
    commits.c = await commitModel(MODEL.c, 'try haiku');
    await apply();
    expect(await liveModel()).toBe(MODEL.c);
    expect((await run(['rollback', '--to', 'HEAD~1', '--now'])).stderr).toContain('--now needs --reason');

    const r = await run(['rollback', '--to', 'HEAD~1', '--now', '--reason', 'haiku cannot do triage', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as RollbackReport;
    expect(report.results?.map((x) => [x.gateway, x.status])).toEqual([['rb', 'applied']]);
    expect(await liveModel()).toBe(MODEL.a);
    expect(report.pullRequest).toMatchObject({ action: 'created' });
    expect(await pinOf()).toMatchObject({ to: commits.r, from: commits.c, reason: 'haiku cannot do triage' });

    const ofRun = (await auditEvents()).filter((e) => e.traceId === report.traceId);
    expect(ofRun.map((e) => e.type)).toEqual(['apply.started', 'change.applied', 'apply.finished', 'rollback']);
    expect(ofRun.find((e) => e.type === 'change.applied')).toMatchObject({ desiredCommit: commits.r, summary: { path: 'spec.config.model.primary', before: MODEL.c, after: MODEL.a } });
    expect(ofRun.at(-1)).toMatchObject({ target: 'rb', actor: 'alice', desiredCommit: commits.r, approval: { kind: 'break-glass', by: 'alice', reason: 'haiku cannot do triage' } });
    // Nothing left to do while pinned.
    expect((await run(['plan', '--detailed-exitcode'])).code).toBe(0);
  });

  it('--to SEQ rolls back to the commit an audit event applied; without GitHub it prints the git commands', async () => {
    const applyOfB = (await auditEvents()).find((e) => e.type === 'change.applied' && e.desiredCommit === commits.b)!;
    const noGitHub = Object.fromEntries(Object.entries(env).filter(([k]) => k !== 'GITHUB_TOKEN'));
    const r = await run(['rollback', '--to', String(applyOfB.seq), '--target', 'rb'], noGitHub);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`git -C ${dev} checkout ${commits.b} -- ${FILE}`);
    expect(await pinOf()).toMatchObject({ to: commits.b, from: commits.c });
    expect((await planOf()).gateways[0]!.changes.map((c) => c.after)).toEqual([MODEL.b]);
  });

  it('refuses what it cannot resolve, saying how to list revisions', async () => {
    const bad = await run(['rollback', '--to', 'no-such-ref']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--to no-such-ref: no such commit, branch or tag in the fleet repo; list them with `git -C .* log --oneline`/);
    const seq = await run(['rollback', '--to', '99999']);
    expect(seq.code).toBe(1);
    expect(seq.stderr).toContain('there is no audit event with seq 99999');
  });
});
