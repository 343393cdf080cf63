/**
 * Reading the audit trail back: `audit search` (filters over the events at the tip), `audit show
 * SEQ` (one event) and `audit trace TRACE_ID` (every event of one run, in order). Search reads;
 * it never judges: a line that is not a valid event is counted and left to `audit verify`.
 */
import picomatch from 'picomatch';
import { UsageError } from '../errors.ts';
import type { TreeView } from '../git/state-branch.ts';
import { RISKS, type Risk } from '../model/common.ts';
import { parseEventLine, type AuditEvent } from './event.ts';

export interface AuditQuery {
  /** `agentId` equals this. */
  readonly agent?: string | undefined;
  /** `target` equals this. */
  readonly gateway?: string | undefined;
  /** `type` matches this glob, e.g. `change.*`. */
  readonly type?: string | undefined;
  /** `risk` is one of these. */
  readonly risk?: readonly Risk[] | undefined;
  readonly trace?: string | undefined;
  /** Case-insensitive substring of the event's line. */
  readonly text?: string | undefined;
  readonly since?: Date | undefined;
  readonly until?: Date | undefined;
  /** Only the last N matches (default: all). */
  readonly limit?: number | undefined;
}

export interface EventsRead {
  /** In seq order. */
  readonly events: AuditEvent[];
  /** Lines that are not valid events (run `clawops audit verify`). */
  readonly unreadable: number;
}

const day = (d: Date): string => d.toISOString().slice(0, 10);

/** Every event at `view` whose day file falls in [since, until] (by UTC date), seq order. */
export async function readEvents(view: TreeView, range: { since?: Date | undefined; until?: Date | undefined } = {}, keep: (line: string) => boolean = () => true): Promise<EventsRead> {
  const from = range.since ? day(range.since) : undefined;
  const to = range.until ? day(range.until) : undefined;
  const events: AuditEvent[] = [];
  let unreadable = 0;
  for (const y of await view.list('events')) {
    for (const m of await view.list(`events/${y}`)) {
      for (const d of await view.list(`events/${y}/${m}`)) {
        const date = `${y}-${m}-${d.replace(/\.jsonl$/, '')}`;
        if ((from && date < from) || (to && date > to)) continue;
        const raw = await view.readFile(`events/${y}/${m}/${d}`);
        if (!raw) continue;
        for (const line of Buffer.from(raw).toString('utf8').split('\n')) {
          if (!line || !keep(line)) continue;
          const parsed = parseEventLine(line);
          if (parsed.ok) events.push(parsed.event);
          else unreadable++;
        }
      }
    }
  }
  events.sort((a, b) => a.seq - b.seq);
  return { events, unreadable };
}

export function matcher(q: AuditQuery): (e: AuditEvent) => boolean {
  const type = q.type ? picomatch(q.type) : undefined;
  const risks = q.risk?.length ? new Set(q.risk) : undefined;
  const text = q.text?.toLowerCase();
  const since = q.since?.getTime();
  const until = q.until?.getTime();
  return (e) => {
    if (q.agent !== undefined && e.agentId !== q.agent) return false;
    if (q.gateway !== undefined && e.target !== q.gateway) return false;
    if (type && !type(e.type)) return false;
    if (risks && (!e.risk || !risks.has(e.risk))) return false;
    if (q.trace !== undefined && e.traceId !== q.trace) return false;
    const t = Date.parse(e.time);
    if (since !== undefined && t < since) return false;
    if (until !== undefined && t > until) return false;
    if (text && !JSON.stringify(e).toLowerCase().includes(text)) return false;
    return true;
  };
}

export async function searchEvents(view: TreeView, q: AuditQuery): Promise<EventsRead> {
  const needle = q.text?.toLowerCase();
  const read = await readEvents(view, { since: q.since, until: q.until }, needle ? (line) => line.toLowerCase().includes(needle) : undefined);
  let events = read.events.filter(matcher(q));
  if (q.limit !== undefined) events = events.slice(-q.limit);
  return { events, unreadable: read.unreadable };
}

export async function showEvent(view: TreeView, seq: number): Promise<{ event: AuditEvent | undefined; unreadable: number }> {
  const prefix = `{"seq":${seq},`;
  const read = await readEvents(view, {}, (line) => line.startsWith(prefix));
  return { event: read.events.find((e) => e.seq === seq), unreadable: read.unreadable };
}

export async function traceEvents(view: TreeView, traceId: string): Promise<EventsRead> {
  const needle = JSON.stringify(traceId);
  const read = await readEvents(view, {}, (line) => line.includes(needle));
  return { events: read.events.filter((e) => e.traceId === traceId), unreadable: read.unreadable };
}

