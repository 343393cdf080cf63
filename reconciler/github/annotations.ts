/**
 * What a pull request's check run points at in the diff: every validation diagnostic, and every
 * planned change policy denies or holds for approval, at the YAML line that caused it. A change
 * that lands on many gateways is one annotation naming them, not one per gateway.
 */
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import type { RepositoryConfig } from '../model/repository.ts';
import type { Change, Plan, SourceLocation } from '../plan/plan.ts';
import type { Verdict } from '../policy/verdict.ts';
import type { AnnotationLevel, CheckAnnotation, CheckConclusion } from './check-run.ts';

export interface AnnotationsInput {
  readonly diagnostics?: readonly Diagnostic[];
  readonly plan?: Plan;
  /** Where the fleet repo sits inside the git repository (the Action's `repo-path`), e.g. `fleet`. */
  readonly pathPrefix?: string;
  /** clawops.yaml `approvers`, so a message can name each group's GitHub team. */
  readonly approvers?: RepositoryConfig['spec']['approvers'];
}

/** Gateways named in one annotation before "and N more". */
const GATEWAYS_SHOWN = 5;

export function repoPath(file: string, pathPrefix: string | undefined): string {
  const prefix = (pathPrefix ?? '').replace(/\\/g, '/').replace(/^(\.\/)+/, '').replace(/^\/+|\/+$/g, '');
  const rel = file.replace(/\\/g, '/').replace(/^(\.\/)+/, '');
  return prefix && prefix !== '.' ? `${prefix}/${rel}` : rel;
}

const LEVEL: Record<Diagnostic['severity'], AnnotationLevel> = { error: 'failure', warning: 'warning' };

function at(file: string, line: number | undefined, col: number | undefined, pathPrefix: string | undefined) {
  const start = line ?? 1;
  return { path: repoPath(file, pathPrefix), start_line: start, end_line: start, ...(line !== undefined && col !== undefined ? { start_column: col } : {}) };
}

function fromDiagnostic(d: Diagnostic, pathPrefix: string | undefined): CheckAnnotation {
  const what = d.field ? `${d.field}: ${d.message}` : d.message;
  const related = d.related ? `See also ${d.related.file}${d.related.line ? `:${d.related.line}` : ''}.` : undefined;
  return {
    ...at(d.file, d.line, d.col, pathPrefix),
    annotation_level: LEVEL[d.severity],
    title: [d.resource, d.code].filter(Boolean).join(': '),
    message: d.hint ? `${what}\nFix: ${d.hint}` : what,
    ...(related ? { raw_details: related } : {}),
  };
}

function approverName(group: string, approvers: AnnotationsInput['approvers']): string {
  const team = approvers?.[group]?.githubTeam;
  return team ? `${group} (@${team})` : group;
}

/** `2 approving reviews from security (@acme/security) or @alice`, one line per requirement. */
export function whoMustApprove(verdict: Verdict, approvers?: AnnotationsInput['approvers']): string[] {
  return verdict.approvals.map((a) => {
    const from = [...(a.teams ?? []).map((t) => approverName(t, approvers)), ...(a.users ?? []).map((u) => `@${u}`)];
    const reviews = `${a.count} approving review${a.count === 1 ? '' : 's'}`;
    return `${reviews} from ${from.length ? from.join(' or ') : 'anyone but the author'} (${a.rule})`;
  });
}

interface Group {
  readonly source: SourceLocation;
  readonly change: Change;
  readonly gateways: string[];
}

