/**
 * The plan as a pull-request comment: the totals, a table of gateways, and one collapsed section
 * per gateway with its changes in ```diff blocks (GitHub colours `+` and `-` lines).
 *
 * GitHub refuses comments over 65,536 characters, so the comment is built to a budget: when the
 * whole plan does not fit, the table loses rows first (unchanged gateways are folded into one
 * row, then the tail into a row with exact totals), then whole gateway sections are left out and
 * a closing line says how many and how many changes. Nothing is cut inside a fence or a tag.
 */
import type { Risk } from '../../model/common.ts';
import type { GatewayPlan, Plan, PlanError, PlanNote } from '../plan.ts';
import { viewChange, type BodyLine, type ChangeView } from './change-view.ts';
import { gatewayState, hasSection } from './gateway-state.ts';
import { codeSpan, escapeHtml, escapeText, fenceFor, tableCell } from './markdown-escape.ts';
import { groupByAgent, sortedGateways } from './order.ts';
import { failureKind, fleetTally, gateCounts, plural, riskCounts, summarySentence, tally, total, type Tally } from './tally.ts';

export interface MarkdownOptions {
  /** Upper bound on the comment's length; below ~1,000 it cannot be met. */
  readonly maxChars?: number;
}

export const DEFAULT_MAX_CHARS = 60_000;

/** A value longer than this is cut inside its block; the JSON plan has it whole. */
const VALUE_LINES = 40;
const LINE_CHARS = 400;

// ---- one gateway's section ----

const riskLabel = (risk: Risk | undefined): string => (risk === undefined ? '–' : risk === 'critical' ? '**critical**' : risk);

function bodyLines(body: readonly BodyLine[]): string[] {
  const shown = body.slice(0, VALUE_LINES).map((b) => {
    // Never between the two halves of a surrogate pair.
    const cut = /[\ud800-\udbff]/.test(b.text.charAt(LINE_CHARS - 1)) ? LINE_CHARS - 1 : LINE_CHARS;
    const text = b.text.length > LINE_CHARS ? `${b.text.slice(0, cut)}…` : b.text;
    return `${b.sign}     ${text}`;
  });
  if (body.length > VALUE_LINES) shown.push(`      … ${body.length - VALUE_LINES} more lines: see the JSON plan`);
  return shown;
}

function changeLines(v: ChangeView): string[] {
  const location = v.location ? `  ${v.location}` : '';
  return [`${v.sigil} ${v.head}  [${v.risk}]${v.gate ? ` ${v.gate}` : ''}${location}`, ...bodyLines(v.body)];
}

function fenced(info: string, lines: readonly string[]): string {
  const content = lines.join('\n');
  const fence = fenceFor(content);
  return `${fence}${info}\n${content}\n${fence}`;
}

const at = (source: PlanError['source']): string => (source ? ` (${codeSpan(`${source.file}:${source.line}`)})` : '');
const errorItem = (e: PlanError): string => `- **error** (${escapeText(e.kind)}): ${escapeText(e.message)}${at(e.source)}`;
const noteItem = (n: PlanNote): string => `- ${n.level === 'warning' ? '**warning**' : 'note'}: ${escapeText(n.message)}${at(n.source)}`;

function summaryHtml(g: GatewayPlan): string {
  const t = tally(g.changes);
  const risk = t.highestRisk === undefined ? '' : ` · highest risk ${t.highestRisk === 'critical' ? '<b>critical</b>' : t.highestRisk}`;
  return `<summary><code>${escapeHtml(g.gateway)}</code>: ${escapeHtml(gatewayState(g))}${risk}</summary>`;
}

function gatewaySection(g: GatewayPlan, open: boolean): string {
  const where = [codeSpan(g.url), ...(g.version ? [`openclaw ${codeSpan(g.version)}`] : [])].join(' · ');
  const blocks = [`<details${open ? ' open' : ''}>\n${summaryHtml(g)}`, where];
  if (g.errors.length) blocks.push(g.errors.map(errorItem).join('\n'));
  for (const group of groupByAgent(g.changes)) {
    const id = group.agentId === '' ? 'gateway-wide' : `id ${codeSpan(group.agentId)}`;
    blocks.push(`${codeSpan(group.resource)} (${id})`, fenced('diff', group.changes.flatMap((c) => changeLines(viewChange(c)))));
  }
  if (g.notes.length) blocks.push(g.notes.map(noteItem).join('\n'));
  blocks.push('</details>');
  return blocks.join('\n\n');
}

// ---- the summary table ----

const HEADER = '| Gateway | Changes | Create / update / delete | Highest risk | Status |\n| :-- | --: | :-: | :-- | :-- |';

const row = (cells: readonly string[]): string => `| ${cells.map(tableCell).join(' | ')} |`;

const countsCell = (t: Tally): string => (total(t) === 0 ? '–' : `${t.create} / ${t.update} / ${t.delete}`);

