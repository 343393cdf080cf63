/**
 * An audit event (DESIGN §6) and its one canonical text form: a JSON object on one line of
 * `events/YYYY/MM/DD.jsonl` (the UTC date of its `time`), keys in a fixed order, `hash` last. Every
 * event names the hash of the one before it (`prev`), so the events of the whole branch form one
 * chain, numbered by `seq` (1, 2, 3, … with no gap).
 *
 * `hash` is the SHA-256 of the canonical line without its `hash` member; since `hash` is the last
 * member, that is the line with `,"hash":"…"` cut out.
 */
import { createHash } from 'node:crypto';
import Type, { type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { ApprovalEvidence } from '../policy/evidence.ts';
import { RISKS } from '../model/common.ts';

/**
 * Types clawops writes. `type` is an open string (dotted, lower case) so that later versions and
 * other writers (runtime hosts) can add types that older verifiers still accept.
 */
export const KNOWN_EVENT_TYPES = {
  'apply.started': 'an apply run began on a target (summary: how many changes)',
  'apply.finished': 'an apply run ended on a target (summary: outcome)',
  'apply.refused': 'a target was not written: live or desired state moved since the plan',
  'change.applied': 'one change was written to a target',
  'change.held': 'a change that needs approval reached main without it; not applied',
  'change.denied': 'policy denied a change; not applied',
  'change.failed': 'writing a change failed',
  rollback: 'a target was restored to its pre-apply snapshot',
  'drift.detected': 'live differs from last-applied on a managed field',
  'drift.reverted': 'drift was overwritten with the desired state',
  'approval.recorded': 'an approval (pull-request reviews) released a held change',
  'approval.requested': 'clawops opened (or kept) an approval pull request for a held change set',
  'break-glass': 'an agent was disabled or recovered outside the normal flow',
} as const satisfies Record<string, string>;
export type KnownEventType = keyof typeof KNOWN_EVENT_TYPES;

/** `prev` of the first event of a branch. */
export const GENESIS_HASH = '0'.repeat(64);

const Sha256Hex = Type.String({ pattern: '^[0-9a-f]{64}$' });

export const ChangeSummary = Type.Object(
  {
    message: Type.Optional(Type.String({ description: 'One line for people, masked.' })),
    path: Type.Optional(Type.String({ description: 'Path inside the resource, e.g. `spec.config.tools.deny`.' })),
    action: Type.Optional(Type.String({ description: '`create`, `update` or `delete`.' })),
    category: Type.Optional(Type.String({ description: 'identity, model, tools, … (as in plans).' })),
    before: Type.Optional(Type.Unknown({ description: 'The value before, masked (secrets only as keyed hashes).' })),
    after: Type.Optional(Type.Unknown({ description: 'The value after, masked.' })),
  },
  { additionalProperties: false, description: 'What happened, masked before it is written.' },
);
export type ChangeSummary = Static<typeof ChangeSummary>;


export const AuditEvent = Type.Object(
  {
    seq: Type.Integer({ minimum: 1, description: 'Position in the whole branch: 1, 2, 3, … with no gap.' }),
    time: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?Z$', description: 'UTC, ISO 8601.' }),
    type: Type.String({ pattern: '^[a-z][a-z0-9-]*(\\.[a-z][a-z0-9-]*)*$', description: `Open set; clawops writes ${Object.keys(KNOWN_EVENT_TYPES).join(', ')}.` }),
    actor: Type.String({ minLength: 1, description: 'Who: a CI job, a GitHub login, a host.' }),
    traceId: Type.String({ minLength: 1, description: 'One per run; related events share it.' }),
    target: Type.String({ minLength: 1, description: 'The gateway or runtime host.' }),
    resource: Type.String({ minLength: 1, description: '`Kind/name`; the Gateway or RuntimeHost itself for run-level events.' }),
    agentId: Type.Optional(Type.String()),
    risk: Type.Optional(Type.Enum([...RISKS])),
    summary: ChangeSummary,
    beforeHash: Type.Optional(Type.String()),
    afterHash: Type.Optional(Type.String()),
    approval: Type.Optional(ApprovalEvidence),
    desiredCommit: Type.Optional(Type.String({ pattern: '^[0-9a-f]{40}([0-9a-f]{24})?$', description: 'The fleet repo commit that was applied.' })),
    prev: Sha256Hex,
    hash: Sha256Hex,
  },
  { additionalProperties: false, description: 'One line of an audit branch events file (events/YYYY/MM/DD.jsonl).' },
);
export type AuditEvent = Static<typeof AuditEvent>;

/** What a caller records: the log numbers and chains it; `time` defaults to now. */
export type AuditEventInput = Omit<AuditEvent, 'seq' | 'prev' | 'hash' | 'time'> & { readonly time?: string };

/** The member order of the canonical line (also the schema's). */
const FIELD_ORDER = Object.keys(AuditEvent.properties) as ReadonlyArray<keyof AuditEvent>;

const checker = Compile(AuditEvent);

/** Objects with sorted keys, arrays in order, `undefined` members dropped: one text per value. */
function canonicalValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonicalValue);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o).sort()) if (o[k] !== undefined) out[k] = canonicalValue(o[k]);
    return out;
  }
  return v;
}

