/**
 * Plan and apply against real gateways `c` (prod-eu) and `d` (prod-us) holding the example fleet:
 * convergence, a changed YAML, and concurrent edits between plan and apply — by the real
 * `openclaw` CLI and by a second connection racing apply at each of its steps and at random —
 * never clobbered.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultTrigger } from '../fleet/harness/fault-proxy.ts';
import { openclaw } from '../fleet/harness/openclaw-cli.ts';
import { GatewayClient } from '../fleet/openclaw/client.ts';
import { exportDeviceKey, generateDeviceIdentity } from '../fleet/openclaw/device-identity.ts';
import { StaleHashError, WriteNotAppliedError } from '../fleet/openclaw/errors.ts';
import { OpenClawGateway, type JsonObject } from '../fleet/openclaw/gateway-api.ts';
import type { GatewayApplyResult } from '../reconciler/apply/apply-gateway.ts';
import { allowedSignersText, makeKey } from './fixtures/audit/audit-branch.ts';
import { clawops, type CliResult } from './helpers/cli.ts';
import { exampleFleet, type ExampleFleet } from './helpers/example-fleet.ts';
import { sharedGateway } from './helpers/gateways.ts';
import { liveRepos } from './helpers/live-repo.ts';

let fleet: ExampleFleet;
const makeRepo = liveRepos();
const sessions: OpenClawGateway[] = [];

async function session(name: 'c' | 'd'): Promise<OpenClawGateway> {
  const g = sharedGateway(name);
  const s = new OpenClawGateway(await GatewayClient.connect({ url: g.url, token: g.token, device: generateDeviceIdentity(), scopes: ['operator.admin'] }));
  sessions.push(s);
  return s;
}

const TARGETS = ['same', 'managed', 'unmanaged'] as const;
type Target = (typeof TARGETS)[number];

const agent = async (s: OpenClawGateway, id: string) => (((await s.configGet()).sourceConfig.agents as { entries: Record<string, JsonObject> }).entries[id] ?? {}) as JsonObject;

/** Another operator's edit, written the way a careful client does: re-read and retry on a stale hash. */
async function otherEdit(s: OpenClawGateway, patch: JsonObject): Promise<void> {
  for (;;) {
    const { hash } = await s.configGet();
    try {
      await s.configPatch({ patch, baseHash: hash });
      return;
    } catch (e) {
      if (!(e instanceof StaleHashError || e instanceof WriteNotAppliedError)) throw e;
    }
  }
}

function applyResults(stdout: string): GatewayApplyResult[] {
  return (JSON.parse(stdout) as { results: GatewayApplyResult[] }).results;
}

beforeAll(async () => {
  fleet = await exampleFleet({ eu: sharedGateway('c').url, us: sharedGateway('d').url }, sharedGateway('c').token, { policies: false });
});
afterAll(async () => {
  await Promise.all(sessions.map((s) => s.client.close()));
  fleet.remove();
});

