/**
 * `clawops policy test [DIR]`: table tests of policies, like `opa test` or `kyverno test`. Every
 * YAML file under DIR is read; its Policy documents are the policies under test (a test names
 * them, or a built-in pack), its PolicyTest documents the cases. A case puts a resource and a
 * change (or a whole desired state) through the same engine `plan` and `validate` use and compares
 * the verdict with what it expects, field by field.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import { DEFAULT_LIMITS } from '../load/limits.ts';
import { parseYamlFile } from '../load/parse-yaml-file.ts';
import type { SchemaRegistry } from '../load/schema-validator.ts';
import type { SourceLocator } from '../load/source-map.ts';
import type { Labels } from '../model/common.ts';
import { PolicyTest, type ResourceOf } from '../model/kinds.ts';
import { activeExceptions } from './exceptions.ts';
import { builtinPacks, policyFromDocument, type PolicyPack } from './packs.ts';
import { compileRuleSet, type RuleSet } from './rule-set.ts';
import { checkState, type StateResource } from './state-rules.ts';
import { combine, PolicyEngine, type Judged } from './verdict.ts';

type TestSpec = ResourceOf<'PolicyTest'>['spec'];
type TestCase = TestSpec['cases'][number];
type TestDoc = NonNullable<TestCase['resource']>;

export interface CaseResult {
  readonly file: string;
  readonly line: number;
  readonly test: string;
  readonly case: string;
  readonly passed: boolean;
  /** One line per expectation that did not hold: `effect: expected deny, got allow`. */
  readonly failures: readonly string[];
}

export interface PolicyTestReport {
  readonly results: readonly CaseResult[];
  readonly diagnostics: readonly Diagnostic[];
}

async function yamlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

interface LoadedTest {
  readonly file: string;
  readonly name: string;
  readonly spec: TestSpec;
  readonly locator: SourceLocator;
}

export async function runPolicyTests(dir: string, schemas: SchemaRegistry, clock: () => Date): Promise<PolicyTestReport> {
  const diagnostics: Diagnostic[] = [];
  const local = new Map<string, PolicyPack>();
  const tests: LoadedTest[] = [];
  // One read of every YAML file under DIR: its Policies (pack files at the top, a repo's in any
  // folder) are what tests name first; its PolicyTests are the cases.
  for (const abs of await yamlFiles(dir)) {
    const file = relative(dir, abs).split(sep).join('/');
    const parsed = parseYamlFile(file, await readFile(abs), DEFAULT_LIMITS);
    diagnostics.push(...parsed.diagnostics.filter((d) => d.code !== 'empty-file'));
    for (const doc of parsed.documents) {
      const policy = policyFromDocument(file, doc, schemas, diagnostics);
      if (policy) local.set(policy.name, policy);
      const v = doc.value as { kind?: unknown; metadata?: { name?: unknown } } | null;
      if (v?.kind !== 'PolicyTest') continue;
      const problems = schemas.check(PolicyTest, v, { file, resource: `PolicyTest/${String(v.metadata?.name)}`, locator: doc.locator });
      diagnostics.push(...problems);
      if (problems.length === 0) {
        const t = v as ResourceOf<'PolicyTest'>;
        tests.push({ file, name: t.metadata.name, spec: t.spec, locator: doc.locator });
      }
    }
  }
  const { packs } = await builtinPacks(schemas);

  const results: CaseResult[] = [];
  const compiled = new Map<string, RuleSet | undefined>();
  for (const t of tests) {
    const key = t.spec.policies.join('\0');
    if (!compiled.has(key)) {
      const sources = t.spec.policies.map((n) => local.get(n) ?? packs.get(n));
      const missing = t.spec.policies.filter((_, i) => !sources[i]);
      if (missing.length) {
        diagnostics.push({
          severity: 'error',
          code: 'dangling-reference',
          file: t.file,
          ...t.locator.locate(['spec', 'policies']),
          resource: `PolicyTest/${t.name}`,
          field: 'spec.policies',
          message: `no Policy named ${missing.map((m) => `"${m}"`).join(', ')} under ${dir} or among the built-in packs`,
          hint: `built-in packs: ${[...packs.keys()].join(', ')}`,
        });
        compiled.set(key, undefined);
      } else {
        const { set, diagnostics: problems } = compileRuleSet(sources as PolicyPack[]);
        diagnostics.push(...problems);
        compiled.set(key, set);
      }
    }
    const rules = compiled.get(key);
    if (!rules) continue;
    const now = t.spec.now ? new Date(t.spec.now) : clock();
    const exceptions = activeExceptions((t.spec.exceptions ?? []).map((e) => ({ name: e.metadata.name, value: e })), now);
    const engine = new PolicyEngine(rules, exceptions);
    t.spec.cases.forEach((c, i) => {
      let failures: string[];
      try {
        failures = c.state ? stateFailures(c, [...(t.spec.resources ?? []), ...c.state], rules, exceptions) : changeFailures(c, engine);
      } catch (e) {
        failures = [`the case cannot run: ${(e as Error).message}`];
      }
      results.push({ file: t.file, line: t.locator.locate(['spec', 'cases', i]).line, test: t.name, case: c.name, passed: failures.length === 0, failures });
    });
  }
  return { results, diagnostics };
}

