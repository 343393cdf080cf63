/**
 * The verdict on one change: every rule that matches it, the strongest effect among them
 * (deny > require-approval > allow), the highest risk, and each approval requirement on its own
 * (a change matched by two gating rules needs both satisfied). A change no rule matches is allowed
 * at low risk. Rules waived by an active exception are listed as waived, not applied.
 */
import Type, { type Static } from 'typebox';
import { EFFECTS, RISKS, type Effect, type Labels, type Risk } from '../model/common.ts';
import { parseResourcePath } from '../plan/resource-path.ts';
import type { ActiveExceptions } from './exceptions.ts';
import { globSubject, type ChangeRule, type RuleSet } from './rule-set.ts';

export const ApprovalRequirementSchema = Type.Object(
  {
    rule: Type.String({ description: 'The rule asking for it (`policy/id`).' }),
    count: Type.Integer({ minimum: 1, description: 'Distinct approving reviewers needed.' }),
    teams: Type.Optional(Type.Array(Type.String(), { description: 'Approver groups (clawops.yaml `approvers`) a reviewer must belong to; any one counts.' })),
    users: Type.Optional(Type.Array(Type.String(), { description: 'GitHub logins that count as approvers.' })),
  },
  { additionalProperties: false },
);

export const MatchedRuleSchema = Type.Object(
  {
    rule: Type.String({ description: '`policy/id`.' }),
    effect: Type.Enum([...EFFECTS]),
    risk: Type.Enum([...RISKS]),
    message: Type.String(),
  },
  { additionalProperties: false },
);

export const VerdictSchema = Type.Object(
  {
    effect: Type.Enum([...EFFECTS], { description: 'The strongest effect among the matched rules; allow when none matched.' }),
    /** Every rule that matched, in policy order (waived ones excluded). */
    rules: Type.Array(MatchedRuleSchema),
    /** Each matched require-approval rule's requirement; all must be satisfied. */
    approvals: Type.Array(ApprovalRequirementSchema),
    waived: Type.Optional(
      Type.Array(
        Type.Object(
          { rule: Type.String(), exception: Type.String(), owner: Type.String(), expiresAt: Type.String() },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { additionalProperties: false, description: 'What policy says about the change.' },
);
export type Verdict = Static<typeof VerdictSchema>;

/** What the engine needs to know about a change. */
export interface PolicyChange {
  readonly kind: string;
  readonly labels?: Labels | undefined;
  /** The resource as it results from the change (as it was, for a deletion); schemas look at it. */
  readonly resource?: object | undefined;
  /** Path inside the resource (resource-path.ts notation). */
  readonly path: string;
  readonly action: 'create' | 'update' | 'delete';
  readonly before?: unknown;
  readonly after?: unknown;
  readonly secret?: boolean | undefined;
}

export interface Judged {
  readonly risk: Risk;
  readonly verdict: Verdict;
}

const EFFECT_RANK: Record<Effect, number> = { allow: 0, 'require-approval': 1, deny: 2 };
const RISK_RANK: Record<Risk, number> = { low: 0, medium: 1, high: 2, critical: 3 };
export const strongerEffect = (a: Effect, b: Effect): Effect => (EFFECT_RANK[b] > EFFECT_RANK[a] ? b : a);
export const higherRisk = (a: Risk, b: Risk): Risk => (RISK_RANK[b] > RISK_RANK[a] ? b : a);

/** The change's own path and, for a value that is a mapping or a list, every path inside it. */
export function candidatePaths(change: Pick<PolicyChange, 'path' | 'before' | 'after' | 'secret'>): string[] {
  const base = parseResourcePath(change.path);
  const out = new Set<string>([globSubject(base)]);
  const walk = (v: unknown, at: string[]) => {
    if (v === null || typeof v !== 'object') return;
    for (const [k, child] of Object.entries(v)) {
      const p = [...at, k];
      out.add(globSubject(p));
      walk(child, p);
    }
  };
  walk(change.before, base);
  walk(change.after, base);
  if (change.secret) out.add(globSubject([...base, 'secretRef']));
  return [...out];
}

export class PolicyEngine {
  readonly rules: RuleSet;
  private readonly exceptions: ActiveExceptions;
  /** One schema check per rule and resource object, however many changes that resource has. */
  private readonly schemaResults = new WeakMap<object, Map<ChangeRule, boolean>>();

  constructor(rules: RuleSet, exceptions: ActiveExceptions) {
    this.rules = rules;
    this.exceptions = exceptions;
  }

  /** The rules that match the change, before exceptions. */
  matching(change: PolicyChange): ChangeRule[] {
    let paths: string[] | undefined;
    const out: ChangeRule[] = [];
    for (const rule of this.rules.rulesFor(change.kind)) {
      if (rule.actions && !rule.actions.has(change.action)) continue;
      if (!rule.labels.every(([k, v]) => change.labels?.[k] === v)) continue;
      if (rule.paths) {
        paths ??= candidatePaths(change);
        if (!rule.paths.some((re) => paths!.some((p) => re.test(p)))) continue;
      }
      if (rule.schema && !this.schemaHolds(rule, change.resource)) continue;
      out.push(rule);
    }
    return out;
  }

  judge(change: PolicyChange): Judged {
    let effect: Effect = 'allow';
    let risk: Risk = 'low';
    const verdict: Verdict = { effect, rules: [], approvals: [] };
    for (const rule of this.matching(change)) {
      const waiver = this.exceptions.waiver(rule.ref, change.labels);
      if (waiver) {
        (verdict.waived ??= []).push(waiver);
        continue;
      }
      effect = strongerEffect(effect, rule.effect);
      risk = higherRisk(risk, rule.risk);
      verdict.rules.push({ rule: rule.ref, effect: rule.effect, risk: rule.risk, message: rule.message });
      if (rule.effect === 'require-approval' && rule.approvals) verdict.approvals.push(rule.approvals as Verdict['approvals'][number]);
    }
    verdict.effect = effect;
    return { risk, verdict };
  }

  private schemaHolds(rule: ChangeRule, resource: object | undefined): boolean {
    if (!resource) return false;
    let results = this.schemaResults.get(resource);
    if (!results) this.schemaResults.set(resource, (results = new Map()));
    let ok = results.get(rule);
    if (ok === undefined) results.set(rule, (ok = rule.schema!(resource) === true));
    return ok;
  }
}

/** Several changes judged as one (a test case's `changes`, an agent's change set). */
export function combine(judged: readonly Judged[]): Judged {
  let risk: Risk = 'low';
  const verdict: Verdict = { effect: 'allow', rules: [], approvals: [] };
  for (const j of judged) {
    risk = higherRisk(risk, j.risk);
    verdict.effect = strongerEffect(verdict.effect, j.verdict.effect);
    for (const r of j.verdict.rules) if (!verdict.rules.some((x) => x.rule === r.rule)) verdict.rules.push(r);
    for (const a of j.verdict.approvals) if (!verdict.approvals.some((x) => x.rule === a.rule)) verdict.approvals.push(a);
    for (const w of j.verdict.waived ?? []) if (!verdict.waived?.some((x) => x.rule === w.rule)) (verdict.waived ??= []).push(w);
  }
  return { risk, verdict };
}