describe('plan and apply the example fleet on real gateways', () => {
  it('plans every example agent, applies it, then plans no changes; a second apply writes nothing', { timeout: 120_000 }, async () => {
    const first = await clawops(['plan', '--repo', fleet.dir, '--detailed-exitcode'], { env: fleet.env });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(2);
    for (const a of ['Agent/triage', 'Agent/kb-curator', 'Agent/billing', 'ApprovalRule/platform-exec']) expect(first.stdout).toContain(a);
    expect(first.stdout).toMatch(/Plan: \d+ to create, 0 to update, 0 to delete/);

    const applied = await clawops(['apply', '--repo', fleet.dir, '--auto-approve', '--json'], { env: fleet.env });
    expect(applied.code).toBe(0);
    expect(applyResults(applied.stdout).map((r) => [r.gateway, r.status])).toEqual([
      ['prod-eu', 'applied'],
      ['prod-us', 'applied'],
    ]);

    // What it applied and what live looked like are kept in the state dir, the token nowhere.
    const lastApplied = JSON.parse(readFileSync(join(fleet.dir, '.state', 'last-applied', 'prod-eu.json'), 'utf8')) as { agents: Record<string, { created: boolean }> };
    expect(Object.keys(lastApplied.agents).sort()).toEqual(['deploy-bot', 'kb-curator', 'oncall', 'triage']);
    expect(lastApplied.agents.triage?.created).toBe(true);
    const snapshot = readFileSync(join(fleet.dir, '.state', 'live', 'prod-eu.json'), 'utf8');
    expect(snapshot).toContain('"sourceConfig"');
    expect(snapshot).not.toContain(sharedGateway('c').token);

    const again = await clawops(['plan', '--repo', fleet.dir, '--detailed-exitcode'], { env: fleet.env });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('No changes.');

    const [c, d] = [await session('c'), await session('d')];
    const hashes = [(await c.configGet()).hash, (await d.configGet()).hash, (await c.execApprovalsGet()).hash];
    const twice = await clawops(['apply', '--repo', fleet.dir, '--auto-approve', '--json'], { env: fleet.env });
    expect(twice.code).toBe(0);
    expect(applyResults(twice.stdout).map((r) => [r.status, r.writes])).toEqual([
      ['unchanged', 0],
      ['unchanged', 0],
    ]);
    expect([(await c.configGet()).hash, (await d.configGet()).hash, (await c.execApprovalsGet()).hash]).toEqual(hashes);
    // What landed is what the YAML says, on the fields the YAML sets.
    expect(await agent(c, 'triage')).toMatchObject({ name: 'Support Triage', tools: { profile: 'messaging', deny: ['exec', 'process', 'browser'] } });
    expect((await c.execApprovalsGet()).file.agents?.triage).toMatchObject({ security: 'deny', ask: 'off' });
    expect((await c.agentFileGet('triage', 'SOUL.md')).content).toBe(readFileSync(join(fleet.dir, 'agents/support/triage/SOUL.md'), 'utf8'));
  });

  it('shows a YAML edit as an update at its line, applies it on both gateways, and converges', { timeout: 60_000 }, async () => {
    fleet.edit('agents/support/triage.yaml', (t) => t.replace('description: Answers customer questions', 'description: Answers every customer question'));
    const plan = await clawops(['plan', '--repo', fleet.dir], { env: fleet.env });
    expect(plan.stdout).toMatch(/~ spec\.config\.description/);
    expect(plan.stdout).toContain('agents/support/triage.yaml:17');
    expect(plan.stdout).toMatch(/Plan: 0 to create, 2 to update, 0 to delete on 2 of 2 gateways/);
    const applied = await clawops(['apply', '--repo', fleet.dir, '--auto-approve'], { env: fleet.env });
    expect(applied.code).toBe(0);
    expect((await agent(await session('d'), 'triage')).description).toMatch(/^Answers every customer question/);
    expect((await clawops(['plan', '--repo', fleet.dir, '--detailed-exitcode'], { env: fleet.env })).code).toBe(0);
  });
});

