/**
 * Who made a drift: the gateway's config journal (`openclaw.changes.list`, research §5) lists,
 * newest first, every write to its config with where it came from (`cli`, `config-rpc`,
 * `external`, `doctor`, …) and the config paths it changed, never the values. Drift items are
 * matched to entries by path. Cron jobs, workspace files and exec approvals live outside the
 * config, so the journal never names them: their items get no entries.
 */
import type { ChangeJournalEntry, OpenClawGateway } from '../../fleet/openclaw/gateway-api.ts';
import { parseResourcePath } from '../plan/resource-path.ts';
import { driftItemKey, type DriftItem } from './detect.ts';

/** One journal entry, as drift records and PRs show it. */
export interface Attribution {
  /** Gateway clock, ms since the epoch. */
  readonly at: number;
  readonly kind: string;
  readonly source: string;
  readonly summary: string;
}

export interface WhoChangedOptions {
  /** Stop at entries older than this (gateway clock, ms); default: read up to `maxPages`. */
  readonly since?: number;
  /**
   * Default 10 pages of `pageSize`: the journal keeps 50,000 entries, a drift check needs the
   * recent ones. Without `since`, reading also stops at the page where every item has a match.
   */
  readonly maxPages?: number;
  /** 1–200 (the gateway's limit); default 200. */
  readonly pageSize?: number;
  /** Entries kept per item, newest first; default 3. */
  readonly perItem?: number;
}

export interface WhoChanged extends JournalRead {
  /** By `driftItemKey(item)`: the newest matching entries first. Items nothing matched are absent. */
  readonly byItem: ReadonlyMap<string, readonly Attribution[]>;
}

/**
 * The config paths of an item as the journal writes them, or none when the journal does not cover
 * its section. A route is one entry of the top-level `bindings` list, which the journal names whole.
 */
export function journalPaths(item: Pick<DriftItem, 'agentId' | 'section' | 'path'>): string[] {
  const agent = `agents.entries.${item.agentId}`;
  switch (item.section) {
    case 'agent':
      return [agent];
    case 'config':
      return [[agent, ...parseResourcePath(item.path).slice(2)].join('.')];
    case 'bindings':
      return ['bindings'];
    default:
      return [];
  }
}

/** Either path lies under the other: a write of `agents.entries.x` changed `agents.entries.x.model`, and the reverse. */
export const pathsOverlap = (a: string, b: string): boolean => a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`);

export interface JournalRead {
  /** Newest first (also `detectDrift`'s `journal`, which sees redacted secrets rewritten through it). */
  readonly entries: readonly ChangeJournalEntry[];
  /** Read back to `since` or to the journal's first entry (false: cut off at `maxPages`, or `enough`). */
  readonly complete: boolean;
}

/** Pages through the journal, newest first, with `beforeCursor`; bounded by `since` and `maxPages`. */
export async function readJournal(
  gateway: Pick<OpenClawGateway, 'changesList'>,
  opts: Omit<WhoChangedOptions, 'perItem'> & { enough?: (entries: readonly ChangeJournalEntry[]) => boolean } = {},
): Promise<JournalRead> {
  const maxPages = opts.maxPages ?? 10;
  const limit = Math.min(200, Math.max(1, opts.pageSize ?? 200));
  const entries: ChangeJournalEntry[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const r = await gateway.changesList({ limit, ...(cursor ? { beforeCursor: cursor } : {}) });
    for (const e of r.entries) {
      if (opts.since !== undefined && e.at < opts.since) return { entries, complete: true };
      entries.push(e);
    }
    if (!r.nextCursor || r.entries.length === 0) return { entries, complete: true };
    if (opts.enough?.(entries)) return { entries, complete: false };
    cursor = r.nextCursor;
  }
  return { entries, complete: false };
}

/** Per item, the newest entries (at most `perItem`) whose changed paths overlap the item's. */
export function attribute(entries: readonly ChangeJournalEntry[], items: readonly DriftItem[], perItem = 3): Map<string, Attribution[]> {
  const byItem = new Map<string, Attribution[]>();
  for (const item of items) {
    const paths = journalPaths(item);
    if (paths.length === 0) continue;
    const found = entries
      .filter((e) => e.changedPaths.some((p) => paths.some((q) => pathsOverlap(p, q))))
      .slice(0, perItem)
      .map((e) => ({ at: e.at, kind: e.kind, source: e.source, summary: e.summary }));
    if (found.length) byItem.set(driftItemKey(item), found);
  }
  return byItem;
}

export async function whoChanged(
  gateway: Pick<OpenClawGateway, 'changesList'>,
  items: readonly DriftItem[],
  opts: WhoChangedOptions = {},
): Promise<WhoChanged> {
  const perItem = opts.perItem ?? 3;
  const answerable = items.filter((i) => journalPaths(i).length > 0);
  if (answerable.length === 0 && opts.since === undefined) return { byItem: new Map(), complete: true, entries: [] };
  // Without `since`, stop at the page where every item has its latest writer; with it, the caller asked for the whole window.
  const enough =
    opts.since === undefined
      ? (entries: readonly ChangeJournalEntry[]) => {
          const found = attribute(entries, answerable, 1);
          return answerable.every((i) => found.has(driftItemKey(i)));
        }
      : undefined;
  const read = await readJournal(gateway, { ...opts, ...(enough ? { enough } : {}) });
  return { byItem: attribute(read.entries, items, perItem), complete: read.complete, entries: read.entries };
}
