/**
 * The planner (planGateway) without a gateway: a fleet repo on disk, loaded and resolved as
 * production does, against `LiveGateway` values shaped like a real openclaw 2026.9.6 gateway's
 * reads (test/fixtures/planner/fleet.ts). Each test pins one rule of DESIGN §3: ownership from
 * last-applied, keyed diffs, what the write carries, secrets as keyed hashes, pruning, ignore
 * globs, source locations, risk and stable output.
 */
import { Compile } from 'typebox/compile';
import { parse as parseYaml } from 'yaml';
import type { ResourceOf } from '../reconciler/model/kinds.ts';
import { activeExceptions } from '../reconciler/policy/exceptions.ts';
import { compileRuleSet } from '../reconciler/policy/rule-set.ts';
import { PolicyEngine } from '../reconciler/policy/verdict.ts';
import { describe, expect, it } from 'vitest';
import type { CronJob, JsonObject } from '../fleet/openclaw/gateway-api.ts';
import type { DesiredGateway } from '../reconciler/desired/effective-state.ts';
import { GatewayPlan, type Change } from '../reconciler/plan/plan.ts';
import { planGateway } from '../reconciler/plan/planner.ts';
import type { LiveGateway } from '../reconciler/plan/read-live.ts';
import type { LastApplied, ManagedAgent } from '../reconciler/state/state-store.ts';
import {
  edit,
  fleets,
  freshGateway,
  GATEWAY_FILE,
  GATEWAY_YAML,
  lastAppliedFor,
  liveGateway,
  OPS_BINDINGS,
  OPS_ENTRY,
  OPS_EXEC,
  REDACTED,
  RULE_FILE,
  RULE_YAML,
  secretHasher,
  sha256,
  SOUL_MD,
  SUPPORT_ALLOWLIST_IDS,
  SUPPORT_BINDINGS,
  SUPPORT_FILE,
  SUPPORT_YAML,
  supportCronJobs,
  supportEntry,
} from './fixtures/planner/fleet.ts';

const fleet = fleets();
const SECRET_V1 = 'ghp_first-value-never-in-a-plan';
const SECRET_V2 = 'ghp_second-value-never-in-a-plan';
const hashV1 = secretHasher({ 'github-token': SECRET_V1 });
const hashV2 = secretHasher({ 'github-token': SECRET_V2 });
const checkPlan = Compile(GatewayPlan);

const SLACK_ROUTE = 'slack/account:support-bot/team:T0ACME';
const TELEGRAM_ROUTE = 'telegram/account:support';

/**
 * Rates changes the way the tests below expect; the planner hands each change to policy with the
 * resource's kind, labels and document, the change's path and values.
 */
const TEST_POLICY = parseYaml(`
apiVersion: clawops.dev/v1
kind: Policy
metadata: { name: test }
spec:
  rules:
    - { id: secrets, match: { paths: ["**.secretRef"] }, risk: critical, effect: require-approval, approvals: { count: 1, teams: [security] }, message: A secret changes. }
    - id: sandbox-off
      match: { kinds: [Agent], paths: ["spec.config.sandbox.**"], schema: { properties: { spec: { properties: { config: { properties: { sandbox: { properties: { mode: { const: "off" } }, required: [mode] } }, required: [sandbox] } } } } } }
      risk: critical
      effect: deny
      message: Agents stay sandboxed.
    - { id: sandbox, match: { kinds: [Agent], paths: ["spec.config.sandbox.**"] }, risk: high, effect: allow, message: Sandbox settings change. }
    - { id: elevated, match: { kinds: [Agent], paths: ["spec.config.tools.elevated.**"] }, risk: critical, effect: require-approval, approvals: { count: 2 }, message: Elevated exec changes. }
    - { id: tools, match: { kinds: [Agent], paths: ["spec.config.tools.**"] }, risk: high, effect: allow, message: Tools change. }
    - id: exec-full
      match: { kinds: [ApprovalRule], paths: [spec.exec.security], schema: { properties: { spec: { properties: { exec: { properties: { security: { const: full } } } } } } } }
      risk: critical
      effect: deny
      message: No full exec.
    - { id: allowlist-add, match: { kinds: [ApprovalRule], paths: ["spec.exec.allowlist.*"], actions: [create, update] }, risk: medium, effect: allow, message: Allowed commands grow. }
    - { id: allowlist-remove, match: { kinds: [ApprovalRule], paths: ["spec.exec.allowlist[*]"], actions: [delete] }, risk: low, effect: allow, message: Allowed commands shrink. }
    - { id: routine, match: { kinds: [Agent], paths: ["spec.cron.*", "spec.bindings.*"] }, risk: medium, effect: allow, message: Routes or jobs change. }
    - { id: names, match: { paths: [spec.config.name] }, risk: low, effect: allow, message: A name changes. }
`) as ResourceOf<'Policy'>;
const policy = new PolicyEngine(compileRuleSet([{ name: 'test', file: 'test.yaml', value: TEST_POLICY }]).set, activeExceptions([], new Date()));