describe('what plan and apply refuse', () => {
  it('a key the live gateway does not know fails the plan at its YAML line, with a suggestion', async () => {
    fleet.edit('agents/support/kb-curator.yaml', (t) => t.replace('fs: { workspaceOnly: true }', 'fs: { workspaceOnlyy: true }'));
    try {
      const plan = await clawops(['plan', '--repo', fleet.dir, '--gateway', 'prod-eu', '--format', 'json'], { env: fleet.env });
      expect(plan.code).toBe(1);
      const g = (JSON.parse(plan.stdout) as { gateways: Array<{ status: string; errors: Array<{ kind: string; message: string; source?: unknown }> }> }).gateways[0]!;
      expect(g.status).toBe('error');
      expect(g.errors).toEqual([
        {
          kind: 'invalid-config',
          message: expect.stringMatching(/^Agent\/kb-curator spec\.config\.tools\.fs\.workspaceOnlyy: unknown key "workspaceOnlyy" for this gateway \(did you mean "workspaceOnly"\?\)/),
          source: { file: 'agents/support/kb-curator.yaml', line: 25, col: 13 },
        },
      ]);
      const apply = await clawops(['apply', '--repo', fleet.dir, '--gateway', 'prod-eu', '--auto-approve'], { env: fleet.env });
      expect(apply.code).toBe(1);
      expect(apply.stdout).toMatch(/prod-eu: failed — .*workspaceOnlyy/);
    } finally {
      fleet.edit('agents/support/kb-curator.yaml', (t) => t.replace('workspaceOnlyy', 'workspaceOnly'));
    }
  });

  it('asks before applying on a terminal, and refuses to guess when there is none', async () => {
    fleet.edit('agents/support/triage.yaml', (t) => t.replace('thinkingDefault: low', 'thinkingDefault: high'));
    const no = await clawops(['apply', '--repo', fleet.dir, '--gateway', 'prod-eu'], { env: fleet.env, tty: true, stdin: 'no\n' });
    expect(no.code).toBe(1);
    expect(no.stderr).toContain('Apply these changes? Only "yes" is accepted:');
    expect(no.stderr).toContain('apply cancelled; nothing was written');
    const headless = await clawops(['apply', '--repo', fleet.dir, '--gateway', 'prod-eu'], { env: fleet.env });
    expect(headless.code).toBe(1);
    expect(headless.stderr).toContain('pass --auto-approve');
    expect((await agent(await session('c'), 'triage')).thinkingDefault).not.toBe('high');
    const yes = await clawops(['apply', '--repo', fleet.dir, '--gateway', 'prod-eu'], { env: fleet.env, tty: true, stdin: 'yes\n' });
    expect(yes.code).toBe(0);
    expect((await agent(await session('c'), 'triage')).thinkingDefault).toBe('high');
  });
});

