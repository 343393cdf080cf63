/**
 * The policy engine without a gateway: matching (globs over resource paths, object values, secrets,
 * schemas, labels, actions), verdict combination, exceptions at their exact expiry, the approval
 * gate, malformed rules as located validation errors, state rules in `validate`, and the
 * `policy test` / `policy explain` commands, including the built-in packs' own tests.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadRepo } from '../reconciler/load/load-repo.ts';
import type { ResourceOf } from '../reconciler/model/kinds.ts';
import { policyNotes } from '../reconciler/plan/make-plan.ts';
import { approvalsFor, gate, missingApprovals } from '../reconciler/policy/approvals.ts';
import { activeExceptions, expiringSoon } from '../reconciler/policy/exceptions.ts';
import { compileRuleSet } from '../reconciler/policy/rule-set.ts';
import { PolicyEngine, type PolicyChange } from '../reconciler/policy/verdict.ts';
import { clawops, ROOT } from './helpers/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'clawops-policy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const policyDoc = (rules: string, name = 'p') => parseYaml(`apiVersion: clawops.dev/v1\nkind: Policy\nmetadata: { name: ${name} }\nspec:\n  rules:\n${rules}`) as ResourceOf<'Policy'>;
const engineFor = (rules: string, exceptions: Array<{ name: string; value: ResourceOf<'PolicyException'> }> = [], now = new Date('2026-06-01T00:00:00Z')) => {
  const { set, diagnostics } = compileRuleSet([{ name: 'p', file: 'p.yaml', value: policyDoc(rules) }]);
  expect(diagnostics).toEqual([]);
  return new PolicyEngine(set, activeExceptions(exceptions, now));
};
const agent = (config: object, labels: Record<string, string> = {}) => ({ apiVersion: 'clawops.dev/v1', kind: 'Agent', metadata: { name: 'a', labels }, spec: { gateway: 'g', config } });
const change = (c: Partial<PolicyChange> & Pick<PolicyChange, 'path'>): PolicyChange => ({ kind: 'Agent', action: 'update', ...c });
const rules = (e: PolicyEngine, c: PolicyChange) => e.judge(c).verdict.rules.map((r) => r.rule);

describe('matching', () => {
  const e = engineFor(`
    - { id: tools, match: { kinds: [Agent], paths: ["spec.config.tools.**"] }, risk: high, effect: allow, message: m }
    - { id: one-cron, match: { paths: ["spec.cron.*"] }, risk: medium, effect: allow, message: m }
    - { id: soul, match: { paths: ["spec.files[SOUL.md]"] }, risk: low, effect: allow, message: m }
    - { id: secret, match: { paths: ["**.secretRef"] }, risk: critical, effect: require-approval, approvals: { count: 1 }, message: m }
    - { id: prod-delete, match: { labels: { tier: prod }, actions: [delete] }, risk: high, effect: deny, message: no deleting prod }
    - id: off
      match: { paths: ["spec.config.sandbox.mode"], schema: { properties: { spec: { properties: { config: { properties: { sandbox: { properties: { mode: { const: "off" } } } } } } } } } }
      risk: critical
      effect: deny
      message: stay sandboxed
`);

  it('`**` matches zero or more segments; `*` exactly one; bracketed keys are one segment', () => {
    expect(rules(e, change({ path: 'spec.config.tools' }))).toEqual(['p/tools']);
    expect(rules(e, change({ path: 'spec.config.tools.exec.security' }))).toEqual(['p/tools']);
    expect(rules(e, change({ path: 'spec.config.toolsx' }))).toEqual([]);
    expect(rules(e, change({ path: 'spec.cron[nightly]' }))).toEqual(['p/one-cron']);
    expect(rules(e, change({ path: 'spec.cron[nightly.v2]' })), 'a dot inside brackets stays in its segment').toEqual(['p/one-cron']);
    expect(rules(e, change({ path: 'spec.files[SOUL.md]' }))).toEqual(['p/soul']);
    expect(rules(e, change({ path: 'spec.files[AGENTS.md]' }))).toEqual([]);
  });

  it('a change whose value is an object matches paths inside it (creating an agent with its tools)', () => {
    expect(rules(e, change({ path: 'spec.config', action: 'create', after: { name: 'x', tools: { profile: 'full' } } }))).toEqual(['p/tools']);
    expect(rules(e, change({ path: 'spec.config', action: 'create', after: { name: 'x' } }))).toEqual([]);
  });

  it('a secret change also matches `.secretRef` globs; kind, labels, actions and schema all must hold', () => {
    expect(rules(e, change({ path: 'spec.config.tools.web.apiKey', secret: true }))).toEqual(['p/tools', 'p/secret']);
    expect(rules(e, change({ path: 'spec.config.tools.web.apiKey' }))).toEqual(['p/tools']);
    expect(rules(e, change({ kind: 'Budget', path: 'spec.config.tools.x' }))).toEqual([]);
    expect(rules(e, change({ path: 'spec', action: 'delete', labels: { tier: 'prod' } }))).toEqual(['p/prod-delete']);
    expect(rules(e, change({ path: 'spec', action: 'update', labels: { tier: 'prod' } }))).toEqual([]);
    expect(rules(e, change({ path: 'spec', action: 'delete', labels: { tier: 'dev' } }))).toEqual([]);
    const off = agent({ sandbox: { mode: 'off' } });
    const on = agent({ sandbox: { mode: 'all' } });
    expect(rules(e, change({ path: 'spec.config.sandbox.mode', resource: off, after: 'off' }))).toEqual(['p/off']);
    expect(rules(e, change({ path: 'spec.config.sandbox.mode', resource: on, after: 'all' }))).toEqual([]);
  });

  it('the strongest effect and highest risk win; every gating rule keeps its own requirement', () => {
    const two = engineFor(`
    - { id: a, match: { paths: ["spec.**"] }, risk: medium, effect: require-approval, approvals: { count: 1, teams: [security] }, message: m1 }
    - { id: b, match: { paths: ["spec.config.**"] }, risk: high, effect: require-approval, approvals: { count: 2, users: [alice, bob] }, message: m2 }
    - { id: c, match: { paths: ["spec.config.x"] }, risk: low, effect: deny, message: m3 }
`);
    const j = two.judge(change({ path: 'spec.config.y' }));
    expect([j.verdict.effect, j.risk]).toEqual(['require-approval', 'high']);
    expect(j.verdict.approvals).toEqual([
      { rule: 'p/a', count: 1, teams: ['security'] },
      { rule: 'p/b', count: 2, users: ['alice', 'bob'] },
    ]);
    const d = two.judge(change({ path: 'spec.config.x' }));
    expect([d.verdict.effect, d.risk, d.verdict.rules.map((r) => r.rule)]).toEqual(['deny', 'high', ['p/a', 'p/b', 'p/c']]);
    expect(two.judge(change({ path: 'metadata.name' })).verdict).toEqual({ effect: 'allow', rules: [], approvals: [] });
  });
});

describe('exceptions', () => {
  const exception = (expiresAt: string) => ({
    name: 'waiver',
    value: {
      apiVersion: 'clawops.dev/v1',
      kind: 'PolicyException',
      metadata: { name: 'waiver' },
      spec: { rule: 'p/deny-full', scope: { matchLabels: { team: 'platform' } }, owner: '@acme/platform', reason: 'incident tooling', expiresAt },
    } as ResourceOf<'PolicyException'>,
  });
  const rule = `    - { id: deny-full, match: { paths: ["spec.config.tools.profile"] }, risk: high, effect: deny, message: no full }\n`;
  const at = (now: string, expiresAt = '2026-06-01T12:00:00Z') => engineFor(rule, [exception(expiresAt)], new Date(now)).judge(change({ path: 'spec.config.tools.profile', labels: { team: 'platform' } })).verdict;

  it('applies up to and including expiresAt, never a millisecond after', () => {
    expect(at('2026-06-01T11:59:59.999Z').effect).toBe('allow');
    expect(at('2026-06-01T12:00:00.000Z').effect).toBe('allow');
    expect(at('2026-06-01T12:00:00.001Z').effect).toBe('deny');
    expect(at('2026-06-01T12:00:00.000Z').waived).toEqual([{ rule: 'p/deny-full', exception: 'waiver', owner: '@acme/platform', expiresAt: '2026-06-01T12:00:00Z' }]);
  });

  it('only covers what its scope selects', () => {
    const v = engineFor(rule, [exception('2030-01-01T00:00:00Z')]).judge(change({ path: 'spec.config.tools.profile', labels: { team: 'support' } })).verdict;
    expect(v.effect).toBe('deny');
    expect(v.waived).toBeUndefined();
  });

  it('lists exceptions that lapse within 7 days, and not expired or later ones', () => {
    const now = new Date('2026-06-01T00:00:00Z');
    const list = [exception('2026-06-08T00:00:00Z'), { ...exception('2026-06-08T00:00:01Z'), name: 'later' }, { ...exception('2026-05-31T23:59:59Z'), name: 'expired' }];
    expect(expiringSoon(list, now).map((e) => e.name)).toEqual(['waiver']);
  });
});

describe('the approval gate', () => {
  const verdict = {
    effect: 'require-approval' as const,
    rules: [],
    approvals: [
      { rule: 'p/a', count: 2, teams: ['security'] },
      { rule: 'p/b', count: 1, users: ['carol'] },
    ],
  };
  it('holds without evidence, applies with reviews meeting every requirement, and always on break-glass; deny never', () => {
    const pr = (reviewers: Array<{ login: string; groups: string[] }>) => ({ kind: 'pull-request' as const, pulls: [{ pr: 7, headSha: 'a'.repeat(40), reviewers }] });
    expect(gate(verdict, undefined)).toBe('hold');
    expect(gate(verdict, pr([{ login: 'sam', groups: ['security'] }, { login: 'carol', groups: [] }]))).toBe('hold');
    expect(missingApprovals(verdict, pr([{ login: 'sam', groups: ['security'] }]))).toEqual(['1 more approval from security on #7 (p/a)', '1 more approval from @carol on #7 (p/b)']);
    expect(gate(verdict, pr([{ login: 'sam', groups: ['security'] }, { login: 'sam', groups: ['security'] }, { login: 'carol', groups: [] }])), 'one person counts once').toBe('hold');
    expect(gate(verdict, pr([{ login: 'sam', groups: ['security'] }, { login: 'ana', groups: ['security', 'platform'] }, { login: 'carol', groups: [] }]))).toBe('apply');
    expect(gate(verdict, { kind: 'break-glass', by: 'ops', reason: 'outage' })).toBe('apply');
    expect(gate({ ...verdict, effect: 'deny' }, { kind: 'break-glass', by: 'ops', reason: 'outage' })).toBe('deny');
    expect(approvalsFor({ rule: 'p/x', count: 1 }, [{ login: 'any', groups: [] }]), 'a rule naming nobody accepts anyone').toEqual(['any']);
  });
});

/** The example fleet copied, with extra files written into the copy. */
function fleetCopy(name: string, files: Record<string, string>): string {
  const dir = join(tmp, name);
  cpSync(join(ROOT, 'examples', 'fleet'), dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    writeFileSync(join(dir, f), text);
  }
  return dir;
}

