/**
 * The real `openclaw` CLI as an operator's script would run it on the gateway's host: one process
 * per command, against the gateway's HOME, with the harness's compile cache so each start is as
 * warm as it can be. Rejects on a non-zero exit with what the CLI printed.
 */
import { spawn } from 'node:child_process';
import { delimiter, dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ensureOpenClaw } from './install.ts';
import { COMPILE_CACHE_DIR } from './real-gateway.ts';

export interface OpenClawCliRun {
  readonly ms: number;
  readonly output: string;
}

export function openclawCli(entry: string, home: string, args: readonly string[]): Promise<OpenClawCliRun> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry, ...args], {
      env: {
        // Its helpers re-exec `node`: they must find this (new enough) one.
        PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? '/usr/bin:/bin'}`,
        HOME: home,
        OPENCLAW_HOME: home,
        OPENCLAW_NO_AUTO_UPDATE: '1',
        OPENCLAW_DISABLE_BONJOUR: '1',
        NO_COLOR: '1',
        NODE_COMPILE_CACHE: COMPILE_CACHE_DIR,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      if (code === 0) resolve({ ms, output });
      else reject(new Error(`openclaw ${args.join(' ')} exited ${code}: ${output.trim().slice(-2000)}`));
    });
  });
}

/** The harness's pinned `openclaw`, installed on first use, run against a gateway's home; resolves with what it printed. */
export async function openclaw(home: string, args: readonly string[]): Promise<string> {
  const { entry } = await ensureOpenClaw();
  return (await openclawCli(entry, home, args)).output;
}