describe('concurrent edits between plan and apply', () => {
  it('refuses a saved plan after the real openclaw CLI edited the gateway, says why, and keeps the edit', { timeout: 120_000 }, async () => {
    fleet.edit('agents/support/triage.yaml', (t) => t.replace('thinkingDefault: high', 'thinkingDefault: medium'));
    const planFile = join(fleet.dir, 'race.plan.json');
    expect((await clawops(['plan', '--repo', fleet.dir, '--gateway', 'prod-eu', '--out', planFile], { env: fleet.env })).code).toBe(0);
    await openclaw(sharedGateway('c').home, ['config', 'set', 'agents.entries.triage.identity.theme', 'edited by hand']);
    const applied = await clawops(['apply', planFile, '--repo', fleet.dir, '--gateway', 'prod-eu'], { env: fleet.env });
    expect(applied.code).toBe(1);
    expect(applied.stdout).toMatch(/prod-eu: refused — prod-eu: live changed since the plan \(config\); nothing was written/);
    const live = await agent(await session('c'), 'triage');
    expect(live.identity).toMatchObject({ theme: 'edited by hand' });
    expect(live.thinkingDefault).toBe('high');
  });

  it('a second client races apply at each of its steps, then at random: every edit survives', { timeout: 300_000 }, async () => {
    // A one-agent repo of its own on gateway d, so each trial is a few round trips; apply reaches d
    // through a fault proxy, which can hold it at an exact step while the other client edits.
    const proxy = await startFaultProxy(sharedGateway('d'));
    try {
      const race = await makeRepo([{ name: 'race', url: proxy.url, token: sharedGateway('d').token }]);
      const write = (description: string) =>
        writeFileSync(
          join(race.dir, 'gateways', 'racer.yaml'),
          `apiVersion: clawops.dev/v1\nkind: Agent\nmetadata: { name: racer }\nspec:\n  gateway: race\n  config: { name: Racer, description: "${description}", identity: { theme: steady } }\n`,
        );
      const d = await session('d');
      let other = await session('d');
      const outcomes: Record<string, number> = {};
      let lastError = '';
      const clobbers: string[] = [];
      const unexpected: string[] = [];
      const env = { ...race.env };
      write('start');
      expect((await clawops(['apply', '--repo', race.dir, '--auto-approve'], { env })).code).toBe(0);
      const planFile = join(race.dir, 'race.plan.json');
      let trial = 0;

      /** Plans the next trial, lets `run` start apply and the other edit, and checks the edit survived. */
      const runTrial = async (target: Target, run: (apply: () => Promise<CliResult>, edit: () => Promise<void>) => Promise<CliResult>): Promise<string> => {
        const i = trial++;
        // Both sides change device every 20 trials: the gateway allows 30 writes a minute per device.
        if (i % 20 === 0) {
          env.CLAWOPS_DEVICE_KEY = exportDeviceKey(generateDeviceIdentity());
          if (i) other = await session('d');
        }
        write(`race ${i}`);
        expect((await clawops(['plan', '--repo', race.dir, '--out', planFile], { env })).code).toBe(0);
        // The other client edits the same field, another field clawops manages, or one it does not.
        const value = `other ${i}`;
        const patch: JsonObject =
          target === 'same'
            ? { agents: { entries: { racer: { description: value } } } }
            : target === 'managed'
              ? { agents: { entries: { racer: { identity: { theme: value } } } } }
              : { agents: { entries: { main: { name: value } } } };
        const result = await run(
          () => clawops(['apply', planFile, '--repo', race.dir, '--json'], { env }),
          () => otherEdit(other, patch),
        );
        const status = result.stdout ? applyResults(result.stdout)[0]!.status : 'error';
        outcomes[status] = (outcomes[status] ?? 0) + 1;
        if (status === 'error') lastError = result.stderr;
        const live = await agent(d, target === 'unmanaged' ? 'main' : 'racer');
        const got = target === 'same' ? live.description : target === 'managed' ? (live.identity as JsonObject).theme : live.name;
        if (got !== value) clobbers.push(`trial ${i} (${target}, ${status}): expected "${value}", live has "${String(got)}"`);
        return status;
      };

      // Placed: the edit lands at each step of apply (its re-read, its check, its write, the answer
      // to its write), the apply held there until the edit is done. Timing alone rarely hits the
      // few milliseconds between check and write; these hit every step in every run.
      const steps: ReadonlyArray<{ name: string; at: FaultTrigger; before?: false; expect: (t: Target) => readonly string[] }> = [
        { name: 'before the re-read', at: { direction: 'to-gateway', method: 'config.get' }, expect: () => ['refused'] },
        { name: 'between the re-read and the check', at: { direction: 'to-gateway', method: 'config.get', nth: 2 }, expect: () => ['refused'] },
        { name: 'between the check and the write', at: { direction: 'to-gateway', method: 'config.patch' }, expect: () => ['refused'] },
        // Sent on as soon as the write is: the two writes meet inside the gateway, in either order.
        { name: 'during the write', at: { direction: 'to-gateway', method: 'config.patch' }, before: false, expect: () => ['refused', 'applied', 'failed'] },
        // After our write landed: verification sees a managed field moved, and the rollback leaves the edit alone.
        { name: 'after the write', at: { direction: 'to-client', responseTo: 'config.patch' }, expect: (t) => (t === 'unmanaged' ? ['applied'] : ['failed']) },
      ];
      for (const step of steps) {
        for (const target of TARGETS) {
          const status = await runTrial(target, async (apply, edit) => {
            const placed = proxy.on(step.at, edit, step.before === false ? { before: false } : {});
            try {
              const result = await apply();
              await placed.wait(10_000);
              return result;
            } finally {
              placed.remove();
            }
          });
          if (!step.expect(target).includes(status)) unexpected.push(`${step.name}, ${target}: ${status}, expected ${step.expect(target).join(' or ')}`);
        }
      }

      // Random: spread over the whole apply, before its check, between check and write, after. The
      // edit may also start up to 300 ms first: how long apply takes to reach its check depends on
      // the machine, and without this a fast one could see no edit land before it.
      let refused = 0;
      let applied = 0;
      for (let i = 0; i < 45; i++) {
        const offset = Math.floor(Math.random() * 900) - 300;
        const after = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
        const status = await runTrial(TARGETS[i % 3]!, async (apply, edit) => (await Promise.all([after(-offset).then(apply), after(offset).then(edit)]))[0]);
        if (status === 'refused') refused++;
        if (status === 'applied') applied++;
      }
      expect(clobbers).toEqual([]);
      expect(unexpected, `outcomes ${JSON.stringify(outcomes)}; last error: ${lastError}`).toEqual([]);
      // It really raced: some applies got in first, some were refused.
      expect(refused, `outcomes ${JSON.stringify(outcomes)}; last error: ${lastError}`).toBeGreaterThan(0);
      expect(applied).toBeGreaterThan(0);
    } finally {
      await proxy.close();
    }
  });
});

