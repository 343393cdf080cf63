/**
 * Drift for people: the body of a drift pull request (Markdown, one table per gateway) and a short
 * text summary for the terminal. Each row: the field, git's value (what clawops last applied),
 * live's, who changed it and when (the gateway's config journal), and when clawops first saw it.
 * Secrets show as "(secret changed)", never a value or hash; file contents never appear.
 */
import { codeSpan, escapeText, tableCell } from '../plan/render/markdown-escape.ts';
import { printable } from '../plan/render/printable.ts';
import { driftItemKey, type DriftItem, type DriftReport } from './detect.ts';
import { journalPaths, type Attribution } from './journal.ts';
import type { SkippedItem } from './adopt-yaml.ts';

export interface DriftView {
  readonly report: DriftReport;
  /** whoChanged's answer for this gateway. */
  readonly who?: { readonly byItem: ReadonlyMap<string, readonly Attribution[]>; readonly complete: boolean };
  /** When each item (by `driftItemKey`) was first seen drifting, ISO 8601; from the drift records. */
  readonly firstSeen?: Readonly<Record<string, string>>;
}

export interface DriftMarkdownOptions {
  /** What adoption left out, listed with the reasons (a drift PR's "not in this PR" section). */
  readonly skipped?: readonly SkippedItem[];
  /** Upper bound on the length (GitHub refuses bodies over 65,536 characters); rows past it are counted, not shown. */
  readonly maxChars?: number;
}

export const DEFAULT_MAX_CHARS = 60_000;

/** A value cut to this many characters in a cell; the drift JSON has it whole. */
const CELL_CHARS = 80;

const cut = (s: string, n = CELL_CHARS): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** A value in one line: strings bare, everything else as JSON. */
function valueText(item: DriftItem, side: 'lastApplied' | 'live'): string {
  const v = item[side];
  if (item.secret) {
    if (v === undefined) return side === 'live' ? '(secret removed)' : '(no secret)';
    return side === 'live' ? '(secret changed)' : '(secret)';
  }
  if (v === undefined) return side === 'live' ? '(removed)' : '(not set)';
  if (item.section === 'agent') return side === 'live' ? '(removed)' : '(agent)';
  return printable(typeof v === 'string' ? v : JSON.stringify(v));
}

const when = (ms: number | string): string => new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + 'Z';

function whoText(view: DriftView, item: DriftItem): string {
  if (journalPaths(item).length === 0) return 'not in the gateway journal';
  const a = view.who?.byItem.get(driftItemKey(item))?.[0];
  if (a) return `${a.source} (${a.kind}), ${when(a.at)}`;
  if (!view.who) return '';
  return view.who.complete ? 'unknown' : 'unknown (older than the journal read)';
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

function headline(views: readonly DriftView[]): string {
  const drifted = views.filter((v) => v.report.items.length > 0);
  const fields = drifted.reduce((n, v) => n + v.report.items.length, 0);
  if (fields === 0) return `No drift: live matches what clawops last applied on ${plural(views.length, 'gateway')}.`;
  return `${plural(fields, 'field')} changed outside git on ${drifted.length} of ${plural(views.length, 'gateway')}.`;
}

export function renderDriftMarkdown(views: readonly DriftView[], opts: DriftMarkdownOptions = {}): string {
  const budget = opts.maxChars ?? DEFAULT_MAX_CHARS;
  const blocks = ['## Drift: live differs from git', escapeText(headline(views))];
  let used = blocks.join('\n\n').length;
  let left = 0;
  // Once one line is left out, so is everything after it: the body reads in order, with one gap at the end.
  const fits = (text: string) => {
    // Room is kept for the closing line that counts what was left out.
    if (left || used + text.length + 200 > budget) return false;
    used += text.length + 2;
    return true;
  };
  for (const view of [...views].sort((a, b) => a.report.target.localeCompare(b.report.target))) {
    if (view.report.items.length === 0) continue;
    const head = `### ${codeSpan(view.report.target)}\n\n| Field | Git (last applied) | Live | Changed by | First seen |\n| :-- | :-- | :-- | :-- | :-- |`;
    if (!fits(head)) {
      left += view.report.items.length;
      continue;
    }
    const rows: string[] = [];
    for (const item of view.report.items) {
      const row = tableRow(view, item);
      if (fits(row)) rows.push(row);
      else left++;
    }
    blocks.push([head, ...rows].join('\n'));
  }
  const skipped = (opts.skipped ?? []).map((s) => `- ${codeSpan(s.target)} ${codeSpan(s.item.resource ?? `agent ${s.item.agentId}`)} ${codeSpan(s.item.path)}: ${escapeText(s.why)}`);
  if (skipped.length && fits('### Not adopted')) {
    const shown = skipped.filter((line) => fits(line));
    blocks.push(['### Not adopted', shown.join('\n')].join('\n\n'));
    left += skipped.length - shown.length;
  } else left += skipped.length;
  if (left) blocks.push(`… and ${plural(left, 'more line')} left out to fit; \`clawops drift --json\` has them all.`);
  return `${blocks.join('\n\n')}\n`;
}

function tableRow(view: DriftView, item: DriftItem): string {
  const seen = view.firstSeen?.[driftItemKey(item)];
  const cells = [
    `${codeSpan(item.resource ?? `agent ${item.agentId}`)}<br>${codeSpan(item.path)}`,
    codeSpan(cut(valueText(item, 'lastApplied'))),
    codeSpan(cut(valueText(item, 'live'))),
    escapeText(whoText(view, item)),
    seen ? escapeText(when(seen)) : '',
  ];
  return `| ${cells.map(tableCell).join(' | ')} |`;
}

/** A few lines for the terminal: one per drifted field, grouped by gateway. */
export function renderDriftSummary(views: readonly DriftView[]): string {
  const lines = [headline(views)];
  for (const view of [...views].sort((a, b) => a.report.target.localeCompare(b.report.target))) {
    for (const item of view.report.items) {
      const who = whoText(view, item);
      lines.push(
        `  ${printable(view.report.target)}  ${printable(item.resource ?? `agent ${item.agentId}`)}  ${printable(item.path)}: ${cut(valueText(item, 'lastApplied'), 40)} → ${cut(valueText(item, 'live'), 40)}${who ? `  (${who})` : ''}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
