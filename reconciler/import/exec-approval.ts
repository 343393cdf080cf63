/**
 * One agent's entry of the gateway's exec-approvals document as an ApprovalRule's `spec.exec`.
 * Server-assigned ids and usage telemetry are dropped; anything else clawops cannot express is
 * left out with a comment. An allowlist entry is never imported in a form that allows more than
 * it did on the gateway.
 */
import { ExecApprovalPolicy } from '../model/openclaw.ts';
import { modelProblem } from './model-check.ts';

const POLICY_FIELDS = ['security', 'ask', 'askFallback', 'autoAllowSkills'] as const;
/** Allowlist entry fields that carry meaning; the rest is bookkeeping (id, last use). */
const ENTRY_FIELDS = ['pattern', 'argPattern'] as const;
const ENTRY_BOOKKEEPING = new Set(['id', 'lastUsedAt', 'lastUsedCommand', 'lastResolvedPath', 'source', 'commandText']);

export interface MappedApproval {
  readonly exec: Record<string, unknown>;
  readonly comments: readonly string[];
  /** Notes about the allowlist itself, shown above it. */
  readonly allowlistComments: readonly string[];
  readonly leftOut: readonly string[];
}

export type MappedApprovalResult = ({ readonly ok: true } & MappedApproval) | { readonly ok: false; readonly reason: string };

export function mapExecApproval(entry: Record<string, unknown>): MappedApprovalResult {
  const exec: Record<string, unknown> = {};
  const comments: string[] = [];
  const allowlistComments: string[] = [];
  const leftOut: string[] = [];
  for (const f of POLICY_FIELDS) if (entry[f] !== undefined) exec[f] = entry[f];
  if (Array.isArray(entry.allowlist)) {
    const list: Array<Record<string, unknown>> = [];
    let fromAllowAlways = 0;
    for (const raw of entry.allowlist as unknown[]) {
      if (!raw || typeof raw !== 'object') continue;
      const e = raw as Record<string, unknown>;
      const unknownKeys = Object.keys(e).filter((k) => !(ENTRY_FIELDS as readonly string[]).includes(k) && !ENTRY_BOOKKEEPING.has(k));
      if (unknownKeys.length) {
        // Without a field it does not understand, an entry could match more commands than before.
        leftOut.push(`allowlist entry ${JSON.stringify(e.pattern)} (${unknownKeys.join(', ')})`);
        continue;
      }
      if (e.source === 'allow-always') fromAllowAlways++;
      list.push(Object.fromEntries(ENTRY_FIELDS.filter((f) => e[f] !== undefined).map((f) => [f, e[f]])));
    }
    exec.allowlist = list;
    if (fromAllowAlways) allowlistComments.push(`${fromAllowAlways === 1 ? 'One entry was' : `${fromAllowAlways} entries were`} added on the gateway by someone answering "allow always".`);
  }
  for (const k of Object.keys(entry)) if (!(POLICY_FIELDS as readonly string[]).includes(k) && k !== 'allowlist') leftOut.push(k);
  if (leftOut.length) comments.push(`Not imported (clawops' ApprovalRule cannot express it yet): ${leftOut.join('; ')}.`);
  const problem = modelProblem(ExecApprovalPolicy, exec);
  if (problem) return { ok: false, reason: `does not fit clawops' ApprovalRule (${problem})` };
  return { ok: true, exec, comments, allowlistComments, leftOut };
}
