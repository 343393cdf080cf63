/**
 * The policy of one fleet repo: the built-in packs its clawops.yaml opts into plus every Policy
 * resource in the repo, compiled once; its PolicyExceptions; and what is wrong with any of them
 * (malformed rules, state-rule violations) as diagnostics for `clawops validate`.
 */
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import { ofKind, type LoadedResource } from '../load/resource.ts';
import type { SchemaRegistry } from '../load/schema-validator.ts';
import type { RepositoryConfig } from '../model/repository.ts';
import { activeExceptions, type ExceptionInput } from './exceptions.ts';
import { builtinPacks } from './packs.ts';
import { compileRuleSet, type PolicySource, type RuleSet } from './rule-set.ts';
import { checkState, violationDiagnostics } from './state-rules.ts';
import { PolicyEngine } from './verdict.ts';

export interface RepoPolicy {
  readonly rules: RuleSet;
  readonly exceptions: readonly ExceptionInput[];
  readonly now: Date;
  readonly engine: PolicyEngine;
  /** Malformed rules and state-rule violations. */
  readonly diagnostics: readonly Diagnostic[];
}

export interface RepoPolicyInput {
  readonly config: RepositoryConfig | undefined;
  readonly resources: readonly LoadedResource[];
  readonly schemas: SchemaRegistry;
  readonly now: Date;
}

export async function repoPolicy(input: RepoPolicyInput): Promise<RepoPolicy> {
  const { packs, diagnostics: packProblems } = await builtinPacks(input.schemas);
  const own = ofKind(input.resources, 'Policy');
  const ownNames = new Set(own.map((p) => p.name));
  // A repo Policy named like a pack replaces it (check-references reports unknown names).
  const enabled = (input.config?.spec.policies ?? []).filter((n) => !ownNames.has(n)).flatMap((n) => packs.get(n) ?? []);
  const sources: PolicySource[] = [...enabled, ...own.map((p) => ({ name: p.name, file: p.file, value: p.value, locator: p.locator }))];
  const { set, diagnostics } = compileRuleSet(sources);
  const exceptions = ofKind(input.resources, 'PolicyException').map((e) => ({ name: e.name, value: e.value }));
  const active = activeExceptions(exceptions, input.now);
  const stateResources = input.resources.map((r) => ({ kind: r.kind, name: r.name, value: r.value, file: r.file, locator: r.locator }));
  const violations = violationDiagnostics(checkState(set, stateResources, active), stateResources);
  return {
    rules: set,
    exceptions,
    now: input.now,
    engine: new PolicyEngine(set, active),
    diagnostics: [...(enabled.length ? packProblems : []), ...diagnostics, ...violations],
  };
}