async function plan(desired: DesiredGateway, live: LiveGateway, lastApplied: LastApplied | undefined, secretHash = hashV1): Promise<GatewayPlan> {
  const p = await planGateway({ desired, live, lastApplied, secretHash, policy });
  // Every plan must be what `apply FILE` accepts.
  expect(checkPlan.Check(p), JSON.stringify([...checkPlan.Errors(p)].slice(0, 3))).toBe(true);
  return p;
}

/** Git as last applied (what the gateway in `liveGateway()` holds), then git as edited now. */
async function applied(files: Readonly<Record<string, string | null>> = {}): Promise<{ desired: DesiredGateway; last: LastApplied }> {
  const before = await fleet();
  const last = await lastAppliedFor(before.desired, hashV1);
  const { desired } = Object.keys(files).length ? await fleet(files) : before;
  return { desired, last };
}

const only = (changes: readonly Change[]) => {
  expect(changes).toHaveLength(1);
  return changes[0]!;
};
const byPath = (changes: readonly Change[], path: string) => {
  const c = changes.filter((x) => x.path === path);
  expect(c, `one change at ${path} in ${JSON.stringify(changes.map((x) => x.path))}`).toHaveLength(1);
  return c[0]!;
};
const emptyOperations = { deleteAgents: [], cronUpserts: [], cronRemovals: [], files: [] };

describe('create from nothing', () => {
  it('a new agent is one config create plus its routes, jobs, files and exec entry, written in one patch', async () => {
    const { desired } = await fleet();
    const live = freshGateway();
    // Someone else's exec entry (research §4.5's example): it must survive the write untouched.
    const mainExec = { allowlist: [{ id: '3c5b1f0a-0000-4e0e-9a57-0c8f4a3a0009', pattern: '/usr/bin/git' }] };
    (live.execApprovals.file as { agents: Record<string, JsonObject> }).agents.main = structuredClone(mainExec);
    const p = await plan(desired, live, undefined);

    expect(p.changes.every((c) => c.action === 'create' && c.agentId === 'support' && c.gateway === 'gw-eu')).toBe(true);
    expect(p.changes.map((c) => `${c.category} ${c.path}`).sort()).toEqual(
      [
        `bindings spec.bindings[${SLACK_ROUTE}]`,
        `bindings spec.bindings[${TELEGRAM_ROUTE}]`,
        'identity spec.config',
        'cron spec.cron[nightly]',
        'cron spec.cron[hourly]',
        'files spec.files[SOUL.md]',
        'approvals spec.exec.security',
        'approvals spec.exec.ask',
        'approvals spec.exec.askFallback',
        'approvals spec.exec.allowlist[/usr/bin/git]',
        'approvals spec.exec.allowlist[/usr/bin/jq]',
      ].sort(),
    );
    const config = byPath(p.changes, 'spec.config');
    expect(config.resource).toBe('Agent/support');
    expect(config.before).toBeUndefined();
    // The secret shows as its keyed hash, never as a value or a reference to resolve.
    expect((config.after as { tools: { github: { token: string } } }).tools.github.token).toBe(`hmac:${await hashV1('github-token')}`);
    expect(byPath(p.changes, 'spec.exec.security').resource).toBe('ApprovalRule/support-exec');
    expect(byPath(p.changes, `spec.bindings[${TELEGRAM_ROUTE}]`).after).toEqual({ agentId: 'support', match: { channel: 'telegram', accountId: 'support' } });

    const ops = p.operations;
    expect(ops.configPatch).toEqual({
      patch: {
        agents: {
          // main:{} plus support is a multi-agent roster: the gateway refuses it without the marker.
          ownership: 'explicit',
          entries: {
            support: {
              name: 'Support Desk',
              model: { primary: 'anthropic/claude-sonnet-4-6', fallbacks: ['openai/gpt-5.4'] },
              skills: ['kb-search'],
              tools: { profile: 'messaging', deny: ['exec', 'process', 'browser'], github: { token: { secretRef: 'github-token' } } },
              sandbox: { mode: 'all', workspaceAccess: 'ro' },
              heartbeat: { every: '30m' },
            },
          },
        },
        bindings: SUPPORT_BINDINGS,
      },
      replacePaths: [],
    });
    expect(ops.execApprovals).toEqual({
      version: 1,
      socket: { path: '<GW_HOME>/.openclaw/exec-approvals.sock' },
      defaults: {},
      agents: {
        main: mainExec,
        // `description` is clawops' own: the gateway's schema refuses it.
        support: { security: 'allowlist', ask: 'on-miss', askFallback: 'deny', allowlist: [{ pattern: '/usr/bin/git' }, { pattern: '/usr/bin/jq' }] },
      },
    });
    expect(ops.cronUpserts.map((u) => u.declarationKey).sort()).toEqual(['clawops:support:hourly', 'clawops:support:nightly']);
    expect(ops.cronUpserts.find((u) => u.declarationKey === 'clawops:support:nightly')!.job).toEqual({
      declarationKey: 'clawops:support:nightly',
      agentId: 'support',
      name: 'nightly',
      enabled: true,
      sessionTarget: 'isolated',
      wakeMode: 'now',
      schedule: { kind: 'cron', expr: '0 3 * * *', tz: 'UTC' },
      payload: { kind: 'agentTurn', message: 'Summarise the day.' },
      delivery: { mode: 'none' },
    });
    expect(ops.files).toEqual([{ agentId: 'support', name: 'SOUL.md', contentFile: 'agents/support/SOUL.md', sha256: sha256(SOUL_MD) }]);
    expect(ops.deleteAgents).toEqual([]);
    expect(ops.cronRemovals).toEqual([]);
    expect(p.live).toEqual({ config: live.config.hash, execApprovals: live.execApprovals.hash, cron: expect.any(String), files: { 'support/SOUL.md': '' } });
  });

  it('adds the ownership marker only when the roster becomes more than one agent', async () => {
    const { desired } = await fleet();
    const alone = freshGateway();
    (alone.config.sourceConfig.agents as JsonObject).entries = {};
    const first = await plan(desired, alone, undefined);
    expect((first.operations.configPatch!.patch.agents as JsonObject).ownership).toBeUndefined();

    const marked = freshGateway();
    (marked.config.sourceConfig.agents as JsonObject).ownership = 'explicit';
    const again = await plan(desired, marked, undefined);
    expect(Object.keys(again.operations.configPatch!.patch.agents as JsonObject)).toEqual(['entries']);
  });
});