function changeAnnotation(g: Group, input: AnnotationsInput): CheckAnnotation {
  const { change: c, source } = g;
  const shown = g.gateways.slice(0, GATEWAYS_SHOWN).join(', ');
  const more = g.gateways.length > GATEWAYS_SHOWN ? ` and ${g.gateways.length - GATEWAYS_SHOWN} more` : '';
  const where = `${c.action} ${c.path} of agent ${c.agentId} on ${g.gateways.length === 1 ? 'gateway' : 'gateways'} ${shown}${more}`;
  const rules = c.verdict.rules.filter((r) => r.effect === c.verdict.effect);
  const why = rules.map((r) => `${r.message} (${r.rule})`).join('; ');
  const denied = c.verdict.effect === 'deny';
  const message = denied
    ? `Denied by policy: ${why || 'a deny rule'}.\nThis change cannot be applied: ${where}.`
    : `Needs approval before it is applied: ${whoMustApprove(c.verdict, input.approvers).join(', and ')}.\n${why ? `Why: ${why}.\n` : ''}Change: ${where}.`;
  return {
    ...at(source.file, source.line, source.col, input.pathPrefix),
    annotation_level: denied ? 'failure' : 'warning',
    title: `${c.resource}: ${denied ? 'denied by policy' : 'needs approval'} (${c.risk} risk)`,
    message,
  };
}

/**
 * One annotation per diagnostic; per denied or approval-gated change (grouped across gateways);
 * and per plan error or warning note that points at a file. Changes without a source (an agent
 * that left git) have no line to point at and stay in the summary only.
 */
export function annotationsFor(input: AnnotationsInput): CheckAnnotation[] {
  const out = (input.diagnostics ?? []).map((d) => fromDiagnostic(d, input.pathPrefix));
  const groups = new Map<string, Group>();
  for (const gw of input.plan?.gateways ?? []) {
    for (const c of gw.changes) {
      if (c.verdict.effect === 'allow' || !c.source) continue;
      const key = JSON.stringify([c.source, c.resource, c.agentId, c.action, c.path, c.verdict.effect, c.verdict.rules.map((r) => r.rule), c.verdict.approvals]);
      const g = groups.get(key);
      if (g) g.gateways.push(gw.gateway);
      else groups.set(key, { source: c.source, change: c, gateways: [gw.gateway] });
    }
    for (const e of gw.errors) {
      if (!e.source) continue;
      out.push({ ...at(e.source.file, e.source.line, e.source.col, input.pathPrefix), annotation_level: 'failure', title: `${gw.gateway}: ${e.kind}`, message: e.message });
    }
    for (const n of gw.notes) {
      if (!n.source || n.level !== 'warning') continue;
      out.push({ ...at(n.source.file, n.source.line, n.source.col, input.pathPrefix), annotation_level: 'warning', title: gw.gateway, message: n.message });
    }
  }
  for (const n of input.plan?.notes ?? []) {
    if (!n.source) continue;
    out.push({ ...at(n.source.file, n.source.line, n.source.col, input.pathPrefix), annotation_level: n.level === 'warning' ? 'warning' : 'notice', message: n.message });
  }
  for (const g of groups.values()) out.push(changeAnnotation(g, input));
  return out;
}

export interface ConclusionInput {
  readonly validationErrors: number;
  readonly denied: number;
  readonly awaitingApproval: number;
  /** Gateways (or targets) whose plan failed: unreachable, refused, invalid live config. */
  readonly planErrors: number;
  /** Changes the plan would make; only used in the title. */
  readonly changes?: number;
}

const count = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * The check's verdict. Anything that stops the merge from applying cleanly fails it; changes that
 * only wait for reviews are `neutral`: the reviews themselves are the gate, checked again at apply
 * (a required check stuck at "action required" would need a re-run after every review).
 */
export function checkConclusion(input: ConclusionInput): { conclusion: CheckConclusion; title: string } {
  const problems = [
    input.validationErrors ? count(input.validationErrors, 'validation error') : '',
    input.denied ? `${count(input.denied, 'change')} denied by policy` : '',
    input.planErrors ? `plan failed for ${count(input.planErrors, 'gateway')}` : '',
  ].filter(Boolean);
  const approval = input.awaitingApproval ? `${count(input.awaitingApproval, 'change')} ${input.awaitingApproval === 1 ? 'needs' : 'need'} approval` : '';
  if (problems.length) return { conclusion: 'failure', title: [...problems, approval].filter(Boolean).join(', ') };
  if (approval) return { conclusion: 'neutral', title: approval };
  const changes = input.changes;
  return { conclusion: 'success', title: changes === undefined ? 'Plan is valid' : changes === 0 ? 'No changes' : `${count(changes, 'change')}, all allowed by policy` };
}
