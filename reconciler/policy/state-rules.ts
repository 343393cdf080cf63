/**
 * State rules: conformance of the whole desired state ("every prod agent has a budget", "no
 * elevated exec without a sandbox"). Each violation names the resource, the rule and, through the
 * resource's YAML locator, the line of the field that fails; `clawops validate` reports them.
 */
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import { fieldPath } from '../diagnostics/diagnostic.ts';
import type { PathSegment, SourceLocator } from '../load/source-map.ts';
import type { Labels, Selector } from '../model/common.ts';
import { matchesSelector } from '../model/selector.ts';
import type { ActiveExceptions } from './exceptions.ts';
import { targetMiss, type RuleSet, type StateRule } from './rule-set.ts';

/** A resource as state rules see it; file and locator when it came from YAML. */
export interface StateResource {
  readonly kind: string;
  readonly name: string;
  readonly value: { readonly metadata?: { readonly labels?: Labels } } & object;
  readonly file?: string;
  readonly locator?: SourceLocator;
}

export interface Violation {
  readonly rule: string;
  readonly resource: string;
  readonly message: string;
  /** Why, in the resource's terms: the failing field or the missing selector. */
  readonly detail: string;
  readonly path: readonly PathSegment[];
}

const pointerToPath = (pointer: string): PathSegment[] =>
  pointer ? pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).map((s) => (/^\d+$/.test(s) ? Number(s) : s)) : [];

const get = (v: unknown, path: readonly string[]): unknown => path.reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), v);

const applies = (rule: StateRule, r: StateResource): boolean =>
  targetMiss(rule, r.kind, r.value.metadata?.labels) === undefined && (!rule.schema || rule.schema(r.value) === true);

export function checkState(rules: RuleSet, resources: readonly StateResource[], exceptions: ActiveExceptions): Violation[] {
  const out: Violation[] = [];
  for (const rule of rules.stateRules) {
    for (const r of resources) {
      if (!applies(rule, r)) continue;
      if (exceptions.waiver(rule.ref, r.value.metadata?.labels)) continue;
      const id = `${r.kind}/${r.name}`;
      if (rule.require && rule.require(r.value) !== true) {
        const first = rule.require.errors?.[0];
        const path = first ? pointerToPath(first.instancePath) : [];
        const missing = first?.keyword === 'required' ? ` (missing \`${String((first.params as { missingProperty?: string }).missingProperty)}\`)` : '';
        out.push({ rule: rule.ref, resource: id, message: rule.message, detail: `${fieldPath(path) || 'the resource'} ${first?.message ?? 'does not match'}${missing}`, path });
      }
      for (const need of rule.selectedBy) {
        const selected = resources.some((o) => o.kind === need.kind && matchesSelector((get(o.value, need.selector) ?? {}) as Selector, r.value.metadata?.labels) && get(o.value, need.selector) !== undefined);
        if (!selected) out.push({ rule: rule.ref, resource: id, message: rule.message, detail: `no ${need.kind} selects it through ${need.selector.join('.')}`, path: ['metadata', 'labels'] });
      }
    }
  }
  return out;
}

export function violationDiagnostics(violations: readonly Violation[], resources: readonly StateResource[]): Diagnostic[] {
  const byId = new Map(resources.map((r) => [`${r.kind}/${r.name}`, r]));
  return violations.map((v) => {
    const r = byId.get(v.resource);
    const at = r?.locator?.locate(v.path);
    return {
      severity: 'error',
      code: 'policy-violation',
      file: r?.file ?? '',
      ...(at ?? {}),
      resource: v.resource,
      ...(v.path.length ? { field: fieldPath(v.path) } : {}),
      message: `${v.message} [${v.rule}]: ${v.detail}`,
      hint: `fix the resource, or waive the rule with a PolicyException (rule: ${v.rule})`,
    };
  });
}
