/**
 * Leases keep two reconcile runs off the same shard (DESIGN §11): `state/leases/<shard>.json`
 * `{ holder, acquiredAt, expiresAt }`, taken, renewed and released through the state branch's
 * compare-and-swap update, so of two runs racing for a shard exactly one wins; the other sees the
 * winner's lease when it rebuilds on the new tip.
 */
import type { StateBranch, TreeView } from '../git/state-branch.ts';
import { stableJson } from './git-branch-store.ts';

export interface Lease {
  readonly holder: string;
  readonly acquiredAt: string;
  readonly expiresAt: string;
}

export type LeaseResult =
  | { readonly status: 'acquired'; readonly lease: Lease }
  /** Someone else holds it and it has not expired; nothing was written. */
  | { readonly status: 'held'; readonly holder: string; readonly expiresAt: string }
  /** Renew only: the lease is no longer ours (taken over after it expired, or released); nothing was written. */
  | { readonly status: 'lost'; readonly holder?: string; readonly expiresAt?: string };

export const leasePath = (shard: string): string => {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(shard)) throw new RangeError(`not a usable shard name: "${shard}"`);
  return `state/leases/${shard}.json`;
};

async function readLease(base: TreeView, shard: string): Promise<Lease | undefined> {
  const bytes = await base.readFile(leasePath(shard));
  return bytes === undefined ? undefined : (JSON.parse(Buffer.from(bytes).toString('utf8')) as Lease);
}

const expired = (lease: Lease, at: Date): boolean => Date.parse(lease.expiresAt) <= at.getTime();

interface Decision<R> {
  readonly result: R;
  /** The lease file's new content, null to delete it; absent: write nothing. */
  readonly next?: Lease | null;
  readonly message?: string;
}

async function decideAndWrite<R>(branch: StateBranch, shard: string, now: () => Date, decide: (current: Lease | undefined, at: Date) => Decision<R>): Promise<R> {
  let decision: Decision<R> | undefined;
  // A decision to write nothing ("held") is never checked by a push: make it on the remote's latest tip.
  await branch.fetch();
  await branch.update(async (base) => {
    // Decided again on every attempt: after a lost race the current lease is the winner's.
    decision = decide(await readLease(base, shard), now());
    const { next, message } = decision;
    if (next === undefined) return undefined;
    return { files: new Map([[leasePath(shard), next === null ? null : Buffer.from(stableJson(next), 'utf8')]]), message: message! };
  });
  return decision!.result;
}

const lost = (current: Lease | undefined): LeaseResult => (current ? { status: 'lost', holder: current.holder, expiresAt: current.expiresAt } : { status: 'lost' });

/** Takes the shard's lease for `ttlMs`, unless someone else holds an unexpired one. Taking your own lease again extends it. */
export function acquireLease(branch: StateBranch, shard: string, holder: string, ttlMs: number, now: () => Date): Promise<LeaseResult> {
  return decideAndWrite<LeaseResult>(branch, shard, now, (current, at) => {
    if (current && current.holder !== holder && !expired(current, at)) return { result: { status: 'held', holder: current.holder, expiresAt: current.expiresAt } };
    const mine = current?.holder === holder && !expired(current, at);
    const lease: Lease = { holder, acquiredAt: mine ? current.acquiredAt : at.toISOString(), expiresAt: new Date(at.getTime() + ttlMs).toISOString() };
    const took = current && current.holder !== holder ? ` (the lease of ${current.holder} expired at ${current.expiresAt})` : '';
    return { result: { status: 'acquired', lease }, next: lease, message: `lease: ${holder} holds shard ${shard} until ${lease.expiresAt}${took}\n` };
  });
}

/** Extends a lease this holder still has (even past expiry, if nobody took it meanwhile). */
export function renewLease(branch: StateBranch, shard: string, holder: string, ttlMs: number, now: () => Date): Promise<LeaseResult> {
  return decideAndWrite<LeaseResult>(branch, shard, now, (current, at) => {
    if (current?.holder !== holder) return { result: lost(current) };
    const lease: Lease = { holder, acquiredAt: current.acquiredAt, expiresAt: new Date(at.getTime() + ttlMs).toISOString() };
    return { result: { status: 'acquired', lease }, next: lease, message: `lease: ${holder} renews shard ${shard} until ${lease.expiresAt}\n` };
  });
}

/** Gives the lease up if this holder has it (nothing is written otherwise); true when it was released. */
export function releaseLease(branch: StateBranch, shard: string, holder: string): Promise<boolean> {
  return decideAndWrite<boolean>(branch, shard, () => new Date(), (current) =>
    current?.holder === holder ? { result: true, next: null, message: `lease: ${holder} releases shard ${shard}\n` } : { result: false },
  );
}
