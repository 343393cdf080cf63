/**
 * Splitting a fleet across runs (DESIGN §11): `--shard I/N` keeps the targets whose rendezvous
 * (highest random weight) hash picks shard I of N. Every run computes the same split from the
 * target names alone, with no coordination, and when N grows only the targets the new shard wins
 * move (about 1/N of them), so leases and caches of the others stay put.
 */
import { createHash } from 'node:crypto';

export interface Shard {
  /** 1-based. */
  readonly index: number;
  readonly count: number;
}

export const MAX_SHARDS = 10_000;

/** `I/N` with 1 ≤ I ≤ N; undefined and a message when the text is not one. */
export function parseShard(text: string): Shard | { readonly error: string } {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) return { error: `expected I/N, e.g. 2/5 (shard 2 of 5); got "${text}"` };
  const [index, count] = [Number(m[1]), Number(m[2])];
  if (count < 1 || count > MAX_SHARDS) return { error: `N must be between 1 and ${MAX_SHARDS}; got ${count}` };
  if (index < 1 || index > count) return { error: `I must be between 1 and N (${count}), counting from 1; got ${index}` };
  return { index, count };
}

const weight = (shard: number, target: string): bigint => createHash('sha256').update(`${shard}\u0000${target}`).digest().readBigUInt64BE(0);

/** The shard (1-based) of `count` that owns `target`. */
export function shardOf(target: string, count: number): number {
  let best = 1;
  let top = -1n;
  for (let i = 1; i <= count; i++) {
    const w = weight(i, target);
    if (w > top) [best, top] = [i, w];
  }
  return best;
}

export const inShard = (target: string, shard: Shard): boolean => shard.count === 1 || shardOf(target, shard.count) === shard.index;
