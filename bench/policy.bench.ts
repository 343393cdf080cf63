/**
 * The policy engine's throughput: 20,000 planned changes (500 agents × 40, across config leaves,
 * whole-agent creations, secrets, routes, cron jobs and exec allowlists) judged against 100 rules
 * (both built-in packs plus synthetic rules with globs, labels and JSON Schemas). Compiling the
 * rules is timed on its own; judging is the median of five runs over every change, each on fresh
 * resource objects so no schema result carries over. Target: all 20,000 in ≤ 1 s.
 */
import { performance } from 'node:perf_hooks';
import { SchemaRegistry } from '../reconciler/load/schema-validator.ts';
import type { ResourceOf } from '../reconciler/model/kinds.ts';
import { activeExceptions } from '../reconciler/policy/exceptions.ts';
import { builtinPacks } from '../reconciler/policy/packs.ts';
import { compileRuleSet, type PolicySource } from '../reconciler/policy/rule-set.ts';
import { PolicyEngine, type PolicyChange } from '../reconciler/policy/verdict.ts';
import { formatTable, type BenchResult } from './report.ts';
import { median } from './stats.ts';

export const RULES = 100;
export const AGENTS = 500;
export const PER_AGENT = 40;
export const RUNS = 5;
export const TARGET_MS = 1_000;

const AREAS = ['tools', 'model', 'sandbox', 'skills', 'identity', 'groupChat', 'subagents', 'params'] as const;

function syntheticPolicy(count: number): ResourceOf<'Policy'> {
  const rules = Array.from({ length: count }, (_, i) => {
    const area = AREAS[i % AREAS.length]!;
    return {
      id: `synthetic-${i}`,
      match: {
        kinds: i % 5 === 0 ? ['Agent', 'ApprovalRule'] : ['Agent'],
        ...(i % 3 === 0 ? { labels: { team: `team-${i % 7}` } } : {}),
        paths: i % 2 === 0 ? [`spec.config.${area}.**`, `spec.cron.*`] : [`spec.config.${area}.setting${i % 9}`, `spec.{bindings,files}.*`],
        ...(i % 4 === 0 ? { schema: { properties: { metadata: { properties: { labels: { properties: { tier: { const: i % 8 === 0 ? 'prod' : 'dev' } } } } } } } } : {}),
      },
      risk: (['low', 'medium', 'high', 'critical'] as const)[i % 4]!,
      effect: (['allow', 'require-approval', 'deny'] as const)[i % 3]!,
      ...(i % 3 === 1 ? { approvals: { count: 1 + (i % 2), teams: ['security'] } } : {}),
      message: `synthetic rule ${i}`,
    };
  });
  return { apiVersion: 'clawops.dev/v1', kind: 'Policy', metadata: { name: 'synthetic' }, spec: { rules } };
}

function changesFor(): PolicyChange[] {
  const out: PolicyChange[] = [];
  for (let a = 0; a < AGENTS; a++) {
    const labels = { team: `team-${a % 7}`, tier: a % 2 ? 'prod' : 'dev' };
    const resource = { apiVersion: 'clawops.dev/v1', kind: 'Agent', metadata: { name: `agent-${a}`, labels }, spec: { config: { sandbox: { mode: a % 10 ? 'all' : 'off' }, tools: { profile: 'coding' } } } };
    for (let j = 0; j < PER_AGENT; j++) {
      const area = AREAS[j % AREAS.length]!;
      const base = { kind: 'Agent', labels, resource } as const;
      if (j === 0) out.push({ ...base, path: 'spec.config', action: 'create', after: { name: `agent ${a}`, model: { primary: 'anthropic/claude-sonnet-4-6' }, tools: { profile: 'coding', deny: ['exec'] }, sandbox: { mode: 'all' } } });
      else if (j % 10 === 1) out.push({ ...base, path: `spec.cron[job-${j}]`, action: 'update', before: { schedule: { expr: '0 7 * * 1' } }, after: { schedule: { expr: '0 6 * * 1' } } });
      else if (j % 10 === 2) out.push({ ...base, path: `spec.bindings[slack/account:bot-${j}]`, action: 'create', after: { match: { channel: 'slack' } } });
      else if (j % 10 === 3) out.push({ ...base, path: `spec.config.${area}.apiKey`, action: 'update', before: 'hmac:aa', after: 'hmac:bb', secret: true });
      else if (j % 10 === 4) out.push({ kind: 'ApprovalRule', labels, resource, path: `spec.exec.allowlist[/usr/bin/tool-${j}]`, action: 'create', after: { pattern: `/usr/bin/tool-${j}` } });
      else out.push({ ...base, path: `spec.config.${area}.setting${j % 9}`, action: 'update', before: j, after: j + 1 });
    }
  }
  return out;
}

/** Every change with its own copy of its resource, so schema results are computed, not recalled. */
const fresh = (changes: readonly PolicyChange[]): PolicyChange[] => {
  const copies = new Map<object, object>();
  return changes.map((c) => {
    if (!c.resource) return c;
    let r = copies.get(c.resource);
    if (!r) copies.set(c.resource, (r = structuredClone(c.resource)));
    return { ...c, resource: r };
  });
};

export async function run(): Promise<BenchResult> {
  const { packs } = await builtinPacks(new SchemaRegistry());
  const sources: PolicySource[] = [...packs.values()];
  const packRules = sources.reduce((n, s) => n + (s.value.spec.rules?.length ?? 0), 0);
  sources.push({ name: 'synthetic', file: 'synthetic.yaml', value: syntheticPolicy(RULES - packRules) });

  const t0 = performance.now();
  const { set, diagnostics } = compileRuleSet(sources);
  const compileMs = performance.now() - t0;
  if (diagnostics.length) throw new Error(`the bench's rules do not compile: ${diagnostics[0]!.message}`);
  if (set.changeRules.length !== RULES) throw new Error(`expected ${RULES} change rules, got ${set.changeRules.length}`);

  const changes = changesFor();
  const engine = () => new PolicyEngine(set, activeExceptions([], new Date()));
  let gated = 0;
  const times: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    const input = fresh(changes);
    const e = engine();
    const start = performance.now();
    let g = 0;
    for (const c of input) if (e.judge(c).verdict.effect !== 'allow') g++;
    const ms = performance.now() - start;
    if (i > 0) times.push(ms);
    gated = g;
  }
  const ms = median(times);
  const result: BenchResult = {
    name: `policy: ${changes.length.toLocaleString('en-US')} changes judged against ${RULES} rules (${packRules} from the built-in packs), median of ${RUNS} after 1 warm-up`,
    metrics: [
      { label: 'median wall time', value: Math.round(ms), unit: 'ms', max: TARGET_MS },
      { label: 'changes per second', value: Math.round(changes.length / (ms / 1000)), unit: 'changes/s' },
      { label: 'fastest run', value: Math.round(Math.min(...times)), unit: 'ms' },
      { label: 'compiling the rules', value: Math.round(compileMs), unit: 'ms' },
      { label: 'changes gated (approval or deny)', value: gated, unit: 'changes' },
    ],
  };
  console.log(formatTable(result));
  return result;
}