describe('policies in `clawops validate`', () => {
  it('a malformed rule (bad glob, invalid JSON Schema, unknown effect) is an error at its line, not a crash', async () => {
    const dir = fleetCopy('malformed', {
      'policies/broken.yaml': `apiVersion: clawops.dev/v1
kind: Policy
metadata: { name: broken }
spec:
  rules:
    - id: glob
      match: { paths: ["spec.config.[tools"] }
      risk: low
      effect: allow
      message: m
    - id: schema
      match: { schema: { type: objekt } }
      risk: low
      effect: allow
      message: m
`,
      'policies/typo.yaml': `apiVersion: clawops.dev/v1
kind: Policy
metadata: { name: typo }
spec:
  rules:
    - id: effect
      match: {}
      risk: low
      effect: permit
      message: m
`,
    });
    const r = await clawops(['validate', '--repo', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/policies\/broken\.yaml:7:\d+ +Policy\/broken +spec\.rules\[0\]\.match\.paths\[0\]: bad glob "spec\.config\.\[tools"/);
    expect(r.stdout).toMatch(/policies\/broken\.yaml:12:\d+ +Policy\/broken +spec\.rules\[1\]\.match\.schema: not a valid JSON Schema/);
    expect(r.stdout).toMatch(/policies\/typo\.yaml:9:\d+ +Policy\/typo +spec\.rules\[0\]\.effect: .*(allow|require-approval|deny)/);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
  });

  it('a state rule violation fails validation at the resource and field, naming the rule', async () => {
    const dir = fleetCopy('violation', {});
    const file = join(dir, 'agents', 'support', 'triage.yaml');
    const { readFileSync } = await import('node:fs');
    writeFileSync(file, readFileSync(file, 'utf8').replace('sandbox: { mode: all, scope: agent, workspaceAccess: ro }', 'sandbox: { mode: "off" }'));
    const r = await clawops(['validate', '--repo', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/agents\/support\/triage\.yaml:\d+:\d+ +Agent\/triage +spec\.config\.sandbox\.mode: Support agents must set `sandbox\.mode` to `non-main` or `all`\. \[fleet-guardrails\/support-sandboxed\]/);
  });

  it('a plan notes exceptions that expire within 7 days', async () => {
    const dir = fleetCopy('expiring', {});
    const file = join(dir, 'policies', 'fleet-guardrails.yaml');
    const { readFileSync } = await import('node:fs');
    writeFileSync(file, readFileSync(file, 'utf8').replace('expiresAt: "2099-12-31T23:59:59Z"', 'expiresAt: "2026-11-25T00:00:00Z"'));
    const now = new Date('2026-11-21T12:00:00Z');
    const repo = await loadRepo(dir, { now });
    const notes = policyNotes(repo, now);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ level: 'warning', source: { file: 'policies/fleet-guardrails.yaml' } });
    expect(notes[0]!.message).toContain('PolicyException oncall-full-tools (waives fleet-guardrails/no-full-tools, owner @acme/platform) expires 2026-11-25T00:00:00Z');
    expect(policyNotes(repo, new Date('2026-11-10T00:00:00Z'))).toEqual([]);
  });
});

