/**
 * Policies compiled once into a rule set: globs become regular expressions, JSON Schemas become ajv
 * validators, rules are indexed by kind. A malformed rule (a glob with an unclosed bracket, a schema
 * ajv refuses) is a diagnostic at its YAML position, never a crash; the rule is left out.
 */
import picomatch from 'picomatch';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import { fieldPath } from '../diagnostics/diagnostic.ts';
import { createAjv } from '../load/schema-validator.ts';
import type { PathSegment, SourceLocator } from '../load/source-map.ts';
import type { Effect, Risk } from '../model/common.ts';
import type { ResourceOf } from '../model/kinds.ts';
import { parseResourcePath } from '../plan/resource-path.ts';

export type PolicyDocument = ResourceOf<'Policy'>;

/** A Policy and where it came from (a repo file or a built-in pack). */
export interface PolicySource {
  readonly name: string;
  readonly file: string;
  readonly value: PolicyDocument;
  readonly locator?: SourceLocator;
}

export interface RuleOrigin {
  readonly file: string;
  readonly line?: number;
}

interface RuleTarget {
  /** `policy/id`. */
  readonly ref: string;
  readonly kinds?: ReadonlySet<string>;
  readonly labels: ReadonlyArray<readonly [string, string]>;
  /** Validates the resource as a whole; undefined when the rule has no schema. */
  readonly schema?: ValidateFunction;
  readonly message: string;
  readonly description?: string;
  readonly origin: RuleOrigin;
}

export interface ApprovalRequirement {
  readonly rule: string;
  readonly count: number;
  readonly teams?: readonly string[];
  readonly users?: readonly string[];
}

export interface ChangeRule extends RuleTarget {
  readonly actions?: ReadonlySet<string>;
  /** The globs as written, for explanations. */
  readonly globs: readonly string[];
  readonly paths?: readonly RegExp[];
  readonly risk: Risk;
  readonly effect: Effect;
  readonly approvals?: ApprovalRequirement;
}

export interface StateRule extends RuleTarget {
  readonly require?: ValidateFunction;
  readonly selectedBy: ReadonlyArray<{ readonly kind: string; readonly selector: readonly string[] }>;
}

/** Why a rule's kinds or labels leave a resource out; undefined when they take it in. */
export function targetMiss(rule: Pick<RuleTarget, 'kinds' | 'labels'>, kind: string, labels: Readonly<Record<string, string>> | undefined): string | undefined {
  if (rule.kinds && !rule.kinds.has(kind)) return `only for ${[...rule.kinds].join(', ')}`;
  const missing = rule.labels.filter(([k, v]) => labels?.[k] !== v);
  return missing.length ? `needs label${missing.length > 1 ? 's' : ''} ${missing.map(([k, v]) => `${k}=${v}`).join(', ')}` : undefined;
}

export interface RuleSet {
  readonly policies: readonly string[];
  readonly changeRules: readonly ChangeRule[];
  readonly stateRules: readonly StateRule[];
  /** The change rules that can match a resource of this kind, in policy order. */
  rulesFor(kind: string): readonly ChangeRule[];
}

/**
 * The separator segments are joined with for picomatch: a character no key holds, so a key like
 * `openai/gpt-5.4` stays one segment.
 */
const SEP = '/';
const SLASH_IN_KEY = '\u2215';

export const globSubject = (segments: readonly string[]): string => segments.map((s) => s.replaceAll('/', SLASH_IN_KEY)).join(SEP);

/** `spec.config.tools.**` or `spec.cron[*]` → a RegExp over globSubject(segments). */
export function compileGlob(glob: string): RegExp {
  const segments = parseResourcePath(glob);
  if (segments.some((s) => s === '')) throw new Error('it has an empty segment (two dots in a row, or a dot at either end)');
  return picomatch.makeRe(globSubject(segments), { dot: true, strictBrackets: true, nonegate: true, noextglob: true });
}