describe('no changes', () => {
  it('live equal to desired is no change, whatever the gateway added around it', async () => {
    const { desired, last } = await applied();
    // liveGateway() holds: meta, agents.defaults.systemAgent, entries.main.workspace, talk.agentId,
    // allowlist ids, cron bookkeeping (ids, times, state, toolsAllow, anchorMs, a server-default
    // delivery), routes in another order, and another agent's entry, routes, exec entry and jobs.
    const live = liveGateway();
    const p = await plan(desired, live, last);
    expect(p.changes).toEqual([]);
    expect(p.notes).toEqual([]);
    expect(p.operations).toEqual(emptyOperations);
    expect(p.status).toBe('ok');
    expect(p.version).toBe('2026.9.6');
  });

  it('does not report a route, job or allowlist entry of another agent, nor their order', async () => {
    const { desired, last } = await applied();
    const live = liveGateway({ bindings: [...SUPPORT_BINDINGS, ...OPS_BINDINGS].reverse(), cron: supportCronJobs().reverse() });
    const p = await plan(desired, live, last);
    expect(p.changes).toEqual([]);
  });
});

describe('ownership', () => {
  it('never reports or writes a field the YAML never set', async () => {
    const { desired, last } = await applied({ [SUPPORT_FILE]: edit(SUPPORT_YAML, 'name: Support Desk', 'name: Support Desk EU') });
    const entry = { ...supportEntry(), thinkingDefault: 'high', identity: { emoji: '🛟' }, workspace: '<GW_HOME>/.openclaw/workspace-support' };
    const p = await plan(desired, liveGateway({ entries: { main: {}, ops: OPS_ENTRY, support: entry } }), last);
    expect(only(p.changes)).toMatchObject({ action: 'update', path: 'spec.config.name', before: 'Support Desk', after: 'Support Desk EU' });
    expect(p.operations.configPatch).toEqual({ patch: { agents: { entries: { support: { name: 'Support Desk EU' } } } }, replacePaths: [] });
  });

  it('deletes a field it set before and the YAML dropped: a delete change and null in the patch', async () => {
    const { desired, last } = await applied({ [SUPPORT_FILE]: edit(SUPPORT_YAML, '    skills: [kb-search]\n', '') });
    const p = await plan(desired, liveGateway(), last);
    expect(only(p.changes)).toMatchObject({ action: 'delete', path: 'spec.config.skills', category: 'skills', before: ['kb-search'] });
    expect(only(p.changes).after).toBeUndefined();
    // Dropping a list is removing its entries: the gateway wants the path named.
    expect(p.operations.configPatch).toEqual({ patch: { agents: { entries: { support: { skills: null } } } }, replacePaths: ['agents.entries.support.skills'] });
  });

  it('never touches an agent it does not manage, even when it differs from everything', async () => {
    const { desired, last } = await applied({ [SUPPORT_FILE]: edit(SUPPORT_YAML, '    - match: { channel: telegram, accountId: support }\n', '') });
    const ops = { ...OPS_ENTRY, model: 'anthropic/claude-opus-4-6', sandbox: { mode: 'off' } };
    const live = liveGateway({ entries: { main: {}, ops, support: supportEntry() } });
    const p = await plan(desired, live, last);
    expect(p.changes.map((c) => c.agentId)).toEqual(['support']);
    const patch = p.operations.configPatch!.patch;
    expect(patch.agents).toBeUndefined();
    expect((patch.bindings as JsonObject[]).filter((b) => b.agentId === 'ops')).toEqual(OPS_BINDINGS);
  });
});

