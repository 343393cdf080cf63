/**
 * `clawops plan` in a terminal, read like `terraform plan`: per gateway, per agent, one line per
 * change with its risk and the YAML that asked for it, then one sentence with the totals.
 */
import type { GatewayPlan, Plan, PlanError, PlanNote } from '../plan.ts';
import { viewChange, type ChangeView } from './change-view.ts';
import { gatewayState, hasSection } from './gateway-state.ts';
import { groupByAgent, sortedGateways } from './order.ts';
import { printable, printableLines } from './printable.ts';
import { summarySentence } from './tally.ts';

export interface TextOptions {
  /** ANSI colour; the CLI passes `isTTY && !NO_COLOR`. */
  readonly color: boolean;
}

type Style = 'bold' | 'dim' | 'red' | 'green' | 'yellow';
const SGR: Record<Style, string> = { bold: '1', dim: '2', red: '31', green: '32', yellow: '33' };
type Paint = (text: string, ...styles: Style[]) => string;

const painter =
  (color: boolean): Paint =>
  (text, ...styles) =>
    color && text && styles.length ? `\x1b[${styles.map((s) => SGR[s]).join(';')}m${text}\x1b[0m` : text;

const ACTION_STYLE = { '+': 'green', '~': 'yellow', '-': 'red' } as const;

/** Unchanged gateways are named in one line; past this many only counted, for big fleets. */
const UNCHANGED_NAMED = 10;

function changeLines(v: ChangeView, paint: Paint): string[] {
  const risk = paint(`[${v.risk}]`, ...(v.risk === 'critical' ? (['bold'] as const) : []));
  const location = v.location ? `  ${paint(v.location, 'dim')}` : '';
  const gate = v.gate ? ` ${paint(v.gate, ...(v.effect === 'deny' ? (['red', 'bold'] as const) : v.effect === 'require-approval' ? (['yellow'] as const) : (['dim'] as const)))}` : '';
  const head = `    ${paint(`${v.sigil} ${v.head}`, ACTION_STYLE[v.sigil])}  ${risk}${gate}${location}`;
  return [head, ...v.body.map((b) => `        ${paint(`${b.sign} ${b.text}`, ACTION_STYLE[b.sign])}`)];
}

function messageLines(label: string, message: string, source: PlanError['source'], paint: Paint, style: Style): string[] {
  const [first = '', ...rest] = printableLines(message);
  const at = source ? `  ${paint(`(${printable(source.file)}:${source.line})`, 'dim')}` : '';
  return [`  ${paint(`${label}:`, style)} ${first}${rest.length ? '' : at}`, ...rest.map((l, i) => `    ${l}${i === rest.length - 1 ? at : ''}`)];
}

const errorLines = (e: PlanError, paint: Paint): string[] => messageLines(`error (${printable(e.kind)})`, e.message, e.source, paint, 'red');
const noteLines = (n: PlanNote, paint: Paint): string[] =>
  messageLines(n.level === 'warning' ? 'warning' : 'note', n.message, n.source, paint, n.level === 'warning' ? 'yellow' : 'dim');

function gatewaySection(g: GatewayPlan, paint: Paint): string[] {
  const where = [printable(g.url), ...(g.version ? [`openclaw ${printable(g.version)}`] : [])].join(', ');
  const lines = [`${paint(`Gateway ${printable(g.gateway)}`, 'bold')} (${where}): ${gatewayState(g)}`];
  for (const e of g.errors) lines.push(...errorLines(e, paint));
  for (const group of groupByAgent(g.changes)) {
    const id = group.agentId === '' ? 'gateway-wide' : `id ${printable(group.agentId)}`;
    lines.push('', `  ${printable(group.resource)} (${id})`);
    for (const c of group.changes) lines.push(...changeLines(viewChange(c), paint));
  }
  if (g.notes.length) lines.push('');
  for (const n of g.notes) lines.push(...noteLines(n, paint));
  return lines;
}

function unchangedLine(gateways: readonly GatewayPlan[]): string[] {
  if (gateways.length === 0) return [];
  const names = gateways.slice(0, UNCHANGED_NAMED).map((g) => printable(g.gateway));
  if (gateways.length <= UNCHANGED_NAMED) return [`No changes on ${names.join(', ')}.`];
  return [`No changes on ${gateways.length} gateways: ${names.join(', ')} and ${gateways.length - UNCHANGED_NAMED} more.`];
}

export function renderPlanText(plan: Plan, options: TextOptions): string {
  const paint = painter(options.color);
  const gateways = sortedGateways(plan);
  const blocks: string[][] = gateways.filter(hasSection).map((g) => gatewaySection(g, paint));
  const unchanged = unchangedLine(gateways.filter((g) => !hasSection(g)));
  if (unchanged.length) blocks.push(unchanged);
  if (plan.notes.length) blocks.push(plan.notes.flatMap((n) => noteLines(n, paint)));
  blocks.push([paint(summarySentence(gateways), 'bold')]);
  return blocks.map((b) => b.join('\n')).join('\n\n') + '\n';
}