describe('`clawops policy test` and `policy explain`', () => {
  it('the built-in packs pass their own table tests', async () => {
    const r = await clawops(['policy', 'test', join(ROOT, 'policies')]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^PASS: (\d+)\/\1 cases passed\n$/m);
    expect(r.code).toBe(0);
  });

  it('every rule of both packs has a case that hits it and one that misses it', async () => {
    const r = await clawops(['policy', 'test', join(ROOT, 'policies'), '--json']);
    const report = JSON.parse(r.stdout) as { results: Array<{ test: string; case: string }> };
    const { readFileSync } = await import('node:fs');
    for (const pack of ['baseline', 'strict']) {
      const doc = parseYaml(readFileSync(join(ROOT, 'policies', `${pack}.yaml`), 'utf8')) as ResourceOf<'Policy'>;
      const tests = parseYaml(readFileSync(join(ROOT, 'policies', 'tests', `${pack}.test.yaml`), 'utf8')) as ResourceOf<'PolicyTest'>;
      for (const rule of [...(doc.spec.rules ?? []), ...(doc.spec.stateRules ?? [])]) {
        const ref = `${pack}/${rule.id}`;
        const named = (c: ResourceOf<'PolicyTest'>['spec']['cases'][number]) => [...(c.expect.rules ?? []), ...(c.expect.violations ?? [])];
        const hits = tests.spec.cases.filter((c) => named(c).includes(ref));
        const misses = tests.spec.cases.filter((c) => (c.expect.rules !== undefined || c.expect.violations !== undefined) && !named(c).includes(ref));
        expect(hits.length, `${ref} has a hit case`).toBeGreaterThan(0);
        expect(misses.length, `${ref} has a miss case`).toBeGreaterThan(0);
      }
    }
    expect(report.results.length).toBeGreaterThan(50);
  });

  it('a failing case names its file, line and every expectation that did not hold; exit 1', async () => {
    const dir = join(tmp, 'failing-tests');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'mine.yaml'),
      `apiVersion: clawops.dev/v1
kind: Policy
metadata: { name: mine }
spec:
  rules:
    - { id: model, match: { paths: ["spec.config.model.**"] }, risk: high, effect: require-approval, approvals: { count: 1 }, message: m }
`,
    );
    writeFileSync(
      join(dir, 'mine.test.yaml'),
      `apiVersion: clawops.dev/v1
kind: PolicyTest
metadata: { name: mine }
spec:
  policies: [mine]
  cases:
    - name: passes
      resource: { kind: Agent, metadata: { name: a } }
      change: { path: spec.config.model.primary, before: a, after: b }
      expect: { effect: require-approval, risk: high, rules: [mine/model] }
    - name: expects the wrong thing
      resource: { kind: Agent, metadata: { name: a } }
      change: { path: spec.config.model.primary, before: a, after: b }
      expect: { effect: deny, risk: critical, rules: [mine/other] }
`,
    );
    const r = await clawops(['policy', 'test', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAIL mine.test.yaml:11  mine › expects the wrong thing');
    expect(r.stdout).toContain('effect: expected deny, got require-approval');
    expect(r.stdout).toContain('risk: expected critical, got high');
    expect(r.stdout).toContain('rules: expected [mine/other], got [mine/model]; missing mine/other; unexpected mine/model');
    expect(r.stdout).toContain('FAIL: 1/2 cases passed');
    expect(r.stdout).not.toContain('PASS mine.test.yaml');
    const missing = await clawops(['policy', 'test', join(tmp, 'nowhere')]);
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringContaining('is not a folder')]);
  });

  it('explain says which rules apply to a resource, which do not and why, and which exception waives one', async () => {
    const r = await clawops(['policy', 'explain', 'Agent/platform-oncall', '--repo', join(ROOT, 'examples', 'fleet'), '--path', 'spec.config.tools.profile', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { rules: Array<{ rule: string; applies: boolean; why: string; waivedBy?: string }> };
    const byRule = new Map(out.rules.map((x) => [x.rule, x]));
    expect(byRule.get('baseline/tool-posture')).toMatchObject({ applies: true });
    expect(byRule.get('fleet-guardrails/no-full-tools')).toMatchObject({ applies: false, waivedBy: expect.stringContaining('oncall-full-tools') });
    expect(byRule.get('baseline/model-change')).toMatchObject({ applies: false, why: expect.stringContaining('is not under spec.config.model.**') });
    expect(byRule.get('fleet-guardrails/support-routes')).toMatchObject({ applies: false, why: 'needs label team=support' });
    const unknown = await clawops(['policy', 'explain', 'Agent/platform-oncal', '--repo', join(ROOT, 'examples', 'fleet')]);
    expect([unknown.code, unknown.stderr]).toEqual([1, expect.stringContaining('did you mean Agent/platform-oncall?')]);
  });
});