describe('arrays', () => {
  it('a shrinking list is one update of the whole list, named in replacePaths', async () => {
    const { desired, last } = await applied({ [SUPPORT_FILE]: edit(SUPPORT_YAML, 'deny: [exec, process, browser]', 'deny: [exec, browser]') });
    const p = await plan(desired, liveGateway(), last);
    expect(only(p.changes)).toMatchObject({
      action: 'update',
      path: 'spec.config.tools.deny',
      category: 'tools',
      risk: 'high',
      before: ['exec', 'process', 'browser'],
      after: ['exec', 'browser'],
    });
    expect(p.operations.configPatch).toEqual({
      patch: { agents: { entries: { support: { tools: { deny: ['exec', 'browser'] } } } } },
      replacePaths: ['agents.entries.support.tools.deny'],
    });
  });

  it('an object replaced by a string writes the string and names the lists it drops', async () => {
    const yaml = edit(SUPPORT_YAML, '    model:\n      primary: anthropic/claude-sonnet-4-6\n      fallbacks: [openai/gpt-5.4]\n', '    model: openai/gpt-5.4\n');
    const { desired, last } = await applied({ [SUPPORT_FILE]: yaml });
    const p = await plan(desired, liveGateway(), last);
    expect(only(p.changes)).toMatchObject({
      action: 'update',
      path: 'spec.config.model',
      category: 'model',
      before: { primary: 'anthropic/claude-sonnet-4-6', fallbacks: ['openai/gpt-5.4'] },
      after: 'openai/gpt-5.4',
    });
    expect(p.operations.configPatch).toEqual({
      patch: { agents: { entries: { support: { model: 'openai/gpt-5.4' } } } },
      replacePaths: ['agents.entries.support.model.fallbacks'],
    });
  });

  it('a string replaced by an object writes the object', async () => {
    const stringModel = edit(SUPPORT_YAML, '    model:\n      primary: anthropic/claude-sonnet-4-6\n      fallbacks: [openai/gpt-5.4]\n', '    model: openai/gpt-5.4\n');
    const before = await fleet({ [SUPPORT_FILE]: stringModel });
    const last = await lastAppliedFor(before.desired, hashV1);
    const { desired } = await fleet();
    const p = await plan(desired, liveGateway({ entries: { main: {}, ops: OPS_ENTRY, support: { ...supportEntry(), model: 'openai/gpt-5.4' } } }), last);
    expect(p.changes.map((c) => `${c.action} ${c.path}`)).toContain('update spec.config.model');
    expect(p.operations.configPatch!.patch).toEqual({
      agents: { entries: { support: { model: { primary: 'anthropic/claude-sonnet-4-6', fallbacks: ['openai/gpt-5.4'] } } } },
    });
  });
});

describe('pruning', () => {
  const legacy: ManagedAgent = {
    config: { name: 'Legacy', tools: { deny: ['exec'] } },
    bindings: [{ agentId: 'legacy', match: { channel: 'telegram', accountId: 'legacy' } }],
    cron: [],
    files: {},
    secretHashes: {},
    created: true,
  };
  const adopted: ManagedAgent = { ...legacy, config: { name: 'Adopted' }, bindings: [], created: false };
  const liveWithLeavers = () =>
    liveGateway({
      entries: { main: {}, ops: OPS_ENTRY, support: supportEntry(), legacy: { name: 'Legacy', tools: { deny: ['exec'] } }, adopted: { name: 'Adopted', model: 'openai/gpt-5.4' } },
      bindings: [...SUPPORT_BINDINGS, ...OPS_BINDINGS, ...legacy.bindings],
    });
  const withLeavers = (last: LastApplied): LastApplied => ({ ...last, agents: { ...last.agents, legacy, adopted } });

  it('keeps agents that left git unless the Gateway says prune: true, with a note', async () => {
    const { desired, last } = await applied();
    const p = await plan(desired, liveWithLeavers(), withLeavers(last));
    expect(p.changes).toEqual([]);
    expect(p.operations).toEqual(emptyOperations);
    expect(p.notes).toEqual([
      { level: 'info', message: 'agent adopted left git; clawops did not create it, so it stays on gw-eu and is no longer managed' },
      { level: 'info', message: 'agent legacy left git; it stays on gw-eu because the Gateway does not set prune: true' },
    ]);
  });

  it('with prune: true deletes only the agent clawops created', async () => {
    const { desired, last } = await applied({ [GATEWAY_FILE]: `${GATEWAY_YAML}  prune: true\n` });
    const p = await plan(desired, liveWithLeavers(), withLeavers(last));
    expect(p.operations.deleteAgents).toEqual(['legacy']);
    expect(only(p.changes)).toMatchObject({ agentId: 'legacy', action: 'delete', path: 'spec', resource: 'Agent/legacy' });
    // agents.delete removes the entry (a null patch is refused); nothing else is written.
    expect(p.operations.configPatch).toBeUndefined();
    expect(p.notes.map((n) => n.message)).toEqual(['agent adopted left git; clawops did not create it, so it stays on gw-eu and is no longer managed']);
  });

  it('never deletes an agent that is already gone from the gateway', async () => {
    const { desired, last } = await applied({ [GATEWAY_FILE]: `${GATEWAY_YAML}  prune: true\n` });
    const p = await plan(desired, liveGateway(), withLeavers(last));
    expect(p.changes).toEqual([]);
    expect(p.operations.deleteAgents).toEqual([]);
  });
});