/**
 * A time bound: an ISO date (`2026-11-21`, the start of that UTC day; with `endOfDay`, its end),
 * an ISO date-time, or a duration back from now (`90m`, `24h`, `7d`).
 */
export function parseTimeBound(value: string, now: Date, opts: { endOfDay?: boolean; flag: string }): Date {
  const rel = /^(\d+)([mhdw])$/.exec(value);
  if (rel) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[rel[2] as 'm' | 'h' | 'd' | 'w'];
    return new Date(now.getTime() - Number(rel[1]) * unit);
  }
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const d = new Date(`${value}T00:00:00.000Z`);
    if (!Number.isNaN(d.getTime())) return opts.endOfDay ? new Date(d.getTime() + 86_400_000 - 1) : d;
  } else if (/^\d{4}-\d{2}-\d{2}T/.test(value)) {
    const d = new Date(value);
    if (!Number.isNaN(d.getTime())) return d;
  }
  throw new UsageError(`${opts.flag} "${value}" is not a time: use a date (2026-11-21), a date-time (2026-11-21T12:00:00Z) or a duration back from now (90m, 24h, 7d)`, {});
}

/** `high`, `high,critical`, or `high+` (that level and above). */
export function parseRisks(value: string): Risk[] {
  const out = new Set<Risk>();
  for (const part of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const plus = part.endsWith('+');
    const name = (plus ? part.slice(0, -1) : part) as Risk;
    const i = RISKS.indexOf(name);
    if (i === -1) throw new UsageError(`--risk "${part}" is not a risk: use ${RISKS.join(', ')}, a comma-separated list, or e.g. high+ for high and above`, {});
    for (const r of plus ? RISKS.slice(i) : [name]) out.add(r);
  }
  return [...out];
}

// ── rendering ──

const when = (time: string): string => time.replace('T', ' ').replace(/\.\d+Z$/, 'Z');

const short = (v: unknown): string => {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 39)}…` : s;
};

function what(e: AuditEvent): string {
  const s = e.summary;
  const change = [s.action, s.path].filter(Boolean).join(' ');
  const values = s.before !== undefined || s.after !== undefined ? ` ${s.before !== undefined ? short(s.before) : '∅'} → ${s.after !== undefined ? short(s.after) : '∅'}` : '';
  return [change + values, s.message].filter(Boolean).join(': ');
}

/** One line per event, for search results and traces. */
export function renderEventLines(events: readonly AuditEvent[]): string {
  if (!events.length) return '';
  const seqWidth = String(events[events.length - 1]!.seq).length;
  return (
    events
      .map((e) =>
        [`#${String(e.seq).padStart(seqWidth)}`, when(e.time), e.type.padEnd(16), (e.risk ?? '-').padEnd(8), e.target, e.agentId ? `${e.resource} (${e.agentId})` : e.resource, what(e)]
          .filter(Boolean)
          .join('  '),
      )
      .join('\n') + '\n'
  );
}

/** Every field of one event, for `audit show`. */
export function renderEventDetail(e: AuditEvent): string {
  const rows: Array<[string, string | undefined]> = [
    ['seq', String(e.seq)],
    ['time', e.time],
    ['type', e.type],
    ['actor', e.actor],
    ['trace', e.traceId],
    ['target', e.target],
    ['resource', e.resource],
    ['agent', e.agentId],
    ['risk', e.risk],
    ['message', e.summary.message],
    ['change', [e.summary.action, e.summary.category && `(${e.summary.category})`, e.summary.path].filter(Boolean).join(' ') || undefined],
    ['before', e.summary.before === undefined ? undefined : JSON.stringify(e.summary.before)],
    ['after', e.summary.after === undefined ? undefined : JSON.stringify(e.summary.after)],
    ['before hash', e.beforeHash],
    ['after hash', e.afterHash],
    [
      'approval',
      e.approval?.kind === 'pull-request'
        ? [
            ...e.approval.pulls.map((p) => `pull request #${p.pr} at ${p.headSha.slice(0, 12)}, approved by ${p.reviewers.map((r) => r.login).join(', ') || 'nobody'}`),
            ...(e.approval.ledger ? [`released by approvals/ledger.yaml entry ${e.approval.ledger}`] : []),
          ].join('; ')
        : e.approval
          ? `break-glass by ${e.approval.by}: ${e.approval.reason}`
          : undefined,
    ],
    ['desired commit', e.desiredCommit],
    ['prev', e.prev],
    ['hash', e.hash],
  ];
  const shown = rows.filter((r): r is [string, string] => r[1] !== undefined);
  const width = Math.max(...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}