export function compileRuleSet(sources: readonly PolicySource[]): { set: RuleSet; diagnostics: Diagnostic[] } {
  // Strict, so a misspelt keyword is an error; but users' schemas may require a field without
  // declaring its properties (`required: [team]`), which ajv's strictRequired would refuse.
  const ajv = createAjv({ strictRequired: false });
  const diagnostics: Diagnostic[] = [];
  const changeRules: ChangeRule[] = [];
  const stateRules: StateRule[] = [];

  for (const src of sources) {
    const at = (path: PathSegment[]) => (src.locator ? src.locator.locate(path) : undefined);
    const problem = (path: PathSegment[], message: string, hint: string) => {
      const pos = at(path);
      diagnostics.push({ severity: 'error', code: 'schema', file: src.file, ...(pos ?? {}), resource: `Policy/${src.name}`, field: fieldPath(path), message, hint });
    };
    const schemaOf = (schema: Record<string, unknown> | undefined, path: PathSegment[]): ValidateFunction | undefined | null => {
      if (!schema) return undefined;
      try {
        return ajv.compile(schema);
      } catch (e) {
        problem(path, `not a valid JSON Schema: ${(e as Error).message}`, 'fix the schema (draft 2020-12); https://json-schema.org/understanding-json-schema');
        return null;
      }
    };
    const target = (list: 'rules' | 'stateRules', i: number, r: { id: string; description?: string; message: string; match: { kinds?: string[]; labels?: Record<string, string>; schema?: Record<string, unknown> } }) => {
      const schema = schemaOf(r.match.schema, ['spec', list, i, 'match', 'schema']);
      if (schema === null) return null;
      return {
        ref: `${src.name}/${r.id}`,
        ...(r.match.kinds ? { kinds: new Set(r.match.kinds) } : {}),
        labels: Object.entries(r.match.labels ?? {}),
        ...(schema ? { schema } : {}),
        message: r.message,
        ...(r.description ? { description: r.description } : {}),
        origin: { file: src.file, ...(at(['spec', list, i]) ? { line: at(['spec', list, i])!.line } : {}) },
      };
    };

    const seen = new Map<string, number>();
    const duplicate = (list: 'rules' | 'stateRules', i: number, id: string) => {
      const first = seen.get(id);
      if (first === undefined) {
        seen.set(id, i);
        return false;
      }
      problem(['spec', list, i, 'id'], `rule id "${id}" is used twice in policy ${src.name}`, 'give every rule of a policy its own id');
      return true;
    };

    (src.value.spec.rules ?? []).forEach((r, i) => {
      if (duplicate('rules', i, r.id)) return;
      const base = target('rules', i, r);
      if (!base) return;
      const paths: RegExp[] = [];
      let ok = true;
      (r.match.paths ?? []).forEach((g, j) => {
        try {
          paths.push(compileGlob(g));
        } catch (e) {
          ok = false;
          problem(['spec', 'rules', i, 'match', 'paths', j], `bad glob "${g}": ${(e as Error).message}`, 'segments are separated by dots; `*` is one segment, `**` any number, `{a,b}` either; escape a literal bracket as `\\[`');
        }
      });
      if (!ok) return;
      changeRules.push({
        ...base,
        ...(r.match.actions ? { actions: new Set(r.match.actions) } : {}),
        globs: r.match.paths ?? [],
        ...(r.match.paths ? { paths } : {}),
        risk: r.risk,
        effect: r.effect,
        ...(r.approvals ? { approvals: { rule: base.ref, ...r.approvals } } : {}),
      });
      if (r.effect === 'require-approval' && !r.approvals) {
        problem(['spec', 'rules', i, 'effect'], 'effect require-approval needs `approvals` (how many reviews, from whom)', 'add e.g. `approvals: { count: 1, teams: [security] }`');
        changeRules.pop();
      }
    });
    (src.value.spec.stateRules ?? []).forEach((r, i) => {
      if (duplicate('stateRules', i, r.id)) return;
      const base = target('stateRules', i, r);
      const require = schemaOf(r.require, ['spec', 'stateRules', i, 'require']);
      if (!base || require === null) return;
      if (!r.require && !r.selectedBy) {
        problem(['spec', 'stateRules', i], `state rule "${r.id}" checks nothing`, 'add `require` (a JSON Schema the resource must satisfy) or `selectedBy` (kinds that must select it)');
        return;
      }
      stateRules.push({ ...base, ...(require ? { require } : {}), selectedBy: (r.selectedBy ?? []).map((s) => ({ kind: s.kind, selector: s.selector.split('.') })) });
    });
  }

  // Per kind, the rules that can apply to it, in policy order (so verdicts list rules as written).
  const cache = new Map<string, readonly ChangeRule[]>();
  return {
    set: {
      policies: sources.map((s) => s.name),
      changeRules,
      stateRules,
      rulesFor: (kind) => {
        let list = cache.get(kind);
        if (!list) cache.set(kind, (list = changeRules.filter((r) => !r.kinds || r.kinds.has(kind))));
        return list;
      },
    },
    diagnostics,
  };
}
