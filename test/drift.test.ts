/**
 * Drift: detect it, say who made it, and edit the YAML so git matches live.
 *
 * Against the shared real gateway `a`: a repo of two agents (one multi-document file, comments
 * everywhere) is applied with the CLI, then edited live through the real `openclaw` CLI and through
 * RPCs (files, cron, exec approvals, routes, an agent deletion). detectDrift must find exactly those
 * fields, the journal must name the CLI, and the adopted YAML must reload cleanly, keep every other
 * line, and leave `plan` with nothing to do. Gateway `a` is shared: ids are unique to this run and
 * everything is removed at the end.
 *
 * Without a gateway: detectDrift's secret handling, the journal's paging, the YAML editor on tricky
 * files, what adoption refuses, and the PR body's size budget.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openclaw } from '../fleet/harness/openclaw-cli.ts';
import { GatewayClient } from '../fleet/openclaw/client.ts';
import { generateDeviceIdentity } from '../fleet/openclaw/device-identity.ts';
import { StaleHashError } from '../fleet/openclaw/errors.ts';
import { OpenClawGateway, type ChangeJournalEntry, type ConfigSnapshot, type JsonObject } from '../fleet/openclaw/gateway-api.ts';
import { effectiveDesired } from '../reconciler/desired/effective-state.ts';
import { adoptDrift, type AdoptResult } from '../reconciler/drift/adopt-yaml.ts';
import { detectDrift, driftFileRefs, driftItemKey, secretValueHasher, type DriftItem, type DriftReport } from '../reconciler/drift/detect.ts';
import { readJournal, whoChanged } from '../reconciler/drift/journal.ts';
import { renderDriftMarkdown, renderDriftSummary } from '../reconciler/drift/render.ts';
import { deleteIn, setIn, YamlEditError } from '../reconciler/drift/yaml-edit.ts';
import { REDACTED_SENTINEL } from '../reconciler/import/redacted-values.ts';
import { loadRepo, type FleetRepo } from '../reconciler/load/load-repo.ts';
import { ofKind } from '../reconciler/load/resource.ts';
import { readLive, type LiveGateway } from '../reconciler/plan/read-live.ts';
import { encryptSecret } from '../reconciler/secrets/age-store.ts';
import { LocalDirStateStore } from '../reconciler/state/local-dir-store.ts';
import type { LastApplied, ManagedAgent } from '../reconciler/state/state-store.ts';
import { clawops } from './helpers/cli.ts';
import { sharedGateway } from './helpers/gateways.ts';
import { liveRepos, type LiveRepo } from './helpers/live-repo.ts';

const makeRepo = liveRepos();

/** Lines removed and added between two texts (a longest-common-subsequence diff). */
function lineDiff(before: string, after: string): { removed: string[]; added: string[] } {
  const a = before.split('\n');
  const b = after.split('\n');
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const removed: string[] = [];
  const added: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      i++;
      j++;
    } else if (j < b.length && (i === a.length || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) added.push(b[j++]!);
    else removed.push(a[i++]!);
  }
  return { removed, added };
}

const write = (root: string, file: string, text: string) => {
  mkdirSync(dirname(join(root, file)), { recursive: true });
  writeFileSync(join(root, file), text);
};

function writeAdopted(root: string, result: AdoptResult): void {
  for (const [file, text] of result.files) {
    if (text === null) throw new Error(`unexpected removal of ${file}`);
    write(root, file, text);
  }
}

const paths = (items: readonly DriftItem[]) => items.map((i) => `${i.agentId} ${i.path}`);

