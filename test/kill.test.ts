/**
 * The kill switch (`clawops kill` / `clawops recover`) against the shared real gateway `a`.
 *
 * An agent with tools, two routes, a heartbeat and an enabled cron job is applied with the CLI and
 * killed: live must then have every tool denied (the gateway's own `tools.effective` lists none),
 * no routes and no heartbeat, every cron job of the agent disabled, after exactly one config
 * write, with the kill record saved; killing again writes nothing; plan, apply and drift leave the
 * agent alone (so the loop cannot undo the kill) and keep its ownership; recover puts the entry
 * and the routes back byte for byte (config.get compared in stable JSON) and re-enables the jobs;
 * both are `break-glass` audit events. The core on a racing session: an edit between read and
 * write is never clobbered (one retry on the new state), two in a row refuse with nothing written.
 * Through a fake GitHub: kill opens a PR adding `spec.killed` with the YAML's comments kept, and
 * recover closes it. Gateway `a` is shared: ids are unique to this run, removed at the end.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayClient } from '../fleet/openclaw/client.ts';
import { generateDeviceIdentity } from '../fleet/openclaw/device-identity.ts';
import { agentEntries, OpenClawGateway, type ConfigSnapshot, type JsonObject } from '../fleet/openclaw/gateway-api.ts';
import { killAgent, KillSwitchConflictError, recoverAgent } from '../reconciler/kill/kill-agent.ts';
import { killWrite, mergePatchTo, recoverWrite, withBindingsRestored } from '../reconciler/kill/kill-patch.ts';
import { BufferedBranch } from '../reconciler/git/buffered-branch.ts';
import { openStateBranch } from '../reconciler/git/object-branch.ts';
import { GitBranchStateStore, stableJson } from '../reconciler/state/git-branch-store.ts';
import { LocalDirStateStore } from '../reconciler/state/local-dir-store.ts';
import type { KillRecord, LastApplied } from '../reconciler/state/state-store.ts';
import { clawops } from './helpers/cli.ts';
import { sharedGateway } from './helpers/gateways.ts';
import { startFakeGitHub, type FakeGitHub } from './helpers/github/fake-github.ts';
import { liveRepos, type LiveRepo } from './helpers/live-repo.ts';

const makeRepo = liveRepos();

describe('the kill switch on a real gateway (a)', () => {
  const run = randomBytes(3).toString('hex');
  const victim = `kill-${run}`;
  const peer = `kill-${run}-peer`;
  const target = 'kill-a';
  const tmp = mkdtempSync(join(tmpdir(), 'clawops-kill-'));
  const stateDir = join(tmp, 'state');
  let repo: LiveRepo;
  let env: Record<string, string>;
  let session: OpenClawGateway;
  let other: OpenClawGateway;
  let fake: FakeGitHub | undefined;
  /** agents.entries.<victim> and its routes (with positions) as they were before the kill. */
  let before: { entry: string; bindings: string; jobs: Array<[string, boolean]> };

  const agentsYaml = `# Agents the kill switch is tried on.
apiVersion: clawops.dev/v1
kind: Agent
metadata:
  name: ${victim}   # the one that gets killed
spec:
  gateway: ${target}
  config:
    name: Victim   # shown in the UI
    tools: { profile: coding, alsoAllow: [web_search], deny: [browser] }
    heartbeat: { every: 30m }
  # Two routes, so positions matter on recover.
  bindings:
    - match: { channel: telegram, accountId: kill-${run} }
    - match: { channel: slack, teamId: TKILL${run} }
  cron:
    - name: yearly
      enabled: true   # must be disabled by the kill
      schedule: { kind: cron, expr: "0 3 1 1 *", tz: UTC }
      payload: { kind: agentTurn, message: Say hello once a year. }
---
apiVersion: clawops.dev/v1
kind: Agent
metadata: { name: ${peer} }
spec:
  gateway: ${target}
  config:
    name: Peer
    tools: { profile: minimal }
  bindings:
    - match: { channel: telegram, accountId: kill-${run}-peer }
`;

  const entryOf = (c: ConfigSnapshot, id: string) => agentEntries(c)[id];
  const bindingsOf = (c: ConfigSnapshot, id: string) => ((c.sourceConfig.bindings as JsonObject[] | undefined) ?? []).flatMap((b, index) => (b.agentId === id ? [{ index, b }] : []));
  const jobsOf = async (id: string) => (await session.cronList()).filter((j) => j.agentId === id).map((j): [string, boolean] => [j.name, j.enabled]).sort();
  const snapshot = async () => {
    const c = await session.configGet();
    return { entry: stableJson(entryOf(c, victim)), bindings: stableJson(bindingsOf(c, victim)), jobs: await jobsOf(victim) };
  };
  const json = <T>(stdout: string): T => JSON.parse(stdout) as T;

  beforeAll(async () => {
    const a = sharedGateway('a');
    repo = await makeRepo([{ name: target, url: a.url, token: a.token }]);
    env = { ...repo.env, CLAWOPS_STATE_DIR: stateDir, CLAWOPS_ACTOR: 'test-operator' };
    mkdirSync(join(repo.dir, 'agents'));
    writeFileSync(join(repo.dir, 'agents', 'kill.yaml'), agentsYaml);
    writeFileSync(join(repo.dir, '.gitignore'), '.clawops/\n');
    const connect = async () => new OpenClawGateway(await GatewayClient.connect({ url: a.url, token: a.token, device: generateDeviceIdentity(), scopes: ['operator.admin'] }));
    [session, other] = await Promise.all([connect(), connect()]);
    const applied = await clawops(['apply', '--repo', repo.dir, '--auto-approve'], { env });
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    before = await snapshot();
  }, 120_000);

  afterAll(async () => {
    await fake?.close();
    if (session) {
      for (const id of [victim, peer]) await session.agentsDelete(id, { deleteFiles: true }).catch(() => undefined);
      for (const j of await session.cronList()) if (j.declarationKey?.startsWith(`clawops:kill-${run}`)) await session.cronRemove(j.id).catch(() => undefined);
      await Promise.all([session.client.close(), other.client.close()]);
    }
    rmSync(tmp, { recursive: true, force: true });
  }, 60_000);

  it('kill takes every tool, route, the heartbeat and scheduled runs away in one config write, after saving the prior config', { timeout: 60_000 }, async () => {
    expect(before.jobs).toContainEqual(['yearly', true]);
    expect(before.jobs).toContainEqual([`heartbeat-${victim}`, true]);
    expect(JSON.parse(before.bindings)).toHaveLength(2);
    const mark = (await session.changesList({ limit: 1 })).entries[0]?.id;
    const read = await session.configGet();
    const r = await clawops(['kill', victim, '--repo', repo.dir, '--reason', 'INC-7: leaking tickets', '--json'], { env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const out = json<{ gateways: Array<{ gateway: string; status: string; hashBefore: string; hashAfter: string; writes: number; cronDisabled: string[] }> }>(r.stdout);
    expect(out.gateways).toMatchObject([{ gateway: target, status: 'killed', writes: 1, hashBefore: read.hash }]);

    const after = await session.configGet();
    expect(after.hash).toBe(out.gateways[0]!.hashAfter);
    const journal = (await session.changesList({ limit: 20 })).entries;
    const since = mark ? journal.slice(0, journal.findIndex((e) => e.id === mark)) : journal;
    expect(since.filter((e) => e.kind === 'config-write')).toHaveLength(1);

    const entry = entryOf(after, victim)!;
    expect(entry.tools).toEqual({ deny: ['*'] });
    expect(entry.heartbeat).toEqual({ every: '0m' });
    expect(entry.name).toBe('Victim');
    expect(bindingsOf(after, victim)).toEqual([]);
    expect(bindingsOf(after, peer)).toHaveLength(1);
    // Its own job and the heartbeat job are off; the gateway's skill review job cannot be (it runs without tools).
    const jobs = await jobsOf(victim);
    expect(jobs).toContainEqual(['yearly', false]);
    expect(jobs).toContainEqual([`heartbeat-${victim}`, false]);
    expect(jobs.filter(([, enabled]) => enabled)).toEqual(jobs.filter(([name]) => name === `skill-collection-review-${victim}`));
    // The gateway's own view of what the agent may call: nothing.
    const created = await session.client.request<{ key: string }>('sessions.create', { agentId: victim });
    const effective = await session.client.request<{ groups?: Array<{ tools: unknown[] }> }>('tools.effective', { agentId: victim, sessionKey: created.key });
    expect((effective.groups ?? []).flatMap((g) => g.tools)).toEqual([]);

    const record = JSON.parse(readFileSync(join(stateDir, 'kills', target, `${victim}.json`), 'utf8')) as KillRecord;
    expect(record).toMatchObject({ target, agentId: victim, resource: `Agent/${victim}`, reason: 'INC-7: leaking tickets', by: 'test-operator', configHashBefore: read.hash });
    expect(stableJson(record.prior.entry)).toBe(before.entry);
    expect(stableJson(record.prior.bindings.map((p) => ({ index: p.index, b: p.binding })))).toBe(before.bindings);
    expect(record.prior.cron.find((j) => j.name === 'yearly')?.enabled).toBe(true);
  });

  it('killing a killed agent says so and writes nothing', async () => {
    const hash = (await session.configGet()).hash;
    const r = await clawops(['kill', victim, '--repo', repo.dir, '--reason', 'again'], { env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`${target}: already killed by test-operator`);
    expect(r.stdout).toContain('INC-7: leaking tickets');
    expect((await session.configGet()).hash).toBe(hash);
  });

  it('plan, apply and drift leave the killed agent alone and keep its ownership', { timeout: 60_000 }, async () => {
    const plan = await clawops(['plan', '--repo', repo.dir, '--format', 'json'], { env });
    expect(plan.code, plan.stderr).toBe(0);
    const gw = json<{ gateways: Array<{ changes: Array<{ agentId: string }>; notes: Array<{ message: string }>; operations: { deleteAgents: string[] } }> }>(plan.stdout).gateways[0]!;
    expect(gw.changes.filter((c) => c.agentId === victim)).toEqual([]);
    expect(gw.operations.deleteAgents).toEqual([]);
    expect(gw.notes.map((n) => n.message)).toContainEqual(`agent ${victim} is killed (INC-7: leaking tickets; by test-operator at 2026-11-21T12:00:00.000Z) and left alone; \`clawops recover ${victim} --confirm\` restores it`);
    const text = await clawops(['plan', '--repo', repo.dir], { env });
    expect(text.stdout).toContain(`clawops recover ${victim} --confirm`);

    const hash = (await session.configGet()).hash;
    const apply = await clawops(['apply', '--repo', repo.dir, '--auto-approve'], { env });
    expect(apply.code, apply.stdout + apply.stderr).toBe(0);
    expect((await session.configGet()).hash).toBe(hash);
    const state = JSON.parse(readFileSync(join(stateDir, 'last-applied', `${target}.json`), 'utf8')) as LastApplied;
    expect(state.agents[victim]?.bindings).toHaveLength(2);
    expect(state.agents[victim]?.created).toBe(true);

    const drift = await clawops(['drift', '--repo', repo.dir, '--json'], { env });
    expect(drift.code, drift.stdout + drift.stderr).toBe(0);
    expect(json<{ gateways: Array<{ items: unknown[] }> }>(drift.stdout).gateways[0]!.items).toEqual([]);
  });

  it('a concurrent edit between read and write is never clobbered: one retry on the new state, two refuse with nothing written', { timeout: 60_000 }, async () => {
    const store = new LocalDirStateStore(join(tmp, 'core-state'));
    let edits = 0;
    /** A session whose first `times` config reads are each followed by another operator's edit of `whose` description. */
    const racing = (times: number, whose = peer): OpenClawGateway => {
      let n = 0;
      const s = Object.create(session) as OpenClawGateway;
      s.configGet = async () => {
        const c = await session.configGet();
        if (n++ < times) {
          const { hash } = await other.configGet();
          await other.configPatch({ patch: { agents: { entries: { [whose]: { description: `edited meanwhile ${++edits}` } } } }, baseHash: hash });
        }
        return c;
      };
      return s;
    };
    const ctx = (s: OpenClawGateway) => ({ session: s, store, target, agentId: peer, now: () => new Date() });

    await expect(killAgent(ctx(racing(2)), { reason: 'race', by: 'test' })).rejects.toThrow(KillSwitchConflictError);
    expect(await store.killRecord(target, peer)).toBeUndefined();
    const untouched = entryOf(await session.configGet(), peer)!;
    expect(untouched).toMatchObject({ description: 'edited meanwhile 2', tools: { profile: 'minimal' } });

    const killed = await killAgent(ctx(racing(1)), { reason: 'race', by: 'test' });
    expect(killed).toMatchObject({ status: 'killed', retried: true, writes: 1 });
    const live = entryOf(await session.configGet(), peer)!;
    // The other operator's edit stands, and the record holds the state the kill actually replaced.
    expect(live).toMatchObject({ description: 'edited meanwhile 3', tools: { deny: ['*'] } });
    expect((await store.killRecord(target, peer))?.prior.entry).toMatchObject({ description: 'edited meanwhile 3', tools: { profile: 'minimal' } });

    // Recover puts back exactly the recorded entry; an edit elsewhere meanwhile (the killed victim's) stands.
    const recovered = await recoverAgent(ctx(racing(1, victim)));
    expect(recovered).toMatchObject({ status: 'recovered', retried: true, mismatches: [] });
    const after = await session.configGet();
    expect(stableJson(entryOf(after, peer))).toBe(stableJson((killed as { record: KillRecord }).record.prior.entry));
    expect(entryOf(after, victim)).toMatchObject({ description: 'edited meanwhile 4', tools: { deny: ['*'] } });
    expect(await store.killRecord(target, peer)).toBeUndefined();
  });

  it('recover needs --confirm, then puts the entry and routes back byte for byte and re-enables the cron jobs; both are audited', { timeout: 60_000 }, async () => {
    const unconfirmed = await clawops(['recover', victim, '--repo', repo.dir], { env });
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stderr).toContain('--confirm');
    expect(unconfirmed.stderr).toContain('2 route(s) at their positions');

    const r = await clawops(['recover', victim, '--repo', repo.dir, '--confirm'], { env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('byte for byte');
    expect(await snapshot()).toEqual(before);
    expect(existsSync(join(stateDir, 'kills', target, `${victim}.json`))).toBe(false);

    const plan = await clawops(['plan', '--repo', repo.dir, '--format', 'json', '--detailed-exitcode'], { env });
    expect(plan.code, plan.stdout).toBe(0);

    const search = await clawops(['audit', 'search', '--repo', repo.dir, '--json', '--type', 'break-glass', '--agent', victim], { env });
    const events = json<{ events: Array<{ actor: string; target: string; risk: string; summary: { action: string; message: string }; approval: { kind: string; reason: string } }> }>(search.stdout).events;
    expect(events.map((e) => [e.summary.action, e.target, e.actor, e.approval.kind])).toEqual([
      ['kill', target, 'test-operator', 'break-glass'],
      ['recover', target, 'test-operator', 'break-glass'],
    ]);
    expect(events[0]!.summary.message).toContain('INC-7: leaking tickets');
  });

  it('with GitHub, kill opens a PR that adds spec.killed with the comments kept, and recover closes it', { timeout: 90_000 }, async () => {
    fake = await startFakeGitHub({ seedDir: repo.dir });
    const dev = join(tmp, 'dev');
    execFileSync('git', ['clone', '-q', fake.bareRepo, dev]);
    const ghEnv = { ...env, CLAWOPS_STATE_DIR: join(tmp, 'gh-state'), GITHUB_REPOSITORY: 'acme/fleet', GITHUB_API_URL: fake.url, GITHUB_TOKEN: fake.botToken, CLAWOPS_GITHUB_LOGIN: fake.botLogin, CLAWOPS_GITHUB_PACE_WRITES: 'off' };

    const k = await clawops(['kill', victim, '--repo', dev, '--reason', 'INC-8: loops'], { env: ghEnv });
    expect(k.code, k.stdout + k.stderr).toBe(0);
    expect(k.stdout).toMatch(/pull request created: #\d+/);
    const [pr] = (await fake.pulls()).filter((p) => p.head.ref === `clawops/kill/${victim}`);
    expect(pr).toMatchObject({ state: 'open', author: fake.botLogin, base: { ref: 'main' } });
    const edited = execFileSync('git', ['--git-dir', fake.bareRepo, 'show', `${pr!.head.sha}:agents/kill.yaml`], { encoding: 'utf8' });
    const original = readFileSync(join(dev, 'agents', 'kill.yaml'), 'utf8');
    // Only lines were added (the killed block), every original line kept, comments included.
    const lines = edited.split('\n');
    expect(original.split('\n').filter((l) => !lines.includes(l))).toEqual([]);
    expect(lines.filter((l) => !original.split('\n').includes(l)).join('\n')).toMatch(/killed:[\s\S]*reason: "?INC-8: loops"?[\s\S]*by: "?test-operator"?/);
    expect(edited).toContain('# the one that gets killed');

    const r = await clawops(['recover', victim, '--repo', dev, '--confirm'], { env: ghEnv });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`closed the unmerged kill pull request #${pr!.number}`);
    expect((await fake.pulls()).find((p) => p.number === pr!.number)?.state).toBe('closed');
    expect(await snapshot()).toEqual(before);
  });

  it('without GitHub, kill prints the YAML edit that makes git agree; an unknown agent is a clear error', async () => {
    const u = await clawops(['kill', `${victim}-nope`, '--repo', repo.dir, '--reason', 'x'], { env });
    expect(u.code).toBe(1);
    expect(u.stderr).toContain(`no Agent "${victim}-nope" in the fleet repo ${repo.dir}`);
    expect(u.stderr).toContain(`did you mean ${victim}`);
    const noReason = await clawops(['kill', victim, '--repo', repo.dir], { env });
    expect(noReason.code).toBe(1);
    expect(noReason.stderr).toContain('--reason');
  });
});

describe('kill writes as values', () => {
  it('kill: tools deny everything, heartbeat off, only this agent\'s routes go, every shrunk list named', () => {
    const w = killWrite('x', { tools: { profile: 'coding', alsoAllow: ['a'], deny: ['b'] }, heartbeat: { every: '5m', target: 'last' } }, [{ agentId: 'y', n: 1 }, { agentId: 'x', n: 2 }]);
    expect(w.patch).toEqual({
      agents: { entries: { x: { tools: { profile: null, alsoAllow: null, deny: ['*'] }, heartbeat: { every: '0m', target: null } } } },
      bindings: [{ agentId: 'y', n: 1 }],
    });
    expect(w.replacePaths).toEqual(['agents.entries.x.tools.alsoAllow', 'agents.entries.x.tools.deny', 'bindings']);
    expect(killWrite('x', {}, [{ agentId: 'y' }]).patch).not.toHaveProperty('bindings');
  });

  it('recover: the merge patch turns the killed entry into exactly the prior one; routes go back to their positions', () => {
    const prior = { name: 'X', tools: { profile: 'coding', deny: ['b'] }, skills: ['s'] };
    const live = { name: 'X', tools: { deny: ['*'] }, heartbeat: { every: '0m' }, skills: ['s'] };
    expect(mergePatchTo(live, prior)).toEqual({ heartbeat: null, tools: { profile: 'coding', deny: ['b'] } });
    const w = recoverWrite('x', live, prior, [{ agentId: 'y' }, { agentId: 'z' }], [{ index: 0, binding: { agentId: 'x', n: 1 } }, { index: 2, binding: { agentId: 'x', n: 2 } }]);
    expect(w.replacePaths).toEqual(['agents.entries.x.tools.deny', 'bindings']);
    expect(w.patch.bindings).toEqual([{ agentId: 'x', n: 1 }, { agentId: 'y' }, { agentId: 'x', n: 2 }, { agentId: 'z' }]);
    // A route already back is not doubled; positions past the end go last.
    expect(withBindingsRestored([{ agentId: 'x', n: 1 }], [{ index: 0, binding: { agentId: 'x', n: 1 } }, { index: 5, binding: { agentId: 'x', n: 2 } }])).toEqual([{ agentId: 'x', n: 1 }, { agentId: 'x', n: 2 }]);
  });
});

describe('kill records on the state branch', () => {
  it('are committed at once (before the kill writes), listed per target, and deleted with the run\'s commit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clawops-kill-branch-'));
    try {
      const branch = await openStateBranch({ gitdir: join(dir, 'b.git'), branch: 'clawops/audit', author: { name: 'clawops', email: 'clawops@example.com' } });
      const buffered = new BufferedBranch(branch);
      const store = new GitBranchStateStore({ branch: buffered, keyDir: dir });
      const record: KillRecord = { target: 'gw/1', agentId: 'ops', reason: 'r', by: 'me', killedAt: '2026-11-21T12:00:00.000Z', configHashBefore: 'h', prior: { entry: { name: 'Ops' }, bindings: [], cron: [] } };
      await store.saveKillRecord(record);
      expect(buffered.hasStaged()).toBe(false);
      const tip = await branch.at();
      expect(Buffer.from((await tip.readFile('state/kills/gw_1/ops.json'))!).toString('utf8')).toBe(stableJson(record));
      expect(await store.killRecords('gw/1')).toEqual([record]);
      expect(await store.killRecords('other')).toEqual([]);
      await store.deleteKillRecord('gw/1', 'ops');
      expect(await store.killRecord('gw/1', 'ops')).toBeUndefined();
      await buffered.commit('recover');
      expect(await (await branch.at()).readFile('state/kills/gw_1/ops.json')).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
