/**
 * Runs clawops the way users do, in-process (fast) or as the real binary (end to end), and records
 * every byte it prints for the suite-wide canary check in test/global-setup.ts.
 */
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { inject } from 'vitest';
import { runCli } from '../../reconciler/cli/program.ts';
import { redactingOutput, type Ports } from '../../reconciler/ports.ts';
import { Redactor } from '../../reconciler/redact/redactor.ts';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  readonly stdin?: string;
  readonly env?: Record<string, string | undefined>;
  readonly cwd?: string;
  readonly tty?: boolean;
  /** The clock commands see (default: a fixed 2026-11-21T12:00:00Z). */
  readonly now?: () => Date;
}

export const ROOT = join(import.meta.dirname, '..', '..');

function record(argv: readonly string[], r: CliResult): void {
  appendFileSync(join(inject('outputLogDir'), `${process.pid}.log`), `$ clawops ${argv.join(' ')}\n${r.stdout}\n${r.stderr}\n`);
}

/** Ports that collect what a command prints (for commands driven directly, like a long-running reconcile loop). */
export function capturePorts(opts: CliOptions = {}): { ports: Ports; stdout: () => string; stderr: () => string } {
  let stdout = '';
  let stderr = '';
  const redactor = new Redactor();
  const ports: Ports = {
    out: redactingOutput({ write: (s: string) => (stdout += s), isTTY: Boolean(opts.tty) }, redactor),
    err: redactingOutput({ write: (s: string) => (stderr += s), isTTY: Boolean(opts.tty) }, redactor),
    readStdin: async () => opts.stdin ?? '',
    stdinIsTTY: Boolean(opts.tty),
    prompt: async (question: string) => {
      stderr += redactor.redact(question);
      return (opts.stdin ?? '').split('\n')[0] ?? '';
    },
    env: opts.env ?? {},
    cwd: opts.cwd ?? process.cwd(),
    redactor,
    revealSecret: (s) => (stdout += s),
    now: opts.now ?? (() => new Date('2026-11-21T12:00:00Z')),
  };
  return { ports, stdout: () => stdout, stderr: () => stderr };
}

/** Records a command's output for the suite-wide canary check. */
export function recordOutput(argv: readonly string[], r: CliResult): void {
  record(argv, r);
}

export async function clawops(argv: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  const c = capturePorts(opts);
  const code = await runCli(argv, c.ports);
  const result = { code, stdout: c.stdout(), stderr: c.stderr() };
  record(argv, result);
  return result;
}

/** The built binary (`bin/clawops.js` → dist/), as a child process with the Node that runs the tests. */
export function clawopsBin(argv: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'clawops.js'), ...argv], {
      cwd: opts.cwd ?? ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const result = { code: code ?? -1, stdout, stderr };
      record(argv, result);
      resolve(result);
    });
    Readable.from([opts.stdin ?? '']).pipe(child.stdin);
  });
}
