/**
 * Once per run:
 *
 * - Suite-wide canary: a secret value made up at the start of the run. Every command a test runs
 *   records its output (test/helpers/cli.ts); at the end this file fails the run if any output ever
 *   contained the canary. Checked here, centrally, so no test can forget it.
 * - Four shared real OpenClaw gateways (fleet/harness/real-gateway.ts): `a` for ordinary use
 *   (import, status, CLI), `b` for the contract suite, which restarts it, hits its rate limits and
 *   sends it oversized frames, `c` and `d` for plan and apply (test/apply.test.ts). At ~1 GB and 10–20 s each they are started once, not per file;
 *   tests reach them through test/helpers/gateways.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { gatewayInfo, startGateways, type GatewayInfo, type RealGateway } from '../fleet/harness/real-gateway.ts';

export type SharedGatewayName = 'a' | 'b' | 'c' | 'd';

declare module 'vitest' {
  export interface ProvidedContext {
    canary: string;
    outputLogDir: string;
    gateways: Record<SharedGatewayName, GatewayInfo>;
  }
}

export default async function setup(project: TestProject) {
  const canary = `canary-${randomBytes(16).toString('hex')}`;
  const outputLogDir = mkdtempSync(join(tmpdir(), 'clawops-outputs-'));
  project.provide('canary', canary);
  project.provide('outputLogDir', outputLogDir);

  // Files that never touch a gateway (git, audit, policy) can run without the 4 GB of gateways:
  // CLAWOPS_TEST_GATEWAYS=off vitest run test/x.test.ts. A file that asks for one then fails clearly.
  if (process.env.CLAWOPS_TEST_GATEWAYS === 'off') {
    project.provide('gateways', {} as Record<SharedGatewayName, GatewayInfo>);
    return () => {
      try {
        checkCanary(outputLogDir, canary);
      } finally {
        rmSync(outputLogDir, { recursive: true, force: true });
      }
    };
  }

  // c and d hold the example fleet in the plan/apply tests; their token is the canary, so
  // printing it anywhere fails the run.
  const all = [{ name: 'a' }, { name: 'b' }, { name: 'c', token: canary }, { name: 'd', token: canary }] as const;
  // Working on a few files, CLAWOPS_TEST_GATEWAYS=a,c starts only the gateways they use.
  const only = process.env.CLAWOPS_TEST_GATEWAYS?.split(',').map((s) => s.trim());
  const wanted = only && only.every((n) => all.some((g) => g.name === n)) ? all.filter((g) => only.includes(g.name)) : all;
  let gateways: RealGateway[];
  try {
    gateways = await startGateways(wanted.map((g) => ({ ...g })));
  } catch (e) {
    rmSync(outputLogDir, { recursive: true, force: true });
    throw e;
  }
  project.provide('gateways', Object.fromEntries(gateways.map((g) => [g.name, gatewayInfo(g)])) as Record<SharedGatewayName, GatewayInfo>);
  process.stderr.write(
    `real gateways (openclaw ${gateways[0]!.version}) ready, spawn → hello-ok: ${gateways.map((g) => `${g.name} ${(g.startedToHelloMs / 1000).toFixed(1)} s`).join(', ')}\n`,
  );

  return async () => {
    try {
      checkCanary(outputLogDir, canary);
    } finally {
      rmSync(outputLogDir, { recursive: true, force: true });
      await Promise.all(gateways.map((g) => g.stop()));
    }
  };
}

function checkCanary(outputLogDir: string, canary: string): void {
  const logs = readdirSync(outputLogDir);
  // A full run always records output; a run of a few files may not, and then proves nothing.
  if (logs.length === 0 && process.env.CI) throw new Error('canary check: no command output was recorded, so the check proves nothing');
  for (const f of logs) {
    const text = readFileSync(join(outputLogDir, f), 'utf8');
    const at = text.indexOf(canary);
    if (at >= 0) {
      throw new Error(`canary check: the test secret was printed by a command (log ${f}):\n${text.slice(Math.max(0, at - 400), at + 100)}`);
    }
  }
}
