/**
 * One gateway's drift, read the way a run needs it: live state (with every managed file clawops
 * last wrote), the config journal since the last apply, the drift itself, who made it, and since
 * when each field has been drifting (the drift record on the state branch, updated here: fields
 * no longer drifting are dropped, new ones get a first-seen time, a new live value counts as new).
 */
import { createHash } from 'node:crypto';
import { effectiveDesired } from '../desired/effective-state.ts';
import type { LoadedOf } from '../load/resource.ts';
import { openSession, type PlanContext } from '../plan/make-plan.ts';
import { readLive } from '../plan/read-live.ts';
import { explainGatewayError } from '../live/explain-gateway-error.ts';
import type { DriftRecord } from '../state/state-store.ts';
import { detectDrift, driftFileRefs, driftItemKey, secretValueHasher, type DriftItem } from './detect.ts';
import { attribute, readJournal } from './journal.ts';
import type { DriftView } from './render.ts';

export type GatewayDrift =
  | { readonly target: string; readonly view: DriftView & { readonly firstSeen: Readonly<Record<string, string>> }; readonly newItems: readonly DriftItem[] }
  | { readonly target: string; readonly error: string };

/** Stands for the live value in the record (a secret's is already a keyed hash). */
const valueHash = (item: DriftItem): string => createHash('sha256').update(JSON.stringify(item.live ?? null)).digest('hex').slice(0, 16);

export async function readDrift(gw: LoadedOf<'Gateway'>, ctx: PlanContext): Promise<GatewayDrift> {
  const target = gw.name;
  const opened = await openSession(gw, ctx, { keepSession: false });
  if ('kind' in opened) return { target, error: opened.message };
  const { session } = opened;
  try {
    const [desired, lastApplied, key] = await Promise.all([effectiveDesired(ctx.repo, gw), ctx.store.lastApplied(target), ctx.store.secretHashKey()]);
    const live = await readLive(session, driftFileRefs(lastApplied));
    // The journal since clawops' own last write says who changed what (and shows redacted secrets
    // changing); `journalAt` is the gateway's clock, as the journal's entries are.
    const journal = await readJournal(session, { ...(lastApplied?.journalAt !== undefined ? { since: lastApplied.journalAt + 1 } : {}), maxPages: 5 });
    const report = detectDrift({ target, live, lastApplied, desired, secretHash: secretValueHasher(key), journal: journal.entries });
    const now = ctx.now().toISOString();
    const before = (await ctx.store.driftRecord(target))?.items ?? {};
    const items: Record<string, { firstSeen: string; live: string }> = {};
    for (const item of report.items) items[driftItemKey(item)] = { firstSeen: before[driftItemKey(item)]?.firstSeen ?? now, live: valueHash(item) };
    const record: DriftRecord = { target, items };
    // Written only when the drift changes, so a quiet run leaves no state commit.
    if (JSON.stringify(before) !== JSON.stringify(items)) await ctx.store.saveDriftRecord(record);
    return {
      target,
      view: { report, who: { byItem: attribute(journal.entries, report.items), complete: journal.complete }, firstSeen: Object.fromEntries(Object.entries(items).map(([k, v]) => [k, v.firstSeen])) },
      newItems: report.items.filter((i) => before[driftItemKey(i)]?.live !== valueHash(i)),
    };
  } catch (e) {
    return { target, error: explainGatewayError(e, target).message };
  } finally {
    await session.client.close();
  }
}
