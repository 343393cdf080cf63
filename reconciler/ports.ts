/**
 * Capabilities a command needs, built once in the CLI entry and replaced by fakes in tests. Every
 * byte a command prints goes through `out`/`err`, which redact secrets first.
 */
import { createInterface } from 'node:readline/promises';
import { Redactor } from './redact/redactor.ts';

export interface Output {
  write(text: string): void;
  readonly isTTY: boolean;
}

export interface Ports {
  /** Data: plans, JSON, listings. */
  readonly out: Output;
  /** Talk: progress, confirmations, diagnostics of the run itself. */
  readonly err: Output;
  /** Reads all of standard input (secrets are read here, never from argv). */
  readonly readStdin: () => Promise<string>;
  readonly stdinIsTTY: boolean;
  /** Asks on stderr and reads one line of the answer (confirmations on a terminal). */
  readonly prompt: (question: string) => Promise<string>;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly redactor: Redactor;
  /** Writes to stdout without redaction: only `secrets get`, whose job is to print a secret. */
  readonly revealSecret: (text: string) => void;
  readonly now: () => Date;
}

export type ExitCode = 0 | 1 | 2;

interface Sink {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export function redactingOutput(sink: Sink, redactor: Redactor): Output {
  return {
    write: (text) => void sink.write(redactor.redact(text)),
    isTTY: Boolean(sink.isTTY),
  };
}

export function processPorts(): Ports {
  const redactor = new Redactor();
  return {
    out: redactingOutput(process.stdout, redactor),
    err: redactingOutput(process.stderr, redactor),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    stdinIsTTY: Boolean(process.stdin.isTTY),
    prompt: async (question) => {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return await rl.question(redactor.redact(question));
      } finally {
        rl.close();
      }
    },
    env: process.env,
    cwd: process.cwd(),
    redactor,
    revealSecret: (text) => void process.stdout.write(text),
    now: () => new Date(),
  };
}
