/**
 * `clawops import`: the live → YAML mapping on synthetic data, and the round trip against the
 * shared real gateway `a`: seed a varied roster, import it, validate, and check that every seeded
 * agent, route, cron job, workspace file and exec-approval entry came back exactly.
 *
 * Gateway `a` is shared with other test files, so everything seeded here has an id unique to this
 * run, comparisons look only at those agents, and everything is removed again at the end.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { GatewayClient } from '../fleet/openclaw/client.ts';
import { generateDeviceIdentity } from '../fleet/openclaw/device-identity.ts';
import { StaleHashError } from '../fleet/openclaw/errors.ts';
import { OpenClawGateway, type CronJob, type ExecApprovalsFile, type JsonObject } from '../fleet/openclaw/gateway-api.ts';
import type { LiveState } from '../reconciler/import/live-state.ts';
import { gatewayNameFromUrl, secretNameFor, slugify } from '../reconciler/import/names.ts';
import { AGENT_LABEL, planImport } from '../reconciler/import/plan-import.ts';
import { REDACTED_SENTINEL } from '../reconciler/import/redacted-values.ts';
import { renderResource } from '../reconciler/import/render-yaml.ts';
import { writeAllOrNothing } from '../reconciler/import/write-all.ts';
import { loadRepo } from '../reconciler/load/load-repo.ts';
import { ofKind } from '../reconciler/load/resource.ts';
import { matchesSelector } from '../reconciler/model/selector.ts';
import { Redactor } from '../reconciler/redact/redactor.ts';
import { readSecret } from '../reconciler/secrets/age-store.ts';
import { clawops } from './helpers/cli.ts';
import { sharedGateway } from './helpers/gateways.ts';
import { liveRepos } from './helpers/live-repo.ts';

const makeLiveRepo = liveRepos();

/** Every file under `dir`, relative, `/`-separated. */
function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) => {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    return e.isDirectory() ? filesUnder(dir, rel) : [rel];
  });
}

/** A loaded config with every secretRef put back to the sentinel the gateway shows. */
function withSentinels(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withSentinels);
  if (v && typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === 'secretRef') return REDACTED_SENTINEL;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, withSentinels(x)]));
  }
  return v;
}

const live = (over: Partial<LiveState> = {}): LiveState => ({
  url: 'ws://127.0.0.1:18789',
  version: '2026.9.6',
  sourceConfig: { agents: { entries: { main: {} } } },
  configHash: 'hmac-sha256:v1:test',
  cronJobs: [],
  execApprovals: { file: { version: 1, defaults: {}, agents: {} }, hash: 'h' },
  files: new Map(),
  ...over,
});

const job = (over: Partial<CronJob> & JsonObject): CronJob => ({
  id: randomBytes(4).toString('hex'),
  name: 'job',
  enabled: true,
  schedule: { kind: 'every', everyMs: 60_000 },
  sessionTarget: 'isolated',
  wakeMode: 'now',
  payload: { kind: 'agentTurn', message: 'hi' },
  createdAtMs: 1,
  updatedAtMs: 1,
  state: {},
  ...over,
});