describe('ignore', () => {
  const tuned = () => liveGateway({ entries: { main: {}, ops: OPS_ENTRY, support: { ...supportEntry(), heartbeat: { every: '5m', target: 'last' } } } });
  const renamed = edit(SUPPORT_YAML, 'name: Support Desk', 'name: Support Desk EU');
  const IGNORE = '  ignore:\n    - path: "spec.config.heartbeat.**"\n      reason: On-call tunes heartbeats live.\n';

  it('without a rule, a live heartbeat edit is a change (the control)', async () => {
    const { desired, last } = await applied({ [SUPPORT_FILE]: renamed });
    const p = await plan(desired, tuned(), last);
    expect(p.changes.map((c) => c.path)).toEqual(['spec.config.heartbeat.every', 'spec.config.name']);
  });

  it('a Gateway ignore glob hides the field from the diff and the patch', async () => {
    const { desired, last } = await applied({ [SUPPORT_FILE]: renamed, [GATEWAY_FILE]: GATEWAY_YAML + IGNORE });
    const p = await plan(desired, tuned(), last);
    expect(only(p.changes).path).toBe('spec.config.name');
    expect(p.operations.configPatch!.patch).toEqual({ agents: { entries: { support: { name: 'Support Desk EU' } } } });
  });

  it('an Agent ignore glob does the same, even when the YAML drops the field', async () => {
    const yaml = edit(renamed, '    heartbeat: { every: 30m }\n', '') + IGNORE;
    const { desired, last } = await applied({ [SUPPORT_FILE]: yaml });
    const p = await plan(desired, tuned(), last);
    expect(only(p.changes).path).toBe('spec.config.name');
    expect(JSON.stringify(p.operations)).not.toContain('heartbeat');
  });
});

describe('secrets', () => {
  it('an unchanged secret behind the redaction sentinel is no change', async () => {
    const { desired, last } = await applied();
    const live = liveGateway();
    expect((live.config.sourceConfig.agents as { entries: { support: { tools: { github: { token: string } } } } }).entries.support.tools.github.token).toBe(REDACTED);
    expect((await plan(desired, live, last)).changes).toEqual([]);
  });

  it('a changed secret is one critical change of keyed hashes; the patch carries the reference, never the value', async () => {
    const { desired, last } = await applied();
    const p = await plan(desired, liveGateway(), last, hashV2);
    expect(only(p.changes)).toEqual({
      gateway: 'gw-eu',
      agentId: 'support',
      resource: 'Agent/support',
      action: 'update',
      category: 'tools',
      risk: 'critical',
      verdict: {
        effect: 'require-approval',
        rules: [
          { rule: 'test/secrets', effect: 'require-approval', risk: 'critical', message: 'A secret changes.' },
          { rule: 'test/tools', effect: 'allow', risk: 'high', message: 'Tools change.' },
        ],
        approvals: [{ rule: 'test/secrets', count: 1, teams: ['security'] }],
      },
      path: 'spec.config.tools.github.token',
      before: `hmac:${await hashV1('github-token')}`,
      after: `hmac:${await hashV2('github-token')}`,
      secret: true,
      source: { file: SUPPORT_FILE, line: 17, col: 24 },
    });
    expect(p.operations.configPatch).toEqual({ patch: { agents: { entries: { support: { tools: { github: { token: { secretRef: 'github-token' } } } } } } }, replacePaths: [] });
    const json = JSON.stringify(p);
    expect(json).not.toContain(SECRET_V1);
    expect(json).not.toContain(SECRET_V2);
  });

  it('a secret clawops never wrote shows as unknown, not as the sentinel', async () => {
    const { desired } = await fleet();
    const p = await plan(desired, liveGateway(), undefined);
    expect(only(p.changes)).toMatchObject({ path: 'spec.config.tools.github.token', secret: true, before: 'hmac:unknown', after: `hmac:${await hashV1('github-token')}` });
  });
});

