/**
 * One gateway's drift, read the way a run needs it: live state (with every managed file clawops
 * last wrote), the config journal since the last apply, the drift itself, who made it, and since
 * when each field has been drifting (the drift record on the state branch, updated here: fields
 * no longer drifting are dropped, new ones get a first-seen time, a new live value counts as new).
 */
import { createHash } from 'node:crypto';
import type { OpenClawGateway } from '../../fleet/openclaw/gateway-api.ts';
import { effectiveDesired, type DesiredGateway } from '../desired/effective-state.ts';
import type { LoadedOf } from '../load/resource.ts';
import { openSession, type PlanContext } from '../plan/make-plan.ts';
import { readLive } from '../plan/read-live.ts';
import { explainGatewayError } from '../live/explain-gateway-error.ts';
import { DRIFT_LAST_SEEN_STEP_MS, type DriftRecord, type DriftRecordItem } from '../state/state-store.ts';
import { killedAgents, withoutKilled } from '../kill/killed.ts';
import { detectDrift, driftFileRefs, driftItemKey, secretValueHasher, type DriftItem } from './detect.ts';
import { attribute, readJournal } from './journal.ts';
import type { DriftView } from './render.ts';

export type DriftRead = { readonly target: string; readonly view: DriftView & { readonly firstSeen: Readonly<Record<string, string>> }; readonly newItems: readonly DriftItem[]; readonly record: DriftRecord };
export type GatewayDrift = DriftRead | { readonly target: string; readonly error: string };

/** Stands for the live value in the record (a secret's is already a keyed hash). */
const valueHash = (item: DriftItem): string => createHash('sha256').update(JSON.stringify(item.live ?? null)).digest('hex').slice(0, 16);

/** Reads the drift of `gw` on its own session. */
export async function readDrift(gw: LoadedOf<'Gateway'>, ctx: PlanContext): Promise<GatewayDrift> {
  const target = gw.name;
  const opened = await openSession(gw, ctx, { keepSession: false });
  if ('kind' in opened) return { target, error: opened.message };
  try {
    return await readDriftOn(opened.session, gw, ctx);
  } catch (e) {
    return { target, error: explainGatewayError(e, target).message };
  } finally {
    await opened.session.client.close();
  }
}

/** Reads the drift of `gw` on a session the caller owns (reconcile reads it on its plan's session); throws on gateway errors. */
export async function readDriftOn(session: OpenClawGateway, gw: LoadedOf<'Gateway'>, ctx: PlanContext, knownDesired?: DesiredGateway): Promise<DriftRead> {
  const target = gw.name;
  const [rendered, lastApplied, key] = await Promise.all([knownDesired ?? effectiveDesired(ctx.repo, gw), ctx.store.lastApplied(target), ctx.store.secretHashKey()]);
  // A killed agent (reconciler/kill) differs from last-applied on purpose: not drift.
  const desired = withoutKilled(rendered, await killedAgents(ctx.store, rendered));
  const live = await readLive(session, driftFileRefs(lastApplied));
  // The journal since clawops' own last write says who changed what (and shows redacted secrets
  // changing); `journalAt` is the gateway's clock, as the journal's entries are.
  const journal = await readJournal(session, { ...(lastApplied?.journalAt !== undefined ? { since: lastApplied.journalAt + 1 } : {}), maxPages: 5 });
  const report = detectDrift({ target, live, lastApplied, desired, secretHash: secretValueHasher(key), journal: journal.entries });
  const byItem = attribute(journal.entries, report.items);
  const now = ctx.now();
  const before = (await ctx.store.driftRecord(target))?.items ?? {};
  const items: Record<string, DriftRecordItem> = {};
  let changed = Object.keys(before).length !== report.items.length;
  for (const item of report.items) {
    const k = driftItemKey(item);
    const was = before[k];
    const live = valueHash(item);
    const same = was?.live === live;
    // The journal is read from clawops' last write on: once a later write (a revert elsewhere on
    // the gateway) moved that mark, the record still knows who made this unchanged drift.
    if (!byItem.has(k) && same && was.who) byItem.set(k, [{ at: Date.parse(was.who.at), kind: was.who.kind, source: was.who.source, summary: '' }]);
    const who = byItem.get(k)?.[0];
    const stale = !was?.lastSeen || now.getTime() - Date.parse(was.lastSeen) >= DRIFT_LAST_SEEN_STEP_MS;
    items[k] = {
      firstSeen: was?.firstSeen ?? now.toISOString(),
      lastSeen: same && !stale ? was.lastSeen! : now.toISOString(),
      live,
      ...(who ? { who: { source: who.source, kind: who.kind, at: new Date(who.at).toISOString() } } : {}),
    };
    if (!same || stale || (who && was?.who?.at !== items[k].who?.at)) changed = true;
  }
  const record: DriftRecord = { target, items };
  // Written only when the drift changes (or last-seen grows stale), so a quiet run leaves no state commit.
  if (changed) await ctx.store.saveDriftRecord(record);
  return {
    target,
    record,
    view: { report, who: { byItem, complete: journal.complete }, firstSeen: Object.fromEntries(Object.entries(items).map(([k, v]) => [k, v.firstSeen])) },
    newItems: report.items.filter((i) => before[driftItemKey(i)]?.live !== valueHash(i)),
  };
}
