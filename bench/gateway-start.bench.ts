/**
 * What one real OpenClaw gateway costs the test suite: spawn → first hello-ok (one at a time, then
 * two at once as test/global-setup.ts starts them), the RSS of its process tree, and SIGTERM →
 * exit. The compile cache is warmed by a first, unmeasured start.
 * Target: a single start ≤ 20 s on 2 busy cores (research §1.4 measured 7.5–11.7 s when idle).
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { processTree } from '../fleet/harness/proc-sockets.ts';
import { startGateways, type RealGateway } from '../fleet/harness/real-gateway.ts';
import type { BenchResult } from './report.ts';
import { median } from './stats.ts';

export const RUNS = 3;
export const TARGET_MS = 20_000;


function treeRssMiB(pid: number): number {
  let kib = 0;
  for (const p of processTree(pid)) {
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) kib += Number(m[1]);
    } catch {
      // Exited while being measured.
    }
  }
  return kib / 1024;
}

async function timedStop(g: RealGateway): Promise<number> {
  const t = performance.now();
  const code = await g.stop();
  if (code !== 0) throw new Error(`gateway ${g.name} exited with ${code} on SIGTERM`);
  return performance.now() - t;
}

export async function run(): Promise<BenchResult> {
  const [warm] = await startGateways([{ name: 'bench-warmup' }]);
  await warm!.stop();

  const starts: number[] = [];
  const rss: number[] = [];
  const stops: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const [g] = await startGateways([{ name: `bench-${i}` }]);
    starts.push(g!.startedToHelloMs);
    rss.push(treeRssMiB(g!.pid));
    stops.push(await timedStop(g!));
  }

  const pair = await startGateways([{ name: 'bench-pair-a' }, { name: 'bench-pair-b' }]);
  const pairMs = Math.max(...pair.map((g) => g.startedToHelloMs));
  await Promise.all(pair.map((g) => g.stop()));

  const result: BenchResult = {
    name: `gateway start: real openclaw gateway, spawn → hello-ok, median of ${RUNS} after 1 warm-up`,
    metrics: [
      { label: 'one gateway, spawn → hello-ok', value: Math.round(median(starts)), unit: 'ms', max: TARGET_MS },
      { label: 'two at once, slower of the pair', value: Math.round(pairMs), unit: 'ms' },
      { label: 'process-tree RSS after hello-ok', value: Math.round(median(rss)), unit: 'MiB' },
      { label: 'SIGTERM → exit', value: Math.round(median(stops)), unit: 'ms' },
    ],
  };
  process.stdout.write(`single starts: ${starts.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')}\n`);
  return result;
}