describe('keyed diffs', () => {
  it('a changed cron schedule is one update of that job, projected past the server bookkeeping', async () => {
    const { desired, last } = await applied({ [SUPPORT_FILE]: edit(SUPPORT_YAML, 'expr: "0 3 * * *"', 'expr: "0 4 * * *"') });
    const p = await plan(desired, liveGateway(), last);
    const c = only(p.changes);
    expect(c).toMatchObject({ action: 'update', path: 'spec.cron[nightly]', category: 'cron', risk: 'medium', source: { file: SUPPORT_FILE, line: 24 } });
    expect(c.before).toEqual({ ...(c.after as JsonObject), schedule: { kind: 'cron', expr: '0 3 * * *', tz: 'UTC' } });
    expect((c.after as { schedule: JsonObject }).schedule).toEqual({ kind: 'cron', expr: '0 4 * * *', tz: 'UTC' });
    expect(p.operations).toMatchObject({ deleteAgents: [], cronRemovals: [], files: [] });
    expect(p.operations.configPatch).toBeUndefined();
    expect(p.operations.cronUpserts).toEqual([{ declarationKey: 'clawops:support:nightly', job: expect.objectContaining({ schedule: { kind: 'cron', expr: '0 4 * * *', tz: 'UTC' } }) }]);
  });

  it('a job removed from git is removed by its live id', async () => {
    const yaml = edit(SUPPORT_YAML, '    - name: hourly\n      schedule: { kind: every, everyMs: 3600000 }\n      payload: { kind: agentTurn, message: Check the queue. }\n', '');
    const { desired, last } = await applied({ [SUPPORT_FILE]: yaml });
    const p = await plan(desired, liveGateway(), last);
    expect(only(p.changes)).toMatchObject({ action: 'delete', path: 'spec.cron[hourly]' });
    expect(p.operations.cronRemovals).toEqual([{ id: supportCronJobs()[1]!.id, declarationKey: 'clawops:support:hourly' }]);
    expect(p.operations.cronUpserts).toEqual([]);
  });

  it('a removed route is a keyed delete; the written routes keep every other agent’s', async () => {
    const { desired, last } = await applied({ [SUPPORT_FILE]: edit(SUPPORT_YAML, '    - match: { channel: telegram, accountId: support }\n', '') });
    const p = await plan(desired, liveGateway(), last);
    expect(only(p.changes)).toEqual({
      gateway: 'gw-eu',
      agentId: 'support',
      resource: 'Agent/support',
      action: 'delete',
      category: 'bindings',
      risk: 'medium',
      verdict: { effect: 'allow', rules: [{ rule: 'test/routine', effect: 'allow', risk: 'medium', message: 'Routes or jobs change.' }], approvals: [] },
      path: `spec.bindings[${TELEGRAM_ROUTE}]`,
      before: SUPPORT_BINDINGS[1],
    });
    // Live order kept for routes clawops does not own; the list shrinks, so it is named.
    expect(p.operations.configPatch).toEqual({ patch: { bindings: [OPS_BINDINGS[0], OPS_BINDINGS[1], SUPPORT_BINDINGS[0]] }, replacePaths: ['bindings'] });
  });

  it('allowlist entries are keyed by pattern; kept entries keep their gateway ids', async () => {
    const { desired, last } = await applied({ [RULE_FILE]: edit(RULE_YAML, '{ pattern: /usr/bin/jq }', '{ pattern: /usr/bin/rg, argPattern: "^--json" }') });
    const p = await plan(desired, liveGateway(), last);
    expect(p.changes.map((c) => [c.action, c.path, c.category, c.risk, c.resource])).toEqual([
      ['create', 'spec.exec.allowlist[/usr/bin/rg]', 'approvals', 'medium', 'ApprovalRule/support-exec'],
      ['delete', 'spec.exec.allowlist[/usr/bin/jq]', 'approvals', 'low', 'ApprovalRule/support-exec'],
    ].sort((a, b) => a[1]!.localeCompare(b[1]!)));
    expect(byPath(p.changes, 'spec.exec.allowlist[/usr/bin/jq]').before).toEqual({ pattern: '/usr/bin/jq' });
    expect(byPath(p.changes, 'spec.exec.allowlist[/usr/bin/rg]').after).toEqual({ pattern: '/usr/bin/rg', argPattern: '^--json' });
    expect(p.operations.execApprovals).toEqual({
      version: 1,
      socket: { path: '<GW_HOME>/.openclaw/exec-approvals.sock' },
      defaults: {},
      agents: {
        ops: OPS_EXEC,
        support: {
          security: 'allowlist',
          ask: 'on-miss',
          askFallback: 'deny',
          allowlist: [
            { pattern: '/usr/bin/git', id: SUPPORT_ALLOWLIST_IDS.git },
            { pattern: '/usr/bin/rg', argPattern: '^--json' },
          ],
        },
      },
    });
    expect(p.operations.configPatch).toBeUndefined();
  });

  it('a file whose live hash differs is an update guarded by that hash', async () => {
    const { desired, last } = await applied();
    const stale = '# Support\n\nOld text someone edited on the host.\n';
    const p = await plan(desired, liveGateway({ files: { 'support/SOUL.md': { hash: sha256(stale), content: stale } } }), last);
    expect(only(p.changes)).toMatchObject({
      action: 'update',
      path: 'spec.files[SOUL.md]',
      category: 'files',
      before: `sha256:${sha256(stale).slice(0, 12)}`,
      after: `sha256:${sha256(SOUL_MD).slice(0, 12)}`,
      source: { file: SUPPORT_FILE, line: 32 },
    });
    expect(p.operations.files).toEqual([{ agentId: 'support', name: 'SOUL.md', contentFile: 'agents/support/SOUL.md', sha256: sha256(SOUL_MD), expectedHash: sha256(stale) }]);
    expect(p.live!.files).toEqual({ 'support/SOUL.md': sha256(stale) });
  });

  it('a model id with a dot in a map key is written at that key', async () => {
    const withModels = (alias: string) => edit(SUPPORT_YAML, '    skills: [kb-search]\n', `    skills: [kb-search]\n    models: { "openai/gpt-5.4": { alias: ${alias} } }\n`);
    const before = await fleet({ [SUPPORT_FILE]: withModels('fast') });
    const last = await lastAppliedFor(before.desired, hashV1);
    const { desired } = await fleet({ [SUPPORT_FILE]: withModels('quick') });
    const live = liveGateway({ entries: { main: {}, ops: OPS_ENTRY, support: { ...supportEntry(), models: { 'openai/gpt-5.4': { alias: 'fast' } } } } });
    const p = await plan(desired, live, last);
    expect(only(p.changes)).toMatchObject({ action: 'update', category: 'model', before: 'fast', after: 'quick' });
    expect(p.operations.configPatch).toEqual({ patch: { agents: { entries: { support: { models: { 'openai/gpt-5.4': { alias: 'quick' } } } } } }, replacePaths: [] });
  });
});