describe('drift on a real gateway (a)', () => {
  const run = randomBytes(3).toString('hex');
  const drifty = `drift-${run}-watch`;
  const steady = `drift-${run}-steady`;
  const target = 'drift-a';
  const themeSecret = `drift-theme-${run}`;
  const themeValue = `theme-${randomBytes(6).toString('hex')}`;
  let repo: LiveRepo;
  let env: Record<string, string>;
  let session: OpenClawGateway;
  const originals: Record<string, string> = {};

  const agentsYaml = () => `# Agents whose drift this test provokes.
apiVersion: clawops.dev/v1
kind: Agent
metadata:
  name: ${drifty}
  labels: { team: drift-${run} }   # the ApprovalRule selects this
spec:
  gateway: ${target}
  config:
    name: Drifty   # shown in the UI
    description: Keeps watch over the night shift.
    model:
      primary: openai/gpt-5.4   # the primary model
      fallbacks: [anthropic/claude-sonnet-4-6]
    params: { voice: { secretRef: ${themeSecret} } }
    tools: { profile: coding, deny: [browser] }
  # Two routes: Telegram for the night bot, Slack for the team.
  bindings:
    - match: { channel: telegram, accountId: drift-${run} }
      comment: night shift
    - match: { channel: slack, teamId: T0DRIFT }
  cron:
    - name: nightly
      enabled: false   # never runs during the test
      schedule: { kind: cron, expr: "0 3 * * *", tz: UTC }
      payload: { kind: agentTurn, message: Check the night shift. }
  files:
    SOUL.md: ./watch/SOUL.md
---
# The quiet one.
apiVersion: clawops.dev/v1
kind: Agent
metadata: { name: ${steady} }
spec:
  gateway: ${target}
  config:
    name: Steady
    tools: { profile: minimal }
`;
  const ruleYaml = () => `apiVersion: clawops.dev/v1
kind: ApprovalRule
metadata: { name: drift-exec-${run} }
spec:
  agents: { matchLabels: { team: drift-${run} } }
  exec:
    security: allowlist   # only what is listed
    ask: on-miss
    allowlist:
      - pattern: /usr/bin/git
        description: version control
`;

  async function check(journal?: readonly ChangeJournalEntry[]): Promise<{ report: DriftReport; fleet: FleetRepo }> {
    const fleet = await loadRepo(repo.dir);
    const gw = ofKind(fleet.resources, 'Gateway').find((g) => g.name === target)!;
    const desired = await effectiveDesired(fleet, gw);
    const store = new LocalDirStateStore(join(repo.dir, '.state'));
    const lastApplied = await store.lastApplied(target);
    const live = await readLive(session, driftFileRefs(lastApplied));
    const report = detectDrift({ target, live, lastApplied, desired, secretHash: secretValueHasher(await store.secretHashKey()), ...(journal ? { journal } : {}) });
    return { report, fleet };
  }

  /** Read, change, write with the hash; again when another client wrote in between. */
  async function guarded(attempt: () => Promise<unknown>): Promise<void> {
    for (let i = 1; ; i++) {
      try {
        await attempt();
        return;
      } catch (e) {
        if (!(e instanceof StaleHashError) || i === 8) throw e;
      }
    }
  }

  /** A CLI edit lands through the gateway's file watcher: wait until config.get shows it. */
  async function until(ok: (c: ConfigSnapshot) => boolean): Promise<void> {
    for (let i = 0; i < 150; i++) {
      if (ok(await session.configGet())) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('the gateway never showed the edit');
  }
  const entry = (c: ConfigSnapshot, id: string) => ((c.sourceConfig.agents as { entries?: Record<string, JsonObject> }).entries ?? {})[id];

  beforeAll(async () => {
    const a = sharedGateway('a');
    repo = await makeRepo([{ name: target, url: a.url, token: a.token }]);
    env = { ...repo.env, CLAWOPS_STATE_DIR: join(repo.dir, '.state') };
    write(repo.dir, 'agents/drift.yaml', agentsYaml());
    write(repo.dir, 'agents/watch/SOUL.md', '# Drifty\n\nCalm at night.\n');
    write(repo.dir, 'approvals/drift-exec.yaml', ruleYaml());
    writeFileSync(join(repo.dir, 'secrets', `${themeSecret}.age`), await encryptSecret(themeValue, [repo.recipient]));
    for (const f of ['agents/drift.yaml', 'agents/watch/SOUL.md', 'approvals/drift-exec.yaml']) originals[f] = readFileSync(join(repo.dir, f), 'utf8');
    session = new OpenClawGateway(await GatewayClient.connect({ url: a.url, token: a.token, device: generateDeviceIdentity(), scopes: ['operator.admin'] }));
    const applied = await clawops(['apply', '--repo', repo.dir, '--auto-approve'], { env });
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
  }, 120_000);

  afterAll(async () => {
    if (!session) return;
    for (const id of [drifty, steady]) await session.agentsDelete(id, { deleteFiles: true }).catch(() => undefined);
    for (const j of await session.cronList()) if (j.declarationKey?.startsWith(`clawops:drift-${run}-`)) await session.cronRemove(j.id);
    await guarded(async () => {
      const ea = await session.execApprovalsGet();
      const agents = { ...(ea.file.agents ?? {}) };
      if (!agents[drifty] && !agents[steady]) return;
      delete agents[drifty];
      delete agents[steady];
      await session.execApprovalsSet({ file: { ...ea.file, agents }, baseHash: ea.hash });
    });
    await session.client.close();
  }, 60_000);

  it('right after apply nothing has drifted', async () => {
    const { report } = await check();
    expect(report).toEqual({ target, items: [], liveFiles: {} });
  });

  it('a live edit that is reverted is no drift', { timeout: 60_000 }, async () => {
    const home = sharedGateway('a').home;
    await openclaw(home, ['config', 'set', `agents.entries.${steady}.tools.profile`, 'coding']);
    await until((c) => (entry(c, steady)?.tools as JsonObject | undefined)?.profile === 'coding');
    expect(paths((await check()).report.items)).toEqual([`${steady} spec.config.tools.profile`]);
    await openclaw(home, ['config', 'set', `agents.entries.${steady}.tools.profile`, 'minimal']);
    await until((c) => (entry(c, steady)?.tools as JsonObject | undefined)?.profile === 'minimal');
    expect((await check()).report.items).toEqual([]);
  });

  it('finds exactly the fields edited live, names the CLI, and adopts them into YAML that plans clean', { timeout: 180_000 }, async () => {
    const home = sharedGateway('a').home;
    // Through the real openclaw CLI: two managed fields, a secret, and one clawops never set.
    await openclaw(home, ['config', 'set', `agents.entries.${drifty}.model.primary`, 'anthropic/claude-sonnet-4-6']);
    await openclaw(home, ['config', 'set', `agents.entries.${drifty}.description`, 'Watches | the `day` shift @team']);
    await openclaw(home, ['config', 'set', `agents.entries.${drifty}.params.voice`, 'rewritten by hand']);
    await openclaw(home, ['config', 'set', `agents.entries.${drifty}.thinkingDefault`, 'high']);
    await until((c) => entry(c, drifty)?.thinkingDefault === 'high');
    // Through RPCs: the workspace file, the cron job, the exec policy, the routes, and a whole agent.
    await session.agentFileSet({ agentId: drifty, name: 'SOUL.md', content: '# Drifty\n\nAwake all day now.\n' });
    const job = (await session.cronList()).find((j) => j.declarationKey === `clawops:${drifty}:nightly`)!;
    await session.cronUpdate(job.id, { schedule: { kind: 'cron', expr: '0 4 * * *', tz: 'UTC' } });
    await guarded(async () => {
      const ea = await session.execApprovalsGet();
      const agents = { ...(ea.file.agents ?? {}), [drifty]: { ...ea.file.agents?.[drifty], security: 'deny' } };
      await session.execApprovalsSet({ file: { ...ea.file, agents }, baseHash: ea.hash });
    });
    await guarded(async () => {
      const c = await session.configGet();
      const bindings = ((c.sourceConfig.bindings as JsonObject[] | undefined) ?? [])
        .filter((b) => !(b.agentId === drifty && (b.match as JsonObject).channel === 'slack'))
        .map((b) => (b.agentId === drifty ? { ...b, comment: 'day shift' } : b));
      await session.configPatch({ patch: { bindings }, baseHash: c.hash, replacePaths: ['bindings'] });
    });
    await session.agentsDelete(steady, { deleteFiles: true });

    const journal = await readJournal(session, { maxPages: 2 });
    const { report, fleet } = await check(journal.entries);
    const telegram = `spec.bindings[telegram/account:drift-${run}]`;
    expect(paths(report.items)).toEqual([
      `${steady} spec`,
      `${drifty} spec.bindings[slack/team:T0DRIFT]`,
      `${drifty} ${telegram}`,
      `${drifty} spec.config.description`,
      `${drifty} spec.config.model.primary`,
      `${drifty} spec.config.params.voice`,
      `${drifty} spec.cron[nightly].schedule`,
      `${drifty} spec.exec.security`,
      `${drifty} spec.files[SOUL.md]`,
    ]);
    const byPath = new Map(report.items.map((i) => [`${i.agentId} ${i.path}`, i]));
    expect(byPath.get(`${drifty} spec.config.model.primary`)).toMatchObject({ resource: `Agent/${drifty}`, section: 'config', lastApplied: 'openai/gpt-5.4', live: 'anthropic/claude-sonnet-4-6' });
    expect(byPath.get(`${drifty} spec.cron[nightly].schedule`)).toMatchObject({ lastApplied: { expr: '0 3 * * *' }, live: { expr: '0 4 * * *' } });
    expect(byPath.get(`${drifty} spec.exec.security`)).toMatchObject({ resource: `ApprovalRule/drift-exec-${run}`, lastApplied: 'allowlist', live: 'deny' });
    expect(byPath.get(`${drifty} ${telegram}`)).toMatchObject({ lastApplied: { comment: 'night shift' }, live: { comment: 'day shift' } });
    expect(byPath.get(`${drifty} spec.bindings[slack/team:T0DRIFT]`)?.live).toBeUndefined();
    expect(byPath.get(`${drifty} spec.config.params.voice`)).toMatchObject({ secret: true, live: expect.stringMatching(/^hmac:[0-9a-f]{16}$/) as string });
    expect(byPath.get(`${steady} spec`)).toMatchObject({ section: 'agent', lastApplied: { config: { name: 'Steady', tools: { profile: 'minimal' } } } });
    expect(byPath.get(`${steady} spec`)?.live).toBeUndefined();
    expect(report.liveFiles).toEqual({ [`${drifty}/SOUL.md`]: '# Drifty\n\nAwake all day now.\n' });
    // No secret value, old or new, in the report or anything rendered from it.
    const who = await whoChanged(session, report.items);
    const view = { report, who, firstSeen: { [driftItemKey(report.items[0]!)]: '2026-11-21T08:00:00Z' } };
    const md = renderDriftMarkdown([view]);
    const text = renderDriftSummary([view]);
    for (const out of [JSON.stringify(report), md, text]) {
      expect(out).not.toContain(themeValue);
      expect(out).not.toContain('rewritten by hand');
    }

    // Who: the CLI for the config edits, the RPC client for the routes; nothing claims the files, cron or exec.
    expect(who.byItem.get(`${drifty} spec.config.model.primary`)?.[0]).toMatchObject({ source: 'cli', kind: 'config-write' });
    expect(who.byItem.get(`${drifty} spec.config.description`)?.[0]?.summary).toContain(`agents.entries.${drifty}.description`);
    expect(who.byItem.get(`${drifty} ${telegram}`)?.[0]).toMatchObject({ source: 'config-rpc' });
    for (const p of ['spec.cron[nightly].schedule', 'spec.files[SOUL.md]', 'spec.exec.security']) expect(who.byItem.has(`${drifty} ${p}`)).toBe(false);
    // The journal pages with beforeCursor: one entry per page still finds the CLI.
    const paged = await whoChanged(session, [byPath.get(`${drifty} spec.config.model.primary`)!], { pageSize: 1, maxPages: 40 });
    expect(paged.byItem.get(`${drifty} spec.config.model.primary`)?.[0]).toMatchObject({ source: 'cli' });
    expect(paged.entries.length).toBeGreaterThan(1);
    expect(new Set(paged.entries.map((e) => e.id)).size).toBe(paged.entries.length);

    expect(md).toContain('| Field | Git (last applied) | Live | Changed by | First seen |');
    expect(md).toMatch(/`spec\.config\.model\.primary` \| `openai\/gpt-5\.4` \| `anthropic\/claude-sonnet-4-6` \| cli \(config-write\), \d{4}-\d\d-\d\d \d\d:\d\dZ/);
    expect(md).toContain('(secret changed)');
    expect(md).toContain('not in the gateway journal');
    expect(md).toContain('2026-11-21 08:00Z');
    // The pipe cannot end the cell; the code span is widened around the backticks inside.
    expect(md).toContain('| ``Watches \\| the `day` shift @team`` |');
    expect(text).toMatch(new RegExp(`drift-a {2}Agent/${drifty} {2}spec\\.config\\.model\\.primary: openai/gpt-5\\.4 → anthropic/claude-sonnet-4-6 {2}\\(cli`));

    // Adopt: every field but the secret, in three files; each file changes only where live moved.
    const adopted = await adoptDrift(fleet, report);
    expect(adopted.skipped.map((s) => [s.item.path, s.why])).toEqual([['spec.config.params.voice', expect.stringContaining(`clawops secrets set ${themeSecret}`)]]);
    expect(adopted.adopted).toHaveLength(8);
    expect([...adopted.files.keys()].sort()).toEqual(['agents/drift.yaml', 'agents/watch/SOUL.md', 'approvals/drift-exec.yaml']);
    writeAdopted(repo.dir, adopted);

    const agents = lineDiff(originals['agents/drift.yaml']!, readFileSync(join(repo.dir, 'agents/drift.yaml'), 'utf8'));
    expect(agents.removed).toEqual([
      '    description: Keeps watch over the night shift.',
      '      primary: openai/gpt-5.4   # the primary model',
      '      comment: night shift',
      '    - match: { channel: slack, teamId: T0DRIFT }',
      '      schedule: { kind: cron, expr: "0 3 * * *", tz: UTC }',
      '---',
      '# The quiet one.',
      'apiVersion: clawops.dev/v1',
      'kind: Agent',
      `metadata: { name: ${steady} }`,
      'spec:',
      `  gateway: ${target}`,
      '  config:',
      '    name: Steady',
      '    tools: { profile: minimal }',
    ]);
    expect(agents.added).toEqual([
      '    description: Watches | the `day` shift @team',
      '      primary: anthropic/claude-sonnet-4-6   # the primary model',
      '      comment: day shift',
      '      schedule: { kind: cron, expr: "0 4 * * *", tz: UTC }',
    ]);
    expect(lineDiff(originals['approvals/drift-exec.yaml']!, readFileSync(join(repo.dir, 'approvals/drift-exec.yaml'), 'utf8'))).toEqual({
      removed: ['    security: allowlist   # only what is listed'],
      added: ['    security: deny   # only what is listed'],
    });
    expect(readFileSync(join(repo.dir, 'agents/watch/SOUL.md'), 'utf8')).toBe('# Drifty\n\nAwake all day now.\n');

    // The adopted repo loads cleanly and plans nothing: git now says what live says.
    const reloaded = await loadRepo(repo.dir);
    expect(reloaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const plan = await clawops(['plan', '--repo', repo.dir, '--detailed-exitcode'], { env });
    expect(plan.stdout).toContain('No changes.');
    expect(plan.code).toBe(0);
    // Applying records the adopted state; what is left is the secret, which git cannot hold.
    expect((await clawops(['apply', '--repo', repo.dir, '--auto-approve'], { env })).code).toBe(0);
    expect(paths((await check()).report.items)).toEqual([`${drifty} spec.config.params.voice`]);
  });
});

// ---- without a gateway ----

const snapshot = (sourceConfig: JsonObject): ConfigSnapshot => ({
  path: '/x/openclaw.json',
  exists: true,
  sourceConfig,
  hash: 'h',
  configRevisionHash: 'r',
  appliedConfigHash: 'r',
  valid: true,
  issues: [],
  warnings: [],
});

const liveOf = (entries: JsonObject, extra: Partial<LiveGateway> = {}): LiveGateway => ({
  version: '2026.9.6',
  config: snapshot({ agents: { entries } }),
  execApprovals: { file: { version: 1, agents: {} }, hash: 'e', exists: true },
  cron: [],
  files: new Map(),
  ...extra,
});

const managed = (config: JsonObject, over: Partial<ManagedAgent> = {}): ManagedAgent => ({ config, bindings: [], cron: [], files: {}, secretHashes: {}, created: true, ...over });
const state = (agents: Record<string, ManagedAgent>): LastApplied => ({ target: 'gw', appliedAt: '2026-11-21T07:00:00Z', agents });
const hash = secretValueHasher(Buffer.alloc(32, 7));

describe('detectDrift (no gateway)', () => {
  it('compares secrets by keyed hash, and never carries a live value that stands where a secret was', () => {
    const last = state({ bot: managed({ tts: { apiKey: { secretRef: 'k' } }, env: [{ secretRef: 'e' }, 'plain'] }, { secretHashes: { 'tts.apiKey': hash('old-key'), 'env.0': hash('old-env') } }) });
    const same = detectDrift({ target: 'gw', live: liveOf({ bot: { tts: { apiKey: 'old-key' }, env: ['old-env', 'plain'] } }), lastApplied: last, secretHash: hash });
    expect(same.items).toEqual([]);
    const moved = detectDrift({ target: 'gw', live: liveOf({ bot: { tts: { apiKey: 'NEW-KEY-123' }, env: ['plain', 'NEW-ENV-456'] } }), lastApplied: last, secretHash: hash });
    expect(moved.items.map((i) => [i.path, i.secret])).toEqual([
      ['spec.config.env', true],
      ['spec.config.tts.apiKey', true],
    ]);
    expect(JSON.stringify(moved)).not.toMatch(/NEW-KEY-123|NEW-ENV-456|old-key|old-env/);
  });

  it('a redacted secret is drift only when the journal shows its path written since the last apply', () => {
    const last = state({ bot: managed({ tts: { apiKey: { secretRef: 'k' } } }, { secretHashes: { 'tts.apiKey': hash('v') } }) });
    const live = liveOf({ bot: { tts: { apiKey: REDACTED_SENTINEL } } });
    expect(detectDrift({ target: 'gw', live, lastApplied: last, secretHash: hash }).items).toEqual([]);
    const journal = [{ id: 'j', at: 1, kind: 'config-write', source: 'cli', summary: 's', changedPaths: ['agents.entries.bot.tts.apiKey'] }];
    expect(detectDrift({ target: 'gw', live, lastApplied: last, secretHash: hash, journal }).items).toEqual([
      { agentId: 'bot', section: 'config', path: 'spec.config.tts.apiKey', lastApplied: `hmac:${hash('v')}`, live: '(redacted)', secret: true },
    ]);
  });

  it('fields clawops never set, routes it does not own and an empty object it claims are not drift; a missing agent is one item', () => {
    const last = state({
      bot: managed({ name: 'Bot', params: {} }, { bindings: [{ agentId: 'bot', match: { channel: 'slack' } }] }),
      gone: managed({ name: 'Gone' }),
    });
    const live = liveOf(
      { bot: { name: 'Bot', params: { temperature: 0.2 }, thinkingDefault: 'high' } },
      { config: snapshot({ agents: { entries: { bot: { name: 'Bot', params: { temperature: 0.2 }, thinkingDefault: 'high' } } }, bindings: [{ agentId: 'bot', match: { channel: 'slack' } }, { agentId: 'bot', match: { channel: 'discord' } }] }) },
    );
    expect(detectDrift({ target: 'gw', live, lastApplied: last, secretHash: hash }).items).toEqual([
      { agentId: 'gone', section: 'agent', path: 'spec', lastApplied: { config: { name: 'Gone' } } },
    ]);
  });
});

describe('whoChanged paging (no gateway)', () => {
  const entries: ChangeJournalEntry[] = Array.from({ length: 7 }, (_, i) => ({
    id: `e${7 - i}`,
    at: 1000 * (7 - i),
    kind: 'config-write',
    source: i === 3 ? 'cli' : 'config-rpc',
    summary: `write ${7 - i}`,
    changedPaths: i === 3 ? ['agents.entries.bot.model.primary', 'plugins.installs'] : i === 5 ? ['agents.entries.bot'] : ['gateway.bind'],
  }));
  const calls: Array<string | undefined> = [];
  const fake = {
    changesList: async ({ limit = 50, beforeCursor }: { limit?: number; beforeCursor?: string } = {}) => {
      calls.push(beforeCursor);
      const start = beforeCursor ? Number(beforeCursor) : 0;
      const page = entries.slice(start, start + limit);
      return { entries: page, ...(start + limit < entries.length ? { nextCursor: String(start + limit) } : {}) };
    },
  };
  const item: DriftItem = { agentId: 'bot', section: 'config', path: 'spec.config.model.primary', lastApplied: 'a', live: 'b' };

  it('follows the cursor, matches paths either way, and stops at since or after maxPages', async () => {
    calls.length = 0;
    const all = await whoChanged(fake, [item], { pageSize: 2, perItem: 5, since: 0 });
    expect(calls).toEqual([undefined, '2', '4', '6']);
    expect(all.complete).toBe(true);
    // Its own path, and a write of the whole agent above it; never the unrelated writes.
    expect(all.byItem.get('bot spec.config.model.primary')?.map((a) => a.summary)).toEqual(['write 4', 'write 2']);
    const recent = await whoChanged(fake, [item], { pageSize: 2, since: 3500 });
    expect(recent.byItem.get('bot spec.config.model.primary')?.map((a) => a.source)).toEqual(['cli']);
    expect(recent.entries.map((e) => e.id)).toEqual(['e7', 'e6', 'e5', 'e4']);
    calls.length = 0;
    const bounded = await whoChanged(fake, [{ ...item, path: 'spec.config.name' }], { pageSize: 2, maxPages: 2 });
    expect(calls).toHaveLength(2);
    expect(bounded.complete).toBe(false);
    expect(bounded.byItem.size).toBe(0);
  });
});

describe('YAML edits keep everything else (no gateway)', () => {
  const file = `# Fleet of two.
apiVersion: clawops.dev/v1
kind: Gateway
metadata: { name: gw }
---
apiVersion: clawops.dev/v1
kind: Agent
metadata: { name: "multi" }   # quoted name
spec:
  config: { name: Multi, tools: { profile: coding, deny: [exec, browser] } }
  models:
    "openai/gpt-5.4": { alias: fast }     # a key with a dot and a slash
    'anthropic/claude': { alias: deep }
  notes: >
    folded text that
    spans two lines
  shared: &list [a, b]
  copy: *list
`;

  it('changes only the edited value: flow maps in flow maps, quoted keys, comments on the line', () => {
    const out = setIn(file, 1, ['spec', 'models', 'openai/gpt-5.4', 'alias'], 'quick');
    expect(lineDiff(file, out)).toEqual({
      removed: ['    "openai/gpt-5.4": { alias: fast }     # a key with a dot and a slash'],
      added: ['    "openai/gpt-5.4": { alias: quick }     # a key with a dot and a slash'],
    });
    const deeper = setIn(file, 1, ['spec', 'config', 'tools', 'deny'], ['exec']);
    expect(lineDiff(file, deeper).added).toEqual(['  config: { name: Multi, tools: { profile: coding, deny: [exec] } }']);
    const added = setIn(file, 1, ['spec', 'config', 'tools', 'fs'], { workspaceOnly: true });
    expect(lineDiff(file, added).added).toEqual(['  config: { name: Multi, tools: { profile: coding, deny: [exec, browser], fs: { workspaceOnly: true } } }']);
    const removed = deleteIn(file, 1, ['spec', 'models', 'anthropic/claude'], 1);
    expect(lineDiff(file, removed)).toEqual({ removed: ["    'anthropic/claude': { alias: deep }"], added: [] });
    // The folded scalar and the first document are untouched by all of it.
    for (const t of [out, deeper, added, removed]) expect(t).toContain('  notes: >\n    folded text that\n    spans two lines\n');
  });

  it('refuses an edit that would also change what an alias points at', () => {
    // Splicing `[a]` over `[a, b]` would be fine text, but `copy` would change with it: the check after every edit sees that.
    expect(() => setIn(file, 1, ['spec', 'shared'], ['a'])).toThrow(new YamlEditError('the edit would not give the intended value; the file was left alone'));
  });
});

describe('adoptDrift refuses what git cannot say (no gateway)', () => {
  let fleet: FleetRepo;
  let dir: string;
  const report = (target: string, items: DriftItem[]): DriftReport => ({ target, items, liveFiles: {} });
  const model = (agentId: string, live: string): DriftItem => ({ agentId, resource: `Agent/${agentId}`, section: 'config', path: 'spec.config.model', lastApplied: 'openai/gpt-5.4', live });

  beforeAll(async () => {
    const r = await makeRepo([
      { name: 'eu', url: 'ws://127.0.0.1:1', token: 't', labels: { env: 'prod' } },
      { name: 'us', url: 'ws://127.0.0.1:2', token: 't', labels: { env: 'prod' } },
    ]);
    dir = r.dir;
    write(dir, 'agents/both.yaml', `apiVersion: clawops.dev/v1\nkind: Agent\nmetadata: { name: both }\nspec:\n  gateways: { matchLabels: { env: prod } }\n  config:\n    model: openai/gpt-5.4\n`);
    write(dir, 'agents/one.yaml', `apiVersion: clawops.dev/v1\nkind: Agent\nmetadata: { name: one }\nspec:\n  gateway: eu\n  config:\n    model: openai/gpt-5.4-mini   # changed in git since\n`);
    write(dir, 'templates/desk.yaml', `apiVersion: clawops.dev/v1\nkind: Template\nmetadata: { name: desk }\nspec:\n  version: 1.0.0\n  variables: {}\n  agent: { config: { name: Desk } }\n---\napiVersion: clawops.dev/v1\nkind: TemplateDeployment\nmetadata: { name: desks }\nspec:\n  gateway: eu\n  template: { name: desk, version: 1.0.0 }\n  instances:\n    - name: desk-de\n`);
    fleet = await loadRepo(dir);
  });

  it('an agent on two gateways is adopted only when both drifted the same way', async () => {
    const one = await adoptDrift(fleet, report('eu', [model('both', 'anthropic/claude')]));
    expect(one.files.size).toBe(0);
    expect(one.skipped[0]?.why).toMatch(/Agent\/both \(agents\/both\.yaml\) also feeds agent both on us, where this has not drifted/);
    const differ = await adoptDrift(fleet, [report('eu', [model('both', 'anthropic/claude')]), report('us', [model('both', 'openai/o3')])]);
    expect(differ.skipped.map((s) => s.target)).toEqual(['eu', 'us']);
    expect(differ.skipped[0]?.why).toMatch(/live differs between the places this YAML feeds/);
    const agree = await adoptDrift(fleet, [report('eu', [model('both', 'anthropic/claude')]), report('us', [model('both', 'anthropic/claude')])]);
    expect(agree.adopted.map((a) => a.target)).toEqual(['eu', 'us']);
    expect(agree.files.get('agents/both.yaml')).toContain('    model: anthropic/claude\n');
  });

  it('skips a field git changed since the last apply, a template instance, and an agent git no longer has', async () => {
    const r = await adoptDrift(fleet, report('eu', [model('one', 'anthropic/claude'), model('desk-de', 'anthropic/claude'), model('ghost', 'x')]));
    expect(r.files.size).toBe(0);
    const why = Object.fromEntries(r.skipped.map((s) => [s.item.agentId, s.why]));
    expect(why.one).toMatch(/git changed this since the last apply \(git: "openai\/gpt-5\.4-mini", last applied: "openai\/gpt-5\.4", live: "anthropic\/claude"\)/);
    expect(why['desk-de']).toMatch(/rendered from TemplateDeployment\/desks \(instance desk-de, templates\/desk\.yaml:\d+\)/);
    expect(why.ghost).toMatch(/no Agent in git produces agent ghost on eu/);
  });
});

describe('drift Markdown (no gateway)', () => {
  it('stays within its budget and counts exactly what it left out', () => {
    const items: DriftItem[] = Array.from({ length: 400 }, (_, i) => ({ agentId: `a${i}`, resource: `Agent/a${i}`, section: 'config', path: 'spec.config.description', lastApplied: 'x'.repeat(50), live: 'y'.repeat(50) }));
    const skipped = [{ item: items[0]!, target: 'gw', why: 'ask @team about #12' }];
    const md = renderDriftMarkdown([{ report: { target: 'gw', items, liveFiles: {} } }], { maxChars: 5000, skipped });
    expect(md.length).toBeLessThanOrEqual(5000);
    const shown = md.split('\n').filter((l) => l.startsWith('| `Agent/')).length;
    const left = Number(/… and (\d+) more lines left out to fit/.exec(md)?.[1]);
    expect(shown).toBeGreaterThan(10);
    expect(shown + left).toBe(401);
    const small = renderDriftMarkdown([{ report: { target: 'gw', items: items.slice(0, 2), liveFiles: {} } }], { skipped });
    expect(small).toContain('### Not adopted');
    // A mention or issue number in a reason neither pings nor links.
    expect(small).toContain('ask @&#8203;team about #&#8203;12');
    expect(small).not.toContain('left out');
  });
});