describe('import mapping (no gateway)', () => {
  const plan = (l: LiveState, extra: Partial<Parameters<typeof planImport>[0]> = {}) =>
    planImport({ live: l, gatewayName: 'gw', canEncrypt: true, importedAt: '2026-11-21T12:00:00.000Z', ...extra });

  it('skips the implicit empty main, imports main once it has settings', () => {
    expect(plan(live()).resources).toEqual([]);
    expect(plan(live()).skipped.map((s) => s.what)).toEqual(['agent "main"']);
    const withModel = plan(live({ sourceConfig: { agents: { entries: { main: { model: 'a/b' } } } } }));
    expect(withModel.resources.map((r) => `${r.kind}/${r.name}`)).toEqual(['Agent/main']);
  });

  it('leaves system cron jobs to the gateway and names renamed jobs', () => {
    const p = plan(
      live({
        sourceConfig: { agents: { entries: { bot: { name: 'Bot' } } } },
        cronJobs: [
          job({ name: 'heartbeat-bot', declarationKey: 'heartbeat:bot', agentId: 'bot', payload: { kind: 'heartbeat' } }),
          job({ name: 'Weekly Report ✓', declarationKey: 'x:1', agentId: 'bot', pacing: { min: '1h' } }),
          job({ name: 'tidy', declarationKey: 'clawops:bot:tidy-up', agentId: 'bot' }),
        ],
      }),
    );
    const agent = p.resources.find((r) => r.kind === 'Agent')!;
    const cron = (agent.value.spec as { cron: Array<{ name: string }> }).cron;
    expect(cron.map((j) => j.name)).toEqual(['weekly-report', 'tidy-up']);
    expect(p.skipped[0]?.what).toMatch(/1 system cron job \(heartbeat:\*\)/);
    expect(p.notImported.map((n) => n.what)).toContain('cron job "Weekly Report ✓": pacing');
    const text = renderResource(agent);
    expect(text).toContain('# Named "Weekly Report ✓" on the gateway');
    expect(text).toContain('clawops keeps it as clawops:bot:weekly-report');
    expect(text).not.toContain('clawops keeps it as clawops:bot:tidy-up');
  });

  it('never widens an exec allowlist: entries it cannot express are left out, argPattern is kept', () => {
    const p = plan(
      live({
        sourceConfig: { agents: { entries: { bot: {} } } },
        execApprovals: {
          hash: 'h',
          file: {
            version: 1,
            agents: {
              bot: {
                security: 'allowlist',
                askFallback: 'full',
                allowlist: [
                  { id: '1', pattern: '/usr/bin/git', argPattern: '^status', lastUsedAt: 5 },
                  { id: '2', pattern: '/usr/bin/ssh', futureNarrowing: 'x' },
                ],
                mcpTools: [{ server: 's', tool: 't', source: 'allow-always', addedAt: 1 }],
              },
            },
          },
        },
      }),
    );
    const rule = p.resources.find((r) => r.kind === 'ApprovalRule')!;
    expect(rule.value.spec).toEqual({
      agents: { matchLabels: { [AGENT_LABEL]: 'bot' } },
      exec: { security: 'allowlist', askFallback: 'full', allowlist: [{ pattern: '/usr/bin/git', argPattern: '^status' }] },
    });
    expect(p.notImported.map((n) => n.what)).toEqual(expect.arrayContaining(['exec approvals for "bot": allowlist entry "/usr/bin/ssh" (futureNarrowing)', 'exec approvals for "bot": mcpTools']));
  });

  it('names what stays on the gateway, and masks secrets clawops knows', () => {
    const redactor = new Redactor();
    redactor.add('the-gateway-token-1234', 'gw-token');
    const p = plan(
      live({
        sourceConfig: { gateway: { port: 1 }, models: {}, agents: { defaults: { model: 'x' }, entries: { bot: { description: 'token the-gateway-token-1234' } } } },
        files: new Map([['bot', [{ name: 'SOUL.md', content: 'uses the-gateway-token-1234' }]]]),
      }),
      { maskKnownSecrets: (t) => redactor.redact(t) },
    );
    expect(p.notImported.map((n) => n.what)).toEqual(['gateway', 'models', 'agents.defaults']);
    expect(JSON.stringify(p.resources)).not.toContain('the-gateway-token-1234');
    expect(p.contents[0]?.content).toBe('uses [REDACTED:gw-token]');
    expect(p.warnings).toHaveLength(2);
  });

  it('derives names that fit their patterns', () => {
    expect(gatewayNameFromUrl(new URL('ws://127.0.0.1:18789'))).toBe('127-0-0-1-18789');
    expect(gatewayNameFromUrl(new URL('wss://gw.Example.com'))).toBe('gw-example-com');
    expect(slugify('Über Nightly Report!!')).toBe('uber-nightly-report');
    expect(slugify('x'.repeat(80))).toMatch(/^x{56}-[0-9a-f]{6}$/);
    expect(secretNameFor('gw', 'a_b', ['tts', 'providers', 'openai', 'apiKey'])).toBe('gw-a-b-tts-providers-openai-apikey');
  });

  it('writes all files or none, and never over an existing one', async () => {
    const { dir } = await makeLiveRepo([]);
    writeFileSync(join(dir, 'taken.txt'), 'mine');
    const attempt = writeAllOrNothing([
      { path: join(dir, 'new', 'one.txt'), content: '1' },
      { path: join(dir, 'taken.txt'), content: '2' },
    ]);
    await expect(attempt).rejects.toThrow(/nothing was written/);
    expect(readFileSync(join(dir, 'taken.txt'), 'utf8')).toBe('mine');
    expect(filesUnder(dir).filter((f) => !f.startsWith('secrets/'))).toEqual(['clawops.yaml', 'taken.txt']);
  });
});

