/**
 * `clawops ARGV` in this process, as bin/clawops.js would run it but with captured output, so a
 * benchmark times the command's own work and not a Node start-up. Like test/helpers/cli.ts
 * without its vitest output log.
 */
import { runCli } from '../reconciler/cli/program.ts';
import { redactingOutput, type Ports } from '../reconciler/ports.ts';
import { Redactor } from '../reconciler/redact/redactor.ts';

export interface InProcessResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Ports that keep what is printed; `env` stands in for the process environment. */
export function capturingPorts(env: Readonly<Record<string, string>>): { ports: Ports; output: () => { stdout: string; stderr: string } } {
  let stdout = '';
  let stderr = '';
  const redactor = new Redactor();
  const ports: Ports = {
    out: redactingOutput({ write: (s: string) => (stdout += s), isTTY: false }, redactor),
    err: redactingOutput({ write: (s: string) => (stderr += s), isTTY: false }, redactor),
    readStdin: async () => '',
    stdinIsTTY: false,
    prompt: async () => '',
    env,
    cwd: process.cwd(),
    redactor,
    revealSecret: (s) => (stdout += s),
    now: () => new Date(),
  };
  return { ports, output: () => ({ stdout, stderr }) };
}

export async function clawopsInProcess(argv: readonly string[], env: Readonly<Record<string, string>>): Promise<InProcessResult> {
  const { ports, output } = capturingPorts(env);
  const code = await runCli(argv, ports);
  return { code, ...output() };
}