describe('source locations', () => {
  it('each change points at the YAML that causes it', async () => {
    let yaml = edit(SUPPORT_YAML, 'name: Support Desk', 'name: Support Desk EU');
    yaml = edit(yaml, 'deny: [exec, process, browser]', 'deny: [exec, browser]');
    yaml = edit(yaml, 'accountId: support }', 'accountId: helpdesk }');
    const rule = edit(RULE_YAML, 'ask: on-miss', 'ask: always');
    const { desired, last } = await applied({ [SUPPORT_FILE]: yaml, [RULE_FILE]: rule });
    const stale = 'old\n';
    const p = await plan(desired, liveGateway({ files: { 'support/SOUL.md': { hash: sha256(stale), content: stale } } }), last);
    const at = (path: string) => byPath(p.changes, path).source;
    expect(at('spec.config.name')).toEqual({ file: SUPPORT_FILE, line: 9, col: 11 });
    expect(at('spec.config.tools.deny')).toEqual({ file: SUPPORT_FILE, line: 16, col: 13 });
    expect(at('spec.bindings[telegram/account:helpdesk]')).toEqual({ file: SUPPORT_FILE, line: 22, col: 7 });
    expect(at('spec.files[SOUL.md]')).toEqual({ file: SUPPORT_FILE, line: 32, col: 14 });
    expect(at('spec.exec.ask')).toEqual({ file: RULE_FILE, line: 9, col: 10 });
    // The route that left git has no YAML to point at.
    expect(at(`spec.bindings[${TELEGRAM_ROUTE}]`)).toBeUndefined();
  });

  it('an allowlist entry points at its item in the ApprovalRule', async () => {
    const { desired, last } = await applied({ [RULE_FILE]: edit(RULE_YAML, '{ pattern: /usr/bin/jq }', '{ pattern: /usr/bin/rg }') });
    const p = await plan(desired, liveGateway(), last);
    expect(byPath(p.changes, 'spec.exec.allowlist[/usr/bin/rg]').source).toEqual({ file: RULE_FILE, line: 13, col: 9 });
  });
});