describe('clawops import (real gateway a)', () => {
  const target = () => sharedGateway('a');
  const canary = inject('canary');
  const run = randomBytes(3).toString('hex');
  const id = (role: string) => `imp-${run}-${role}`;
  const ids = { support: id('support'), ops: id('ops'), writer: id('writer'), vault: id('vault'), plain: id('plain') };
  const seeded = Object.values(ids);
  let client: GatewayClient;
  let gw: OpenClawGateway;
  const cronIds: string[] = [];
  let defaultAgent: string;
  let reminderId: string;

  const files: Record<string, Record<string, string>> = {
    [ids.support]: { 'SOUL.md': '# Sage\n\nFreundlich und präzise — 日本語も話せます。 ✓\n', 'AGENTS.md': '# Regeln\n\n- Ünïcödé bleibt erhalten.\n- “Anführungszeichen” auch.\n' },
    [ids.writer]: { 'SOUL.md': 'Write plainly.\n' },
  };
  const approvals: Record<string, JsonObject> = {
    [ids.support]: {
      security: 'allowlist',
      ask: 'on-miss',
      askFallback: 'deny',
      autoAllowSkills: false,
      allowlist: [{ pattern: '/usr/bin/git' }, { pattern: '/usr/bin/rg' }, { pattern: '/usr/local/bin/kubectl', argPattern: '^get ' }],
    },
    [ids.ops]: { security: 'full', ask: 'always', askFallback: 'allowlist' },
  };

  /** Read, change, write with the document's hash, re-reading when another test wrote in between. */
  async function guarded<T>(attempt: () => Promise<T>): Promise<T> {
    for (let i = 1; ; i++) {
      try {
        return await attempt();
      } catch (e) {
        if (!(e instanceof StaleHashError) || i === 8) throw e;
      }
    }
  }

  beforeAll(async () => {
    client = await GatewayClient.connect({ url: target().url, token: target().token, device: generateDeviceIdentity(), scopes: ['operator.admin'] });
    gw = new OpenClawGateway(client);
    defaultAgent = (await gw.agentsList()).defaultId;
    const entries: JsonObject = {
      [ids.support]: {
        name: 'Support',
        description: 'Answers customers in Slack and Telegram.',
        model: { primary: 'anthropic/claude-sonnet-4-6', fallbacks: ['openai/gpt-5.4', 'anthropic/claude-haiku-4-5'] },
        identity: { name: 'Sage', emoji: '🛟', theme: 'calm and exact' },
        skills: ['docs-search', 'kb-lookup'],
        tools: { profile: 'messaging', alsoAllow: ['web_search'], deny: ['browser', 'exec'], fs: { workspaceOnly: true } },
        sandbox: { mode: 'all', scope: 'agent', workspaceAccess: 'ro' },
      },
      [ids.ops]: {
        name: 'Ops',
        model: 'openai/gpt-5.4',
        thinkingDefault: 'high',
        tools: { profile: 'coding', elevated: { enabled: true } },
        subagents: { allowAgents: [ids.support] },
        heartbeat: { every: '30m' },
      },
      [ids.writer]: {
        name: 'Writer',
        skills: [],
        tools: { profile: 'minimal', allow: ['read', 'write'] },
        sandbox: { mode: 'non-main', workspaceAccess: 'rw', backend: 'docker' },
        groupChat: { mentionPatterns: ['@writer'] },
      },
      [ids.vault]: { name: 'Vault', memory: { search: { remote: { apiKey: canary } } } },
      [ids.plain]: { name: 'Plain — ünïcode' },
    };
    const bindings = [
      { agentId: ids.support, match: { channel: 'slack', teamId: 'T0ACME', peer: { kind: 'channel', id: 'C0SUPPORT' } } },
      { agentId: ids.support, match: { channel: 'telegram', accountId: 'support-bot' } },
      { type: 'route', agentId: ids.ops, match: { channel: 'discord', guildId: '123456789', accountId: '*' } },
      { agentId: ids.ops, match: { channel: 'slack', peer: { kind: 'direct', id: 'U0ONCALL' } } },
      { agentId: ids.writer, comment: 'the docs team', match: { channel: 'whatsapp', peer: { kind: 'group', id: '120363@g.us' } } },
    ];
    await guarded(async () => {
      const cfg = await gw.configGet();
      const current = Array.isArray(cfg.sourceConfig.bindings) ? cfg.sourceConfig.bindings : [];
      return gw.configPatch({ patch: { agents: { ownership: 'explicit', entries }, bindings: [...current, ...bindings] }, baseHash: cfg.hash });
    });

    const jobs = [
      {
        name: 'daily-digest',
        declarationKey: `clawops:${ids.support}:daily-digest`,
        agentId: ids.support,
        description: 'Weekday summary of open tickets.',
        enabled: true,
        schedule: { kind: 'cron', expr: '0 9 * * 1-5', tz: 'Europe/Berlin' },
        sessionTarget: 'isolated',
        wakeMode: 'now',
        payload: { kind: 'agentTurn', message: 'Summarise the open tickets.', model: 'anthropic/claude-haiku-4-5', timeoutSeconds: 120 },
        delivery: { mode: 'none' },
      },
      {
        name: 'Health Sweep!',
        declarationKey: `test:${run}:sweep`,
        agentId: ids.ops,
        enabled: false,
        schedule: { kind: 'every', everyMs: 1_800_000 },
        sessionTarget: 'isolated',
        wakeMode: 'next-heartbeat',
        payload: { kind: 'agentTurn', message: 'Check the health of every service ✓', thinking: 'low' },
        delivery: { mode: 'none' },
      },
      // System events only reach a main session, and only the default agent may target one.
      {
        name: `imp-${run}-reminder`,
        declarationKey: `test:${run}:reminder`,
        agentId: defaultAgent,
        enabled: false,
        schedule: { kind: 'cron', expr: '30 8 * * *' },
        sessionTarget: 'main',
        wakeMode: 'next-heartbeat',
        payload: { kind: 'systemEvent', text: 'Stand-up in 30 minutes.' },
      },
      {
        name: 'draft-review',
        declarationKey: `test:${run}:draft`,
        agentId: ids.writer,
        enabled: true,
        schedule: { kind: 'every', everyMs: 86_400_000 },
        sessionTarget: 'isolated',
        wakeMode: 'next-heartbeat',
        payload: { kind: 'agentTurn', message: 'Review yesterday’s drafts.' },
        delivery: { mode: 'none' },
      },
    ];
    for (const j of jobs) {
      const added = (await gw.cronAdd(j)).job;
      cronIds.push(added.id);
      if (j.agentId === defaultAgent) reminderId = added.id;
    }

    await guarded(async () => {
      const current = await gw.execApprovalsGet();
      return gw.execApprovalsSet({ file: { ...current.file, agents: { ...(current.file.agents ?? {}), ...approvals } }, baseHash: current.hash });
    });
    for (const [agentId, byName] of Object.entries(files)) {
      for (const [name, content] of Object.entries(byName)) await gw.agentFileSet({ agentId, name, content });
    }
  }, 120_000);

  afterAll(async () => {
    if (!gw) return;
    for (const jobId of cronIds) await gw.cronRemove(jobId).catch(() => undefined);
    // A null patch cannot remove an agent on 2026.9.6 (the roster guard refuses it); agents.delete can, routes included.
    for (const agentId of seeded) await gw.agentsDelete(agentId, { deleteFiles: true }).catch(() => undefined);
    await guarded(async () => {
      const current = await gw.execApprovalsGet();
      const agents = Object.fromEntries(Object.entries(current.file.agents ?? {}).filter(([k]) => !seeded.includes(k)));
      return gw.execApprovalsSet({ file: { ...current.file, agents } as ExecApprovalsFile, baseHash: current.hash });
    }).catch(() => undefined);
    // Shared gateway: prove nothing of this run is left behind.
    const entries = ((await gw.configGet()).sourceConfig.agents as { entries?: Record<string, unknown> }).entries ?? {};
    const jobs = await gw.cronList();
    const approvalsLeft = Object.keys((await gw.execApprovalsGet()).file.agents ?? {});
    await client.close();
    expect(seeded.filter((s) => Object.hasOwn(entries, s) || approvalsLeft.includes(s))).toEqual([]);
    expect(jobs.filter((j) => cronIds.includes(j.id))).toEqual([]);
  }, 120_000);

  it('round-trips a varied roster: the imported repo validates and says what the gateway has', async () => {
    const repo = await makeLiveRepo([{ name: 'a', url: target().url, token: target().token }]);
    const imported = await clawops(['import', '--gateway', 'a', '--repo', repo.dir, '--json'], { env: repo.env });
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    const validated = await clawops(['validate', '--repo', repo.dir], { env: repo.env });
    expect(validated.stdout + validated.stderr).toBe('');
    expect(validated.code).toBe(0);

    // What the gateway has now (nobody else touches these agents).
    const { sourceConfig } = await gw.configGet();
    const liveEntries = (sourceConfig.agents as { entries: Record<string, JsonObject> }).entries;
    const liveBindings = (sourceConfig.bindings ?? []) as JsonObject[];
    const liveJobs = await gw.cronList();
    const liveApprovals = (await gw.execApprovalsGet()).file.agents ?? {};

    const loaded = await loadRepo(repo.dir);
    const agents = ofKind(loaded.resources, 'Agent').filter((a) => a.value.spec.gateway === 'a');
    const rules = ofKind(loaded.resources, 'ApprovalRule');
    const byId = new Map(agents.map((a) => [a.value.spec.id ?? a.name, a]));
    expect(seeded.filter((s) => !byId.has(s))).toEqual([]);

    const report = JSON.parse(imported.stdout) as { agents: Array<{ id: string }>; notImported: Array<{ what: string }> };
    expect(report.agents.map((a) => a.id)).toEqual(expect.arrayContaining(seeded));
    expect(report.notImported.map((n) => n.what)).toEqual(expect.arrayContaining(['agents.defaults', 'gateway']));

    for (const agentId of seeded) {
      const agent = byId.get(agentId)!;
      const spec = agent.value.spec;
      expect(withSentinels(spec.config), agentId).toEqual(liveEntries[agentId]);
      expect((spec.bindings ?? []).map((b) => ({ agentId, ...b })), agentId).toEqual(liveBindings.filter((b) => b.agentId === agentId));

      const jobs = liveJobs.filter((j) => j.agentId === agentId && !j.declarationKey?.startsWith('heartbeat:') && !j.declarationKey?.startsWith('skill-collection-review:'));
      expect(spec.cron ?? [], agentId).toHaveLength(jobs.length);
      for (const [i, written] of (spec.cron ?? []).entries()) {
        const original = jobs[i]!;
        for (const [field, value] of Object.entries(written)) if (field !== 'name') expect(value, `${agentId} cron ${field}`).toEqual(original[field]);
      }

      const expectedFiles = files[agentId] ?? {};
      expect(Object.keys(spec.files ?? {}).sort()).toEqual(Object.keys(expectedFiles).sort());
      for (const [name, path] of Object.entries(spec.files ?? {})) {
        const onDisk = readFileSync(join(repo.dir, dirname(agent.file), path), 'utf8');
        expect(onDisk).toBe(expectedFiles[name]);
        expect(onDisk).toBe((await gw.agentFileGet(agentId, name)).content);
      }

      const mine = rules.filter((r) => matchesSelector(r.value.spec.agents, agent.value.metadata.labels));
      const entry = liveApprovals[agentId];
      if (!entry) expect(mine).toEqual([]);
      else {
        expect(mine).toHaveLength(1);
        const allowlist = (entry.allowlist as Array<Record<string, unknown>> | undefined)?.map(({ id: _id, ...rest }) => rest);
        expect(mine[0]!.value.spec.exec).toEqual({ ...entry, ...(allowlist ? { allowlist } : {}) });
      }
    }

    // The system-event job lives on the shared default agent; only it is compared there.
    const reminder = liveJobs.find((j) => j.id === reminderId)!;
    const onDefault = byId.get(defaultAgent)?.value.spec.cron?.find((j) => j.name === `imp-${run}-reminder`);
    expect(onDefault).toBeDefined();
    for (const [field, value] of Object.entries(onDefault!)) if (field !== 'name') expect(value, `reminder ${field}`).toEqual(reminder[field]);
    expect(onDefault!.payload).toEqual({ kind: 'systemEvent', text: 'Stand-up in 30 minutes.' });

    // The renames and the secret, as a reader of the YAML sees them.
    const ops = byId.get(ids.ops)!.value.spec;
    expect(ops.cron?.map((j) => j.name)).toEqual(['health-sweep']);
    expect(byId.get(ids.support)!.value.spec.cron?.map((j) => j.name)).toEqual(['daily-digest']);
    const vault = byId.get(ids.vault)!;
    const ref = (vault.value.spec.config.memory as { search: { remote: { apiKey: { secretRef: string } } } }).search.remote.apiKey.secretRef;
    expect(ref).toBe(`a-${ids.vault}-memory-search-remote-apikey`);
    expect(await readSecret(repo.dir, ref, [repo.env.CLAWOPS_AGE_IDENTITY!], new Redactor())).toBe(REDACTED_SENTINEL);
    const vaultYaml = readFileSync(join(repo.dir, vault.file), 'utf8');
    expect(vaultYaml).toContain(`clawops secrets set ${ref}`);
    expect(vaultYaml).toMatch(/^# Agent ".*" of gateway a, imported by `clawops import` from ws:\/\/127\.0\.0\.1:\d+\n# on 2026-11-21T12:00:00\.000Z/);

    // Neither the redacted value nor the gateway token is anywhere in what was written or printed.
    for (const f of filesUnder(repo.dir)) {
      const text = readFileSync(join(repo.dir, f), 'utf8');
      expect(text.includes(canary), f).toBe(false);
      expect(text.includes(target().token), f).toBe(false);
    }
    expect(imported.stdout.includes(canary) || imported.stdout.includes(target().token)).toBe(false);
  }, 120_000);

  it('refuses to overwrite anything, and then writes nothing at all', async () => {
    const repo = await makeLiveRepo([{ name: 'a', url: target().url, token: target().token }]);
    const mine = join(repo.dir, 'agents', 'a', `${ids.plain}.yaml`);
    mkdirSync(dirname(mine), { recursive: true });
    writeFileSync(mine, '# my own notes\n');
    const before = filesUnder(repo.dir);
    const r = await clawops(['import', '--gateway', 'a', '--repo', repo.dir], { env: repo.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('import would overwrite 1 existing file; nothing was written');
    expect(r.stderr).toContain(`agents/a/${ids.plain}.yaml`);
    expect(filesUnder(repo.dir)).toEqual(before);
    expect(readFileSync(mine, 'utf8')).toBe('# my own notes\n');
  }, 60_000);

  it('imports by URL into a repo without that gateway: a Gateway resource and its token, encrypted', async () => {
    // A fresh repo has no device key yet: import creates one, as `gateway pair` would.
    const repo = await makeLiveRepo([], { withDeviceKey: false });
    const env = { ...repo.env, CLAWOPS_GATEWAY_TOKEN: target().token };
    const r = await clawops(['import', '--gateway', target().url, '--name', 'gw-a', '--repo', repo.dir], { env });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("created clawops' device key");
    expect(statSync(join(repo.dir, 'secrets', 'clawops-device-key.age')).isFile()).toBe(true);
    expect(r.stdout).toContain('gateways/gw-a.yaml');
    expect(r.stdout.includes(target().token)).toBe(false);
    const gatewayYaml = readFileSync(join(repo.dir, 'gateways', 'gw-a.yaml'), 'utf8');
    expect(gatewayYaml).toContain(`url: ${target().url}`);
    expect(gatewayYaml).toContain('token: { secretRef: gw-a-token }');
    expect(statSync(join(repo.dir, 'secrets', 'gw-a-token.age')).isFile()).toBe(true);
    expect(await readSecret(repo.dir, 'gw-a-token', [repo.env.CLAWOPS_AGE_IDENTITY!], new Redactor())).toBe(target().token);
    for (const f of filesUnder(repo.dir)) expect(readFileSync(join(repo.dir, f), 'utf8').includes(target().token), f).toBe(false);
    expect(filesUnder(repo.dir)).toEqual(expect.arrayContaining([`agents/gw-a/${ids.support}.yaml`, `approvals/gw-a/${ids.support}.yaml`]));
    const validated = await clawops(['validate', '--repo', repo.dir], { env: repo.env });
    expect(validated.stdout).toBe('');
    expect(validated.code).toBe(0);
    // The name is taken now: importing the same URL again is refused, not merged.
    const again = await clawops(['import', '--gateway', target().url, '--name', 'gw-a', '--repo', repo.dir], { env });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already has Gateway/gw-a');
  }, 60_000);

  it('explains a missing token, a gateway the repo has already and an unknown gateway in one line', async () => {
    const empty = await makeLiveRepo([]);
    const noToken = await clawops(['import', '--gateway', target().url, '--repo', empty.dir], { env: empty.env });
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toBe("clawops: importing by URL needs the gateway's shared token in CLAWOPS_GATEWAY_TOKEN\n");
    const repo = await makeLiveRepo([{ name: 'a', url: target().url, token: target().token }]);
    const env = { ...repo.env, CLAWOPS_GATEWAY_TOKEN: target().token };
    const twice = await clawops(['import', '--gateway', target().url, '--repo', repo.dir], { env });
    expect(twice.code).toBe(1);
    expect(twice.stderr).toBe(`clawops: the repo already has Gateway/a (gateways/a.yaml) for ${target().url}; import it by name (--gateway a)\n`);
    const unknown = await clawops(['import', '--gateway', 'nope', '--repo', repo.dir], { env: repo.env });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^clawops: no Gateway named "nope" in .* \(known: a\); pass a ws:\/\/ or wss:\/\/ URL/);
  });
});