function ordered(e: Partial<AuditEvent>, withHash = true): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of FIELD_ORDER) {
    if (e[k] === undefined || (k === 'hash' && !withHash)) continue;
    out[k] = k === 'summary' || k === 'approval' ? canonicalValue(e[k]) : e[k];
  }
  return out;
}

export const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The hash an event must carry: over its canonical form without `hash`. */
export function eventHash(e: Omit<AuditEvent, 'hash'>): string {
  return sha256Hex(JSON.stringify(ordered(e, false)));
}

/** Gives an event its `hash`. */
export function sealEvent(e: Omit<AuditEvent, 'hash'>): AuditEvent {
  return { ...e, hash: eventHash(e) } as AuditEvent;
}

/** The canonical line, without the newline. */
export function canonicalLine(e: AuditEvent): string {
  return JSON.stringify(ordered(e));
}

/** `events/YYYY/MM/DD.jsonl` for the UTC date of an ISO time. */
export function eventFile(time: string): string {
  return `events/${time.slice(0, 4)}/${time.slice(5, 7)}/${time.slice(8, 10)}.jsonl`;
}

export const EVENT_FILE_PATTERN = /^events\/\d{4}\/\d{2}\/\d{2}\.jsonl$/;

/** Why a value is not an audit event (the first schema error), or undefined when it is one. */
export function eventSchemaError(value: unknown): string | undefined {
  if (checker.Check(value)) return undefined;
  const first = [...checker.Errors(value)][0];
  return first ? `${first.instancePath || '/'}: ${first.message}` : 'not an audit event';
}

/** `,"hash":"<64 hex>"}` */
const HASH_MEMBER_LENGTH = ',"hash":""}'.length + 64;

export type ParsedLine =
  | { readonly ok: true; readonly event: AuditEvent }
  | { readonly ok: false; readonly kind: 'json' | 'schema' | 'canonical' | 'hash'; readonly problem: string };

/**
 * Reads one line as an event and checks everything a line can check on its own: JSON, schema,
 * canonical form, `hash`. What it says about the chain (`seq`, `prev`, file) is the caller's.
 */
export function parseEventLine(line: string): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, kind: 'json', problem: 'the line is not valid JSON (a truncated or hand-edited line)' };
  }
  if (!checker.Check(value)) {
    const first = [...checker.Errors(value)][0];
    return { ok: false, kind: 'schema', problem: `the line is not an audit event (${first ? `${first.instancePath || '/'}: ${first.message}` : 'schema'})` };
  }
  const event = value;
  if (canonicalLine(event) !== line) return { ok: false, kind: 'canonical', problem: `seq ${event.seq} is not in canonical form (keys reordered or spacing changed): the line was rewritten by hand` };
  // Canonical, so the text without `hash` is the line minus its last member: no second stringify.
  if (sha256Hex(line.slice(0, line.length - HASH_MEMBER_LENGTH) + '}') !== event.hash) {
    return { ok: false, kind: 'hash', problem: `seq ${event.seq} does not match its own hash: the event was edited after it was written` };
  }
  return { ok: true, event };
}
