/**
 * `--shard I/N`: rendezvous hashing splits the fleet so that every gateway lands in exactly one
 * shard, the shards come out about even, and adding a shard moves only what the new one wins.
 */
import { describe, expect, it } from 'vitest';
import { inShard, parseShard, shardOf } from '../reconciler/live/shard.ts';
import { clawops } from './helpers/cli.ts';
import { liveRepos } from './helpers/live-repo.ts';

const names = Array.from({ length: 10_000 }, (_, i) => `gw-${i.toString(36)}-eu`);

describe('rendezvous sharding', () => {
  it('reads I/N counting from 1 and says what is wrong otherwise', () => {
    expect(parseShard('2/5')).toEqual({ index: 2, count: 5 });
    expect(parseShard(' 1 / 1 ')).toEqual({ index: 1, count: 1 });
    expect(parseShard('0/3')).toEqual({ error: 'I must be between 1 and N (3), counting from 1; got 0' });
    expect(parseShard('4/3')).toEqual({ error: 'I must be between 1 and N (3), counting from 1; got 4' });
    expect(parseShard('2')).toEqual({ error: 'expected I/N, e.g. 2/5 (shard 2 of 5); got "2"' });
    expect(parseShard('1/0')).toEqual({ error: 'N must be between 1 and 10000; got 0' });
  });

  it('puts every gateway in exactly one shard, the shards within 10% of even', () => {
    const count = 4;
    const sizes = new Array<number>(count).fill(0);
    for (const n of names) {
      const owners = [1, 2, 3, 4].filter((index) => inShard(n, { index, count }));
      expect(owners, n).toHaveLength(1);
      sizes[owners[0]! - 1]!++;
    }
    for (const s of sizes) expect(Math.abs(s - names.length / count)).toBeLessThan((names.length / count) * 0.1);
  });

  it('moves only what a new shard wins when the fleet goes from 4 to 5 shards', () => {
    const moved = names.filter((n) => shardOf(n, 4) !== shardOf(n, 5));
    expect(moved.every((n) => shardOf(n, 5) === 5)).toBe(true);
    expect(Math.abs(moved.length - names.length / 5)).toBeLessThan((names.length / 5) * 0.1);
  });
});

describe('--shard on a live command', () => {
  const makeRepo = liveRepos();
  it('plans only the gateways of its shard, and refuses a bad shard before anything runs', async () => {
    // Nothing listens on port 9: each gateway in the shard fails fast and names itself.
    const gateways = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'].map((name) => ({ name, url: 'ws://127.0.0.1:9', token: 't' }));
    const repo = await makeRepo(gateways);
    // The shard that owns alpha: not empty, and (for these names) not everything.
    const index = shardOf('alpha', 3);
    const mine = gateways.map((g) => g.name).filter((n) => inShard(n, { index, count: 3 }));
    const r = await clawops(['plan', '--repo', repo.dir, '--shard', `${index}/3`, '--no-snapshot', '--format', 'json', '--state-dir', `${repo.dir}/.state`], { env: repo.env });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const plan = JSON.parse(r.stdout) as { gateways: Array<{ gateway: string }> };
    expect(plan.gateways.map((g) => g.gateway)).toEqual(mine);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.length).toBeLessThan(gateways.length);

    const bad = await clawops(['plan', '--repo', repo.dir, '--shard', '3/2'], { env: repo.env });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/option '--shard <I\/N>' argument '3\/2' is invalid\. I must be between 1 and N \(2\), counting from 1; got 3\./);
  });
});
