/**
 * One change as the lines both human renderers print: a head (`~ path: before → after`) and,
 * when the values do not fit on it, a body. The body of an update of one object by another lists
 * only the members that differ (`~ schedule.expr: "0 7 * * 1" → "0 6 * * 1"`), because a cron job
 * or a route printed twice in full hides the one field that changed. Secret changes get a head
 * that says what happened and no body: their hashes are for machines, not reviewers.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Effect, Risk } from '../../model/common.ts';
import type { Verdict } from '../../policy/verdict.ts';
import type { Action, Change, SourceLocation } from '../plan.ts';
import { compactJson, jsonLines } from './json-value.ts';
import { compareText } from './order.ts';
import { jsonString, printable } from './printable.ts';

export type Sigil = '+' | '~' | '-';

export const SIGILS: Record<Action, Sigil> = { create: '+', update: '~', delete: '-' };

const SECRET_WORDS: Record<Action, string> = { create: '(secret set)', update: '(secret changed)', delete: '(secret removed)' };

export interface BodyLine {
  readonly sign: Sigil;
  /** Indented relative to the body. */
  readonly text: string;
}

export interface ChangeView {
  readonly sigil: Sigil;
  /** `path` or `path: value` / `path: before → after`. */
  readonly head: string;
  readonly risk: Risk;
  /** What policy says, when it is more than "allowed": `denied by …`, `needs 2 approvals from security …`. */
  readonly gate: string | undefined;
  readonly effect: Effect;
  readonly location: string | undefined;
  readonly body: readonly BodyLine[];
}

/** Containers stay on their line up to this many characters (path included), as JSON does. */
export const VALUE_WIDTH = 72;
/** Scalars are allowed a longer line: a model name change reads best as one `a → b`. */
const SCALAR_WIDTH = 120;

export const formatLocation = (s: SourceLocation | undefined): string | undefined => (s ? `${printable(s.file)}:${s.line}` : undefined);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isContainer = (v: unknown): boolean => typeof v === 'object' && v !== null;

/** `a.b` for plain keys, `a["odd key"]` (JSON, so escaped) for the rest. */
const memberPath = (prefix: string, key: string): string =>
  /^[A-Za-z_$][\w$-]*$/.test(key) ? (prefix ? `${prefix}.${key}` : key) : `${prefix}[${jsonString(key)}]`;

const signed = (sign: Sigil, value: unknown, indent: string): BodyLine[] => jsonLines(value, VALUE_WIDTH).map((text) => ({ sign, text: indent + text }));

/**
 * `label: value` on one line if it fits, else `label` and the value's lines under it, indented by
 * `indent` (nothing under a change's head, which the renderers indent; more under a member line).
 */
function entry(label: string, action: Action, before: unknown, after: unknown, indent: string): { line: string; more: BodyLine[] } {
  const inline = action === 'update' ? `${compactJson(before)} → ${compactJson(after)}` : compactJson(action === 'create' ? after : before);
  const width = [before, after].some(isContainer) ? VALUE_WIDTH : SCALAR_WIDTH;
  if (label.length + 2 + inline.length <= width) return { line: `${label}: ${inline}`, more: [] };
  if (action === 'update') return { line: label, more: [...signed('-', before, indent), ...signed('+', after, indent)] };
  return { line: label, more: signed(SIGILS[action], action === 'create' ? after : before, indent) };
}

/** The members of two objects that differ, as `~`/`+`/`-` lines with dotted paths. */
function memberDiff(before: Record<string, unknown>, after: Record<string, unknown>, prefix: string): BodyLine[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort(compareText);
  return keys.flatMap((key): BodyLine[] => {
    const [b, a] = [before[key], after[key]];
    if (isDeepStrictEqual(b, a)) return [];
    const path = memberPath(prefix, key);
    if (isObject(b) && isObject(a)) return memberDiff(b, a, path);
    const action: Action = b === undefined ? 'create' : a === undefined ? 'delete' : 'update';
    const { line, more } = entry(path, action, b, a, '    ');
    return [{ sign: SIGILS[action], text: line }, ...more];
  });
}

export function viewChange(c: Change): ChangeView {
  const path = printable(c.path);
  const base = { sigil: SIGILS[c.action], risk: c.risk, gate: verdictText(c.verdict), effect: c.verdict.effect, location: formatLocation(c.source) };
  if (c.secret) return { ...base, head: `${path}: ${SECRET_WORDS[c.action]}`, body: [] };
  if (c.action === 'update' && isObject(c.before) && isObject(c.after)) {
    const { line, more } = entry(path, 'update', c.before, c.after, '');
    return more.length === 0 ? { ...base, head: line, body: [] } : { ...base, head: path, body: memberDiff(c.before, c.after, '') };
  }
  const { line, more } = entry(path, c.action, c.before, c.after, '');
  return { ...base, head: line, body: more };
}

const who = (a: Verdict['approvals'][number]): string => {
  const from = [...(a.teams ?? []), ...(a.users ?? []).map((u) => `@${u}`)];
  return `${a.count} ${a.count === 1 ? 'approval' : 'approvals'}${from.length ? ` from ${from.join(' or ')}` : ''}`;
};

/** One line for the policy verdict: the effect, who must approve, the rules behind it, waivers. */
export function verdictText(v: Verdict): string | undefined {
  const waived = v.waived?.length ? `waived: ${v.waived.map((w) => `${printable(w.rule)} by exception ${printable(w.exception)} until ${printable(w.expiresAt)}`).join('; ')}` : '';
  const denials = v.rules.filter((r) => r.effect === 'deny');
  const main =
    v.effect === 'deny'
      ? `denied by ${denials.map((r) => `${printable(r.rule)} (${printable(r.message)})`).join(', ')}`
      : v.effect === 'require-approval'
        ? `needs ${v.approvals.map((a) => `${who(a)} (${printable(a.rule)})`).join(' and ')}`
        : '';
  return [main, waived].filter(Boolean).join('; ') || undefined;
}