describe('policy gates apply (examples/fleet with baseline and its own guardrails)', () => {
  let guarded: ExampleFleet;
  beforeAll(async () => {
    guarded = await exampleFleet({ eu: sharedGateway('c').url, us: sharedGateway('d').url }, sharedGateway('c').token);
  });
  afterAll(() => guarded.remove());

  interface JsonChange {
    agentId: string;
    path: string;
    risk: string;
    verdict: { effect: string; rules: Array<{ rule: string }>; approvals: Array<{ rule: string; count: number; teams?: string[] }> };
  }
  interface GatedResult extends GatewayApplyResult {
    gated: Array<{ agentId: string; path: string; gate: string; why: string }>;
    breakGlass?: { by: string; reason: string; changes: number };
  }

  it('shows every verdict in text, Markdown and JSON; apply refuses the deny, holds the approval, applies the allow', { timeout: 240_000 }, async () => {
    const eu = ['--repo', guarded.dir, '--gateway', 'prod-eu'];
    const key = makeKey(guarded.dir, 'audit-key');
    writeFileSync(join(guarded.dir, 'allowed_signers'), allowedSignersText([{ principal: 'clawops@test', key }]));
    const env = { ...guarded.env, CLAWOPS_ACTOR: 'test-operator', CLAWOPS_SIGNING_KEY_FILE: key.file };
    // Whatever earlier tests left on the gateway, bring it to the example first.
    const converge = await clawops(['apply', ...eu, '--auto-approve', '--break-glass', '--reason', 'align the test gateway with the example', '--json'], { env });
    expect(converge.code, converge.stderr).toBe(0);
    expect((await clawops(['plan', ...eu, '--detailed-exitcode'], { env })).code).toBe(0);

    guarded.edit('agents/support/kb-curator.yaml', (t) => t.replace('name: KB Curator', 'name: KB Curator EU').replace('expr: "0 7 * * 1"', 'expr: "0 6 * * 1"'));
    guarded.edit('agents/support/triage.yaml', (t) => t.replace('primary: anthropic/claude-sonnet-4-6\n      fallbacks: [openai/gpt-5.4]', 'primary: openai/gpt-5.4\n      fallbacks: [anthropic/claude-sonnet-4-6]'));
    guarded.edit('agents/platform/deploy-bot.yaml', (t) => t.replace('      allow: [read, write, edit, exec, process, message]', '      profile: full\n      allow: [read, write, edit, exec, process, message]'));

    const json = await clawops(['plan', ...eu, '--format', 'json'], { env });
    expect(json.code, json.stderr).toBe(0);
    const changes = (JSON.parse(json.stdout) as { gateways: Array<{ changes: JsonChange[] }> }).gateways[0]!.changes;
    const verdict = (agentId: string, path: string) => {
      const c = changes.find((x) => x.agentId === agentId && x.path === path);
      expect(c, `${agentId} ${path} in ${JSON.stringify(changes.map((x) => [x.agentId, x.path]))}`).toBeDefined();
      return [c!.verdict.effect, c!.risk, c!.verdict.rules.map((r) => r.rule)];
    };
    expect(verdict('kb-curator', 'spec.config.name')).toEqual(['allow', 'low', ['baseline/names']]);
    expect(verdict('kb-curator', 'spec.cron[weekly-review]')).toEqual(['allow', 'medium', ['baseline/cron']]);
    expect(verdict('triage', 'spec.config.model.primary')).toEqual(['require-approval', 'high', ['baseline/model-change']]);
    expect(verdict('deploy-bot', 'spec.config.tools.profile')).toEqual(['deny', 'high', ['baseline/tool-posture', 'fleet-guardrails/no-full-tools']]);
    expect(changes.find((c) => c.agentId === 'triage')!.verdict.approvals).toEqual([{ rule: 'baseline/model-change', count: 1, teams: ['security'] }]);

    const text = await clawops(['plan', ...eu], { env });
    expect(text.stdout).toMatch(/spec\.config\.tools\.profile: "full".*\[high\] denied by fleet-guardrails\/no-full-tools/);
    expect(text.stdout).toMatch(/spec\.config\.model\.primary: .*\[high\] needs 1 approval.*\(baseline\/model-change\)/);
    expect(text.stdout).toMatch(/Policy: \d+ need approval, 1 denied\./);
    const md = await clawops(['plan', ...eu, '--format', 'markdown'], { env });
    expect(md.stdout).toContain('denied by fleet-guardrails/no-full-tools');
    expect(md.stdout).toMatch(/Policy: \d+ need approval, 1 denied/);

    const held = await clawops(['apply', ...eu, '--auto-approve', '--json'], { env });
    expect(held.code, 'a denied change makes apply exit 1').toBe(1);
    const [r] = (JSON.parse(held.stdout) as { results: GatedResult[] }).results;
    expect(r!.status).toBe('applied');
    expect(r!.breakGlass).toBeUndefined();
    const gatedOf = (agentId: string) => r!.gated.filter((g) => g.agentId === agentId).map((g) => [g.path, g.gate]);
    expect(gatedOf('kb-curator')).toEqual([]);
    expect(gatedOf('triage')).toContainEqual(['spec.config.model.primary', 'hold']);
    expect(gatedOf('deploy-bot')).toContainEqual(['spec.config.tools.profile', 'deny']);

    const c = await session('c');
    expect((await agent(c, 'kb-curator')).name).toBe('KB Curator EU');
    expect(((await agent(c, 'triage')).model as JsonObject).primary).toBe('anthropic/claude-sonnet-4-6');
    expect(((await agent(c, 'deploy-bot')).tools as JsonObject).profile).toBeUndefined();
    // Held changes stay in the plan until approved; the applied ones are gone from it.
    const pending = await clawops(['plan', ...eu, '--format', 'json'], { env });
    const left = (JSON.parse(pending.stdout) as { gateways: Array<{ changes: JsonChange[] }> }).gateways[0]!.changes.map((x) => `${x.agentId} ${x.path}`);
    expect(left).toContain('triage spec.config.model.primary');
    expect(left).toContain('deploy-bot spec.config.tools.profile');
    expect(left.filter((x) => x.startsWith('kb-curator'))).toEqual([]);

    const missingReason = await clawops(['apply', ...eu, '--auto-approve', '--break-glass'], { env });
    expect(missingReason.code).toBe(1);
    expect(missingReason.stderr).toContain('--break-glass needs --reason');

    const glass = await clawops(['apply', ...eu, '--auto-approve', '--break-glass', '--reason', 'INC-42: the Anthropic outage', '--json'], { env });
    expect(glass.code, 'the deny still stands').toBe(1);
    const [g] = (JSON.parse(glass.stdout) as { results: GatedResult[] }).results;
    expect(g!.breakGlass).toEqual({ by: 'test-operator', reason: 'INC-42: the Anthropic outage', changes: expect.any(Number) });
    expect(g!.gated.map((x) => [x.agentId, x.gate])).toEqual(g!.gated.map(() => ['deploy-bot', expect.any(String)]));
    expect(((await agent(c, 'triage')).model as JsonObject).primary).toBe('openai/gpt-5.4');
    expect(((await agent(c, 'deploy-bot')).tools as JsonObject).profile).toBeUndefined();
    const text2 = await clawops(['apply', ...eu, '--auto-approve'], { env });
    expect(text2.stdout).toMatch(/✗ denied {2}Agent\/deploy-bot spec\.config\.tools\.profile \[high\]: denied by fleet-guardrails\/no-full-tools/);

    // Every run is in the signed audit trail: what was applied, held, denied, and under break-glass.
    const verify = await clawops(['audit', 'verify', '--repo', guarded.dir, '--allowed-signers', join(guarded.dir, 'allowed_signers')], { env });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const search = async (...args: string[]) =>
      (JSON.parse((await clawops(['audit', 'search', '--repo', guarded.dir, '--json', ...args], { env })).stdout) as { events: Array<{ type: string; agentId?: string; summary: { path?: string; message?: string }; approval?: { kind: string; by: string; reason: string }; actor: string }> }).events;
    expect((await search('--type', 'change.held')).map((e) => [e.agentId, e.summary.path])).toContainEqual(['triage', 'spec.config.model.primary']);
    expect((await search('--type', 'change.denied', '--agent', 'deploy-bot')).length).toBeGreaterThanOrEqual(3);
    const model = (await search('--type', 'change.applied', '--agent', 'triage')).filter((e) => e.summary.path === 'spec.config.model.primary');
    expect(model).toHaveLength(1);
    expect(model[0]!.approval).toEqual({ kind: 'break-glass', by: 'test-operator', reason: 'INC-42: the Anthropic outage' });
    expect(model[0]!.summary.message).toContain('applied under break-glass');
    expect((await search('--type', 'change.applied', '--agent', 'kb-curator')).map((e) => e.summary.path)).toEqual(expect.arrayContaining(['spec.config.name', 'spec.cron[weekly-review]']));
  });
});

