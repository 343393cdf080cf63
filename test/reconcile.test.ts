/**
 * `clawops reconcile` against the real shared gateway `a`.
 *
 * Drift modes: three agents, one per mode, are reconciled onto the gateway; then the real
 * `openclaw` CLI changes each of them. The next run reverts the `revert` agent, opens a drift PR
 * on the local GitHub for the `propose` agent and leaves it alone, leaves the `alert` agent alone,
 * and exits 2. Closing the drift PR without merging makes the next run revert that drift too.
 *
 * Leases: two `reconcile --once` started together on one shard never both apply, for 50 rounds of
 * a real change each; a crashed run's lease blocks the shard until it expires, then the next run
 * proceeds.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openclaw } from '../fleet/harness/openclaw-cli.ts';
import { GatewayClient } from '../fleet/openclaw/client.ts';
import { generateDeviceIdentity } from '../fleet/openclaw/device-identity.ts';
import { agentEntries, OpenClawGateway, type JsonObject } from '../fleet/openclaw/gateway-api.ts';
import { openRepoStateBranch } from '../reconciler/git/open-repo-branch.ts';
import { Redactor } from '../reconciler/redact/redactor.ts';
import type { RunReport } from '../reconciler/reconcile/summary.ts';
import { acquireLease } from '../reconciler/state/leases.ts';
import { allowedSignersText, makeKey, type TestKey } from './fixtures/audit/audit-branch.ts';
import { runReconcile } from '../reconciler/cli/commands/reconcile.ts';
import { capturePorts, clawops, recordOutput } from './helpers/cli.ts';
import { sharedGateway } from './helpers/gateways.ts';
import { runGit } from './helpers/git-http-server.ts';
import { startFakeGitHub, type FakeGitHub } from './helpers/github/fake-github.ts';
import { gitAs, people } from './helpers/github/people.ts';
import { liveRepos } from './helpers/live-repo.ts';

const makeRepo = liveRepos();
const run = Math.random().toString(16).slice(2, 8);
const id = (what: string) => `rc-${run}-${what}`;

let tmp: string;
let key: TestKey;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'clawops-reconcile-'));
  key = makeKey(tmp, 'audit-key');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function liveAgents(): Promise<Record<string, JsonObject>> {
  const gw = sharedGateway('a');
  const session = new OpenClawGateway(await GatewayClient.connect({ url: gw.url, token: gw.token, device: generateDeviceIdentity(), scopes: ['operator.read'] }));
  try {
    return agentEntries(await session.configGet()) as Record<string, JsonObject>;
  } finally {
    await session.client.close();
  }
}

async function removeAgents(ids: readonly string[]): Promise<void> {
  const gw = sharedGateway('a');
  const session = new OpenClawGateway(await GatewayClient.connect({ url: gw.url, token: gw.token, device: generateDeviceIdentity(), scopes: ['operator.admin'] }));
  try {
    for (const agentId of ids) await session.client.request('agents.delete', { agentId }).catch(() => undefined);
  } finally {
    await session.client.close();
  }
}

const agentYaml = (name: string, mode: string | undefined, description: string) =>
  [
    `# ${name}: reconciled by the loop${mode ? `, drift mode ${mode}` : ''}.`,
    'apiVersion: clawops.dev/v1',
    'kind: Agent',
    `metadata: { name: ${name} }`,
    'spec:',
    '  gateway: gw',
    ...(mode ? [`  drift: { mode: ${mode} }`] : []),
    '  config:',
    `    name: ${name}`,
    `    description: ${description}  # what people see`,
    '',
  ].join('\n');

const report = (stdout: string) => JSON.parse(stdout) as RunReport;

describe('drift modes on a real gateway (a)', { timeout: 180_000 }, () => {
  const agents = { revert: id('revert'), propose: id('propose'), alert: id('alert') };
  let fake: FakeGitHub;
  let work: string;
  let env: Record<string, string>;
  // Real time: drift first-seen times are compared with when the local GitHub closed a PR.
  const now = () => new Date();

  beforeAll(async () => {
    const gw = sharedGateway('a');
    const live = await makeRepo([{ name: 'gw', url: gw.url, token: gw.token }]);
    const cfg = join(live.dir, 'clawops.yaml');
    writeFileSync(cfg, readFileSync(cfg, 'utf8') + '  github: { repository: acme/fleet }\n');
    mkdirSync(join(live.dir, 'agents'));
    for (const [mode, name] of Object.entries(agents)) writeFileSync(join(live.dir, 'agents', `${name}.yaml`), agentYaml(name, mode, `Handles ${mode}`));
    writeFileSync(join(live.dir, '.gitignore'), '.clawops/\n');
    fake = await startFakeGitHub({ owner: 'acme', repo: 'fleet', seedDir: live.dir });
    work = join(tmp, 'work');
    await gitAs(tmp, ['clone', '-q', fake.bareRepo, work]);
    env = {
      ...live.env,
      GITHUB_API_URL: fake.url,
      GITHUB_TOKEN: fake.botToken,
      // An installation token cannot ask GitHub who it is: the Action's runner says it this way.
      CLAWOPS_GITHUB_LOGIN: fake.botLogin,
      CLAWOPS_GITHUB_PACE_WRITES: 'off',
      CLAWOPS_SIGNING_KEY_FILE: key.file,
      CLAWOPS_CACHE_DIR: join(tmp, 'cache'),
    };
    const first = await clawops(['reconcile', '--once', '--no-pull', '--repo', work, '--json'], { env, now });
    expect(first.code, first.stderr + first.stdout).toBe(0);
    expect(report(first.stdout).totals).toMatchObject({ applied: 1, error: 0 });
  }, 120_000);

  afterAll(async () => {
    await removeAgents(Object.values(agents));
    await fake?.close();
  });

  it('reverts (revert), proposes as a PR (propose), reports with exit 2 (alert) what the openclaw CLI changed', async () => {
    const home = sharedGateway('a').home;
    for (const name of Object.values(agents)) await openclaw(home, ['config', 'set', `agents.entries.${name}.description`, 'edited by hand']);
    const r = await clawops(['reconcile', '--once', '--no-pull', '--repo', work, '--json'], { env, now });
    expect(r.code, r.stderr + r.stdout).toBe(2);
    const gw = report(r.stdout).gateways[0]!;
    expect(gw).toMatchObject({ status: 'pending', drift: { reverted: 1, proposed: 1, alerted: 1 } });

    const live = await liveAgents();
    expect(live[agents.revert]?.description).toBe('Handles revert');
    expect(live[agents.propose]?.description).toBe('edited by hand');
    expect(live[agents.alert]?.description).toBe('edited by hand');

    const pulls = (await fake.pulls()).filter((p) => p.head.ref === 'clawops/drift/gw' && p.state === 'open');
    expect(pulls).toHaveLength(1);
    // The PR edits only the propose agent's YAML, in place (its comments kept).
    const diff = await gitAs(fake.bareRepo, ['diff', '--name-only', pulls[0]!.base.sha, pulls[0]!.head.sha]);
    expect(diff.split('\n')).toEqual([`agents/${agents.propose}.yaml`]);
    const proposed = await gitAs(fake.bareRepo, ['show', `${pulls[0]!.head.sha}:agents/${agents.propose}.yaml`]);
    expect(proposed).toContain('description: edited by hand  # what people see');
    expect(proposed).toContain(`# ${agents.propose}: reconciled by the loop`);

    // The text summary explains each in one line.
    const again = await clawops(['reconcile', '--once', '--no-pull', '--repo', work], { env, now });
    expect(again.code, again.stdout + again.stderr).toBe(2);
    expect(again.stdout).toMatch(/1 drifted field proposed to git \(#\d+ unchanged\)/);
    expect(again.stdout).toContain('1 drifted field left as they are (alert)');
    expect((await fake.pulls()).filter((p) => p.head.ref === 'clawops/drift/gw')).toHaveLength(1);

    // A plain apply (CI on a merge) honours the modes too: it leaves both edits for the people deciding.
    const applied = await clawops(['apply', '--auto-approve', '--repo', work], { env, now });
    expect(applied.code, applied.stdout + applied.stderr).toBe(2);
    expect(applied.stdout).toContain('2 waiting on drift a person is deciding on');
    expect(await liveAgents()).toMatchObject({ [agents.propose]: { description: 'edited by hand' }, [agents.alert]: { description: 'edited by hand' } });

    // The audit trail has the drift, who made it, and the revert, on a signed branch.
    const events = await auditEvents(work);
    const drift = events.filter((e) => e.type === 'drift.detected');
    expect(drift.map((e) => e.agentId).sort()).toEqual(Object.values(agents).sort());
    expect(drift.every((e) => /by cli/.test(String((e.summary as { message: string }).message)))).toBe(true);
    expect(events.filter((e) => e.type === 'drift.reverted').map((e) => e.agentId)).toEqual([agents.revert]);
  });

  it('a drift PR closed without merging is a "no": the next run reverts that drift', async () => {
    const pr = (await fake.pulls()).find((p) => p.head.ref === 'clawops/drift/gw' && p.state === 'open')!;
    await people(() => fake)('sam').rest.pulls.update({ owner: 'acme', repo: 'fleet', pull_number: pr.number, state: 'closed' });
    const r = await clawops(['reconcile', '--once', '--no-pull', '--repo', work, '--json'], { env, now: () => new Date(Date.now() + 60_000) });
    expect(r.code, r.stdout).toBe(2); // the alert agent still drifts
    expect(report(r.stdout).gateways[0]!.drift).toMatchObject({ reverted: 1, proposed: 0, alerted: 1 });
    const live = await liveAgents();
    expect(live[agents.propose]?.description).toBe('Handles propose');
    expect(live[agents.alert]?.description).toBe('edited by hand');
    expect((await fake.pulls()).filter((p) => p.head.ref === 'clawops/drift/gw' && p.state === 'open')).toHaveLength(0);
  });

  async function auditEvents(repoDir: string): Promise<Array<Record<string, unknown>>> {
    const signers = join(tmp, 'allowed_signers');
    writeFileSync(signers, allowedSignersText([{ principal: 'clawops@localhost', key }]));
    const head = (await runGit(['rev-parse', 'refs/heads/clawops/audit'], { cwd: repoDir })).stdout.trim();
    const verify = await runGit(['-c', `gpg.ssh.allowedSignersFile=${signers}`, 'verify-commit', head], { cwd: repoDir });
    expect(verify.code, `git verify-commit: ${verify.stderr}`).toBe(0);
    const files = (await runGit(['ls-tree', '-r', '--name-only', head, 'events'], { cwd: repoDir })).stdout.trim().split('\n');
    const lines: string[] = [];
    for (const f of files) lines.push(...(await runGit(['cat-file', 'blob', `${head}:${f}`], { cwd: repoDir })).stdout.trim().split('\n'));
    return lines.filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  }
});

describe('leases on a real gateway (a)', { timeout: 240_000 }, () => {
  const agent = id('lease');
  let dir: string;
  let env: Record<string, string>;
  let state: string;

  beforeAll(async () => {
    const gw = sharedGateway('a');
    const live = await makeRepo([{ name: 'gw', url: gw.url, token: gw.token }]);
    dir = live.dir;
    state = join(tmp, 'lease-state');
    mkdirSync(join(dir, 'agents'));
    writeFileSync(join(dir, 'agents', `${agent}.yaml`), agentYaml(agent, undefined, 'Leased').replace('  config:', '  files: { AGENTS.md: AGENTS.md }\n  config:'));
    writeFileSync(join(dir, 'agents', 'AGENTS.md'), 'round 0\n');
    env = { ...live.env, CLAWOPS_STATE_DIR: state, CLAWOPS_SIGNING_KEY_FILE: key.file, CLAWOPS_CACHE_DIR: join(tmp, 'cache') };
  });
  afterAll(() => removeAgents([agent]));

  const once = (extra: string[] = [], now?: () => Date) =>
    clawops(['reconcile', '--once', '--repo', dir, '--json', ...extra], { env, ...(now ? { now } : {}) });

  const fileWrites = async () => {
    const audit = await clawops(['audit', 'search', '--repo', dir, '--type', 'change.applied', '--agent', agent, '--json'], { env });
    return (JSON.parse(audit.stdout) as { events: Array<{ summary: { path?: string } }> }).events.filter((e) => e.summary.path === 'spec.files[AGENTS.md]').length;
  };

  it('two runs started together on one shard never both apply (50 rounds)', async () => {
    const created = await once();
    expect(report(created.stdout).totals.applied_changes).toBeGreaterThan(0);
    const writesBefore = await fileWrites();
    let heldSeen = 0;
    for (let round = 1; round <= 50; round++) {
      writeFileSync(join(dir, 'agents', 'AGENTS.md'), `round ${round}\n`);
      const [a, b] = await Promise.all([once(), once()]);
      const reports = [a, b].map((r) => {
        expect(r.code, r.stderr + r.stdout).toBe(0);
        return report(r.stdout);
      });
      const applied = reports.filter((r) => r.totals.applied_changes > 0);
      expect(applied, `round ${round}`).toHaveLength(1);
      const other = reports.find((r) => r !== applied[0])!;
      // The other run either found the shard leased, or ran after the winner and had nothing to do.
      expect(other.lease.status === 'held' || other.totals.converged === 1, `round ${round}`).toBe(true);
      if (other.lease.status === 'held') heldSeen++;
    }
    // Both outcomes are legitimate; a run that never once met the other would prove nothing.
    expect(heldSeen).toBeGreaterThan(0);
    // Exactly one write of the file per round: never two.
    expect((await fileWrites()) - writesBefore).toBe(50);
  });

  it("a crashed run's lease blocks the shard until it expires, then the next run proceeds", async () => {
    const t0 = new Date('2026-11-21T13:00:00Z');
    const { branch } = await openRepoStateBranch(dir, { apiVersion: 'clawops.dev/v1', kind: 'Repository', spec: {} } as never, env, {
      redactor: new Redactor(),
      identities: async () => [],
      now: () => t0,
      localGitdir: join(state, 'audit.git'),
    });
    const taken = await acquireLease(branch, 'all', 'crashed-host:4242:dead00', 10 * 60_000, () => t0);
    expect(taken.status).toBe('acquired');
    writeFileSync(join(dir, 'agents', 'AGENTS.md'), 'after the crash\n');

    const blocked = await once([], () => new Date(t0.getTime() + 5 * 60_000));
    expect(blocked.code).toBe(0);
    expect(report(blocked.stdout).lease).toEqual({ status: 'held', holder: 'crashed-host:4242:dead00', expiresAt: '2026-11-21T13:10:00.000Z' });
    expect(report(blocked.stdout).gateways).toEqual([]);
    const text = await clawops(['reconcile', '--once', '--repo', dir], { env, now: () => new Date(t0.getTime() + 5 * 60_000) });
    expect(text.stdout).toContain('another run (crashed-host:4242:dead00) holds this shard until 2026-11-21T13:10:00.000Z; nothing done.');

    const after = await once([], () => new Date(t0.getTime() + 10 * 60_000 + 1));
    expect(after.code, after.stdout).toBe(0);
    expect(report(after.stdout)).toMatchObject({ lease: { status: 'acquired' }, totals: { applied: 1, applied_changes: 1 } });
    // The run gave its lease back: a third run is not blocked.
    const third = await once([], () => new Date(t0.getTime() + 10 * 60_000 + 2));
    expect(report(third.stdout)).toMatchObject({ lease: { status: 'acquired' }, totals: { converged: 1 } });
  });
});

describe('reconcile --watch on a real gateway (a)', { timeout: 120_000 }, () => {
  const agent = id('watch');
  afterAll(() => removeAgents([agent]));

  it("runs again within seconds of a gateway's config.changed event, not at the next interval", async () => {
    const gw = sharedGateway('a');
    const live = await makeRepo([{ name: 'gw', url: gw.url, token: gw.token }]);
    mkdirSync(join(live.dir, 'agents'));
    writeFileSync(join(live.dir, 'agents', `${agent}.yaml`), agentYaml(agent, 'revert', 'Watched'));
    const env = { ...live.env, CLAWOPS_STATE_DIR: join(tmp, 'watch-state'), CLAWOPS_SIGNING_KEY_FILE: key.file, CLAWOPS_CACHE_DIR: join(tmp, 'cache') };
    const c = capturePorts({ env, now: () => new Date() });
    const reports = () => c.stdout().split('\n').filter(Boolean).map((l) => JSON.parse(l) as RunReport);
    const until = async (what: string, ok: () => boolean) => {
      for (const t0 = Date.now(); !ok(); await new Promise((r) => setTimeout(r, 200))) if (Date.now() - t0 > 60_000) throw new Error(`waited a minute for ${what}; output:\n${c.stdout()}${c.stderr()}`);
    };
    const stop = new AbortController();
    // An interval of an hour: only the event can explain a second run within the test's time.
    const loop = runReconcile({ repo: live.dir, timeout: 10, pull: false, json: true, watch: true, interval: 3_600_000 }, c.ports, stop.signal);
    try {
      await until('the first run', () => reports().length >= 1);
      expect(reports()[0]).toMatchObject({ exitCode: 0, totals: { applied: 1 } });
      await openclaw(gw.home, ['config', 'set', `agents.entries.${agent}.description`, 'edited by hand']);
      await until('a run after the live edit', () => reports().some((r) => r.totals.driftReverted === 1));
      expect((await liveAgents())[agent]?.description).toBe('Watched');
    } finally {
      stop.abort();
      expect(await loop).toBe(0);
      recordOutput(['reconcile', '--watch'], { code: 0, stdout: c.stdout(), stderr: c.stderr() });
    }
  });
});