describe('risk and category', () => {
  it('loosening a guard is critical; renaming is low identity', async () => {
    let yaml = edit(SUPPORT_YAML, 'name: Support Desk', 'name: Support Desk EU');
    yaml = edit(yaml, 'sandbox: { mode: all,', 'sandbox: { mode: "off",');
    yaml = edit(yaml, '      profile: messaging\n', '      profile: messaging\n      elevated: { enabled: true }\n');
    const { desired, last } = await applied({ [SUPPORT_FILE]: yaml, [RULE_FILE]: edit(RULE_YAML, 'security: allowlist', 'security: full') });
    const p = await plan(desired, liveGateway(), last);
    const rc = (path: string) => {
      const c = byPath(p.changes, path);
      return [c.action, c.category, c.risk];
    };
    expect(rc('spec.config.name')).toEqual(['update', 'identity', 'low']);
    expect(rc('spec.config.sandbox.mode')).toEqual(['update', 'sandbox', 'critical']);
    expect(rc('spec.config.tools.elevated.enabled')).toEqual(['create', 'tools', 'critical']);
    expect(rc('spec.exec.security')).toEqual(['update', 'approvals', 'critical']);
    expect(p.changes).toHaveLength(4);
    // The verdict names every matching rule; the strongest effect wins.
    const verdict = (path: string) => {
      const v = byPath(p.changes, path).verdict;
      return [v.effect, v.rules.map((r) => r.rule)];
    };
    expect(verdict('spec.config.name')).toEqual(['allow', ['test/names']]);
    expect(verdict('spec.config.sandbox.mode')).toEqual(['deny', ['test/sandbox-off', 'test/sandbox']]);
    expect(verdict('spec.config.tools.elevated.enabled')).toEqual(['require-approval', ['test/elevated', 'test/tools']]);
    // The exec change is the ApprovalRule's: its kind and document are what policy sees.
    expect(verdict('spec.exec.security')).toEqual(['deny', ['test/exec-full']]);
  });

  it('tightening the sandbox is high, not critical', async () => {
    const { desired, last } = await applied({ [SUPPORT_FILE]: edit(SUPPORT_YAML, 'workspaceAccess: ro', 'workspaceAccess: none') });
    const p = await plan(desired, liveGateway(), last);
    expect(only(p.changes)).toMatchObject({ path: 'spec.config.sandbox.workspaceAccess', category: 'sandbox', risk: 'high' });
  });
});

describe('stable output', () => {
  it('planning twice gives the same plan, sorted by agent and path', async () => {
    let yaml = edit(SUPPORT_YAML, 'name: Support Desk', 'name: Support Desk EU');
    yaml = edit(yaml, 'expr: "0 3 * * *"', 'expr: "0 4 * * *"');
    yaml = edit(yaml, 'deny: [exec, process, browser]', 'deny: [exec]');
    const { desired, last } = await applied({ [SUPPORT_FILE]: yaml, [RULE_FILE]: edit(RULE_YAML, 'ask: on-miss', 'ask: always') });
    const a = await plan(desired, liveGateway(), last, hashV2);
    const b = await plan(desired, liveGateway({ cron: [...supportCronJobs()].reverse() }), last, hashV2);
    expect(b).toEqual(a);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    const paths = a.changes.map((c) => c.path);
    expect(paths).toEqual([...paths].sort((x, y) => x.localeCompare(y)));
    expect(paths).toHaveLength(5);
  });

  it('never changes its inputs', async () => {
    // The YAML keeps `tools.github` but drops the secret under it: live and last-applied overlap.
    const { desired, last } = await applied({ [SUPPORT_FILE]: edit(SUPPORT_YAML, 'github: { token: { secretRef: github-token } }', 'github: {}') });
    const live = liveGateway();
    const copies = structuredClone({ config: live.config, execApprovals: live.execApprovals, cron: live.cron, files: [...live.files], last, desired: [...desired.agents.values()].map((a) => a.config) });
    const p = await plan(desired, live, last);
    expect(byPath(p.changes, 'spec.config.tools.github.token')).toMatchObject({ action: 'delete', secret: true, risk: 'critical' });
    expect(p.operations.configPatch!.patch).toEqual({ agents: { entries: { support: { tools: { github: { token: null } } } } } });
    expect({ config: live.config, execApprovals: live.execApprovals, cron: live.cron, files: [...live.files], last, desired: [...desired.agents.values()].map((a) => a.config) }).toEqual(copies);
  });

  it('records the live hashes it was made against; the cron digest follows managed jobs only', async () => {
    const { desired, last } = await applied();
    const live = liveGateway();
    const p = await plan(desired, live, last);
    expect(p.live).toEqual({
      config: 'hmac-sha256:v1:tx28Ya4KJWGk3yaiD0j2r7Brt197Acf3RccZEOBeWc4',
      execApprovals: live.execApprovals.hash,
      cron: expect.stringMatching(/^[0-9a-f]{64}$/),
      files: { 'support/SOUL.md': sha256(SOUL_MD) },
    });
    const jobs = (f: (j: CronJob) => CronJob) => liveGateway({ cron: live.cron.map(f) });
    const touchedManaged = await plan(desired, jobs((j) => (j.declarationKey === 'clawops:support:hourly' ? { ...j, updatedAtMs: (j.updatedAtMs as number) + 1 } : j)), last);
    expect(touchedManaged.changes).toEqual([]);
    expect(touchedManaged.live!.cron).not.toBe(p.live!.cron);
    const touchedForeign = await plan(desired, jobs((j) => (j.declarationKey?.startsWith('clawops:') ? j : { ...j, updatedAtMs: (j.updatedAtMs as number) + 1 })), last);
    expect(touchedForeign.live!.cron).toBe(p.live!.cron);
  });
});