describe('apply in a git checkout', () => {
  it('keeps last-applied and the run\'s events on the signed clawops/audit branch, never touching the work tree', { timeout: 120_000 }, async () => {
    const repo = await makeRepo([{ name: 'solo', url: sharedGateway('d').url, token: sharedGateway('d').token }]);
    mkdirSync(join(repo.dir, 'agents'));
    writeFileSync(
      join(repo.dir, 'agents', 'probe.yaml'),
      'apiVersion: clawops.dev/v1\nkind: Agent\nmetadata: { name: audit-probe }\nspec:\n  gateway: solo\n  config: { name: Audit Probe, description: Proves where state goes }\n',
    );
    const git = (...args: string[]) => execFileSync('git', ['-C', repo.dir, ...args], { encoding: 'utf8' });
    git('init', '-q', '-b', 'main');
    git('add', '.');
    git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', 'fleet');
    const head = git('rev-parse', 'HEAD').trim();
    const key = makeKey(repo.dir, 'audit-key');
    const signers = join(repo.dir, 'allowed_signers');
    writeFileSync(signers, allowedSignersText([{ principal: 'clawops@test', key }]));

    const r = await clawops(['apply', '--repo', repo.dir, '--auto-approve', '--json'], { env: { ...repo.env, CLAWOPS_SIGNING_KEY_FILE: key.file, CLAWOPS_ACTOR: 'ci' } });
    expect(r.code, r.stderr).toBe(0);
    const lastApplied = JSON.parse(git('show', 'clawops/audit:state/last-applied/solo.json')) as { agents: Record<string, unknown> };
    expect(Object.keys(lastApplied.agents)).toEqual(['audit-probe']);
    const day = r.stdout && git('ls-tree', '-r', '--name-only', 'clawops/audit', 'events').trim().split('\n');
    expect(day).toHaveLength(1);
    const events = git('show', `clawops/audit:${day[0]!}`).trim().split('\n').map((l) => JSON.parse(l) as { seq: number; type: string; desiredCommit?: string });
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['apply.started', 'change.applied', 'apply.finished']));
    expect(events.every((e) => e.desiredCommit === head)).toBe(true);
    // Every commit on the branch verifies with native git; the checkout itself is untouched.
    const commits = git('rev-list', 'clawops/audit').trim().split('\n');
    expect(commits.length).toBeGreaterThanOrEqual(2);
    for (const c of commits) git('-c', `gpg.ssh.allowedSignersFile=${signers}`, 'verify-commit', c);
    expect(git('rev-parse', 'HEAD').trim()).toBe(head);
    expect(git('status', '--porcelain', '--untracked-files=no')).toBe('');
    const verify = await clawops(['audit', 'verify', '--repo', repo.dir, '--allowed-signers', signers], { env: repo.env });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    // A plan now reads what was applied from the branch: nothing to do.
    expect((await clawops(['plan', '--repo', repo.dir, '--detailed-exitcode'], { env: repo.env })).code).toBe(0);
  });
});
