/**
 * `clawops policy explain KIND/NAME [--path P]`: for one resource of the repo, every rule of its
 * policy and why it does or does not apply: the kind, the labels, the changed path (with --path),
 * the rule's JSON Schema against the resource as it is now, and any exception that waives it.
 */
import type { LoadedResource } from '../load/resource.ts';
import type { Effect, Risk } from '../model/common.ts';
import type { RepoPolicy } from './repo-policy.ts';
import { checkState } from './state-rules.ts';
import { candidatePaths } from './verdict.ts';
import { activeExceptions } from './exceptions.ts';
import { targetMiss } from './rule-set.ts';

export interface RuleExplanation {
  readonly rule: string;
  readonly kind: 'change' | 'state';
  readonly applies: boolean;
  /** Why it applies (what matched) or the first reason it does not. */
  readonly why: string;
  readonly effect?: Effect;
  readonly risk?: Risk;
  readonly message: string;
  readonly origin: string;
  readonly waivedBy?: string;
}

export function explainResource(policy: RepoPolicy, resources: readonly LoadedResource[], r: LoadedResource, path: string | undefined): RuleExplanation[] {
  const labels = r.value.metadata.labels;
  const exceptions = activeExceptions(policy.exceptions, policy.now);
  const out: RuleExplanation[] = [];
  const subjects = path ? candidatePaths({ path }) : undefined;
  for (const rule of policy.rules.changeRules) {
    const base = { rule: rule.ref, kind: 'change' as const, effect: rule.effect, risk: rule.risk, message: rule.message, origin: `${rule.origin.file}${rule.origin.line ? `:${rule.origin.line}` : ''}` };
    const not = (why: string) => out.push({ ...base, applies: false, why });
    const miss = targetMiss(rule, r.kind, labels);
    if (miss) {
      not(miss);
      continue;
    }
    if (subjects && rule.paths && !rule.paths.some((re) => subjects.some((s) => re.test(s)))) {
      not(`${path} is not under ${rule.globs.join(', ')}`);
      continue;
    }
    if (rule.schema && rule.schema(r.value) !== true) {
      const e = rule.schema.errors?.[0];
      not(`its schema does not match the resource as it is (${e ? `${e.instancePath || '/'} ${e.message ?? ''}`.trim() : 'no match'})`);
      continue;
    }
    const when = rule.paths ? (path ? `${path} is under ${rule.globs.join(', ')}` : `when ${rule.globs.join(', ')} change`) : 'on any change';
    const waiver = exceptions.waiver(rule.ref, labels);
    out.push({ ...base, applies: !waiver, why: when + (rule.schema ? ', and its schema matches' : ''), ...(waiver ? { waivedBy: `${waiver.exception} (owner ${waiver.owner}, until ${waiver.expiresAt})` } : {}) });
  }
  const me = [{ kind: r.kind, name: r.name, value: r.value }];
  for (const rule of policy.rules.stateRules) {
    const base = { rule: rule.ref, kind: 'state' as const, message: rule.message, origin: `${rule.origin.file}${rule.origin.line ? `:${rule.origin.line}` : ''}` };
    const miss = targetMiss(rule, r.kind, labels);
    if (miss) {
      out.push({ ...base, applies: false, why: miss });
      continue;
    }
    const single = { ...policy.rules, stateRules: [rule] };
    // selectedBy looks at the whole repo; `require` at the resource alone.
    const violations = checkState(single, rule.selectedBy.length ? [...me, ...resources.filter((o) => o !== r).map((o) => ({ kind: o.kind, name: o.name, value: o.value }))] : me, exceptions).filter((v) => v.resource === `${r.kind}/${r.name}`);
    const waiver = exceptions.waiver(rule.ref, labels);
    out.push({ ...base, applies: true, why: violations.length ? `violated: ${violations.map((v) => v.detail).join('; ')}` : waiver ? 'waived' : 'holds', ...(waiver ? { waivedBy: waiver.exception } : {}) });
  }
  return out;
}