function gatewayRow(g: GatewayPlan): string {
  const t = tally(g.changes);
  const planned = g.status === 'ok' || g.changes.length > 0;
  const status = g.status === 'ok' ? 'ok' : `**error**: ${escapeText(failureKind(g))}`;
  return row([codeSpan(g.gateway), planned ? String(total(t)) : '–', countsCell(t), riskLabel(t.highestRisk), status]);
}

/** One row standing for many gateways, with their exact totals. */
function foldedRow(label: string, gateways: readonly GatewayPlan[]): string {
  const f = fleetTally(gateways);
  const status = f.gatewaysWithErrors === 0 ? 'ok' : `**error**: ${f.gatewaysWithErrors} not planned`;
  return row([label, String(total(f.changes)), countsCell(f.changes), riskLabel(f.changes.highestRisk), status]);
}

const table = (rows: readonly string[]): string => [HEADER, ...rows].join('\n');

/** The table, within `budget` characters when possible: whole, then unchanged folded, then cut. */
function fitTable(gateways: readonly GatewayPlan[], budget: number): string {
  const full = table(gateways.map(gatewayRow));
  if (full.length <= budget) return full;

  const listed = gateways.filter(hasSection);
  const unchanged = gateways.filter((g) => !hasSection(g));
  const folded = [...listed.map(gatewayRow), ...(unchanged.length ? [foldedRow(`… ${plural(unchanged.length, 'gateway')} with no changes`, unchanged)] : [])];
  if (table(folded).length <= budget) return table(folded);

  // Cut: the first sections' rows, then one row with the exact totals of every other gateway.
  const tail = (shown: number): string => {
    const kept = new Set(listed.slice(0, shown));
    const rest = gateways.filter((g) => !kept.has(g));
    return foldedRow(`… ${plural(rest.length, 'more gateway', 'more gateways')}`, rest);
  };
  const rows: string[] = [];
  let length = HEADER.length;
  for (const g of listed) {
    const r = gatewayRow(g);
    if (length + r.length + 1 > budget) break;
    rows.push(r);
    length += r.length + 1;
  }
  while (rows.length > 0 && table([...rows, tail(rows.length)]).length > budget) rows.pop();
  return table([...rows, tail(rows.length)]);
}

// ---- the whole comment ----

function head(plan: Plan, gateways: readonly GatewayPlan[]): string {
  const t = fleetTally(gateways);
  const facts = [
    ...(total(t.changes) ? [`Risk: ${riskCounts(t.changes)}`] : []),
    ...(gateCounts(t.changes) ? [`Policy: ${gateCounts(t.changes)}`] : []),
    ...(plan.commit ? [`commit ${codeSpan(plan.commit.slice(0, 12))}`] : []),
    `live state read ${escapeText(plan.createdAt)}`,
  ];
  const notes = plan.notes.length ? `\n\n${plan.notes.map(noteItem).join('\n')}` : '';
  return `## clawops plan\n\n**${escapeText(summarySentence(gateways))}**\n\n${facts.join(' · ')}${notes}`;
}

const omissionNote = (gateways: number, changes: number): string =>
  `… ${plural(gateways, 'more gateway', 'more gateways')} (${plural(changes, 'change')}) not shown: the full plan is in the job's artifact, or run \`clawops plan\`.`;

/** Blocks are joined by a blank line and the comment ends with a newline. */
const joinedLength = (blocks: readonly string[]): number => blocks.reduce((n, b) => n + b.length + 2, 0) - 1;

export function renderPlanMarkdown(plan: Plan, options: MarkdownOptions = {}): string {
  const maxChars = options.maxChars ?? DEFAULT_MAX_CHARS;
  const gateways = sortedGateways(plan);
  const top = head(plan, gateways);
  // A lone gateway with changes is what the reviewer came for: shown open.
  const changed = gateways.filter((g) => g.changes.length > 0);
  const sections = gateways.filter(hasSection).map((g) => ({ text: gatewaySection(g, changed.length === 1 && changed[0] === g), changes: g.changes.length }));

  const whole = [top, table(gateways.map(gatewayRow)), ...sections.map((s) => s.text)];
  if (joinedLength(whole) <= maxChars) return whole.join('\n\n') + '\n';

  // Room for the table and sections, keeping space for the closing note at its longest.
  const allChanges = sections.reduce((n, s) => n + s.changes, 0);
  const room = maxChars - joinedLength([top, omissionNote(Math.max(2, sections.length), Math.max(2, allChanges))]);
  const sectionsLength = sections.reduce((n, s) => n + s.text.length + 2, 0);
  const summary = fitTable(gateways, Math.max(Math.floor(room / 2), room - sectionsLength) - 2);

  let left = room - summary.length - 2;
  const shown: string[] = [];
  let omitted = 0;
  let omittedChanges = 0;
  for (const s of sections) {
    if (s.text.length + 2 <= left) {
      shown.push(s.text);
      left -= s.text.length + 2;
    } else {
      omitted += 1;
      omittedChanges += s.changes;
    }
  }
  const note = omitted ? [omissionNote(omitted, omittedChanges)] : [];
  return [top, summary, ...shown, ...note].join('\n\n') + '\n';
}