const labelsOf = (d: TestDoc): Labels | undefined => d.metadata.labels as Labels | undefined;

function setDiff(field: string, expected: readonly string[], actual: readonly string[]): string[] {
  const missing = expected.filter((x) => !actual.includes(x));
  const extra = actual.filter((x) => !expected.includes(x));
  if (!missing.length && !extra.length) return [];
  return [`${field}: expected [${expected.join(', ')}], got [${actual.join(', ')}]${missing.length ? `; missing ${missing.join(', ')}` : ''}${extra.length ? `; unexpected ${extra.join(', ')}` : ''}`];
}

function changeFailures(c: TestCase, engine: PolicyEngine): string[] {
  if (!c.resource) return ['the case has neither `resource` (a change case) nor `state` (a state case)'];
  const doc = c.resource;
  const changes = c.changes ?? (c.change ? [c.change] : [{ path: 'spec', action: 'create' as const, after: doc.spec ?? {} }]);
  const judged: Judged = combine(
    changes.map((ch) =>
      engine.judge({
        kind: doc.kind,
        labels: labelsOf(doc),
        resource: doc,
        path: ch.path,
        action: ch.action ?? 'update',
        before: ch.before,
        after: ch.after,
        secret: ch.secret,
      }),
    ),
  );
  const e = c.expect;
  const out: string[] = [];
  if (e.effect !== undefined && e.effect !== judged.verdict.effect) out.push(`effect: expected ${e.effect}, got ${judged.verdict.effect}`);
  if (e.risk !== undefined && e.risk !== judged.risk) out.push(`risk: expected ${e.risk}, got ${judged.risk}`);
  if (e.rules) out.push(...setDiff('rules', e.rules, judged.verdict.rules.map((r) => r.rule)));
  if (e.approvals) {
    const show = (a: { rule: string; count: number; teams?: readonly string[] | undefined; users?: readonly string[] | undefined }) =>
      `${a.rule}×${a.count}${a.teams?.length ? ` teams ${[...a.teams].sort().join('|')}` : ''}${a.users?.length ? ` users ${[...a.users].sort().join('|')}` : ''}`;
    out.push(...setDiff('approvals', e.approvals.map(show), judged.verdict.approvals.map(show)));
  }
  if (e.violations) out.push('violations: only state cases (`state:`) have violations');
  return out;
}

function stateFailures(c: TestCase, docs: readonly TestDoc[], rules: RuleSet, exceptions: ReturnType<typeof activeExceptions>): string[] {
  const resources: StateResource[] = docs.map((d) => ({ kind: d.kind, name: d.metadata.name, value: d as StateResource['value'] }));
  const violations = checkState(rules, resources, exceptions);
  const got = [...new Set(violations.map((v) => v.rule))];
  const out = setDiff('violations', c.expect.violations ?? [], got);
  if (out.length) out.push(...violations.map((v) => `  ${v.resource}: ${v.rule}: ${v.detail}`));
  if (c.expect.effect || c.expect.risk || c.expect.rules || c.expect.approvals) out.push('a state case expects `violations`, not a verdict');
  return out;
}
