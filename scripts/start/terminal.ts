/**
 * What `npm start` shows: step headings, one-line explanations, `$ command` lines before each
 * command's own output, and a ticking elapsed time for long waits (TTY only, on stderr, erased
 * when the wait ends so a pasted log stays clean).
 */
import { runCli } from '../../reconciler/cli/program.ts';
import { redactingOutput, type ExitCode, type Ports } from '../../reconciler/ports.ts';
import { Redactor } from '../../reconciler/redact/redactor.ts';

const color = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: string) => (s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
export const bold = paint('1');
export const dim = paint('2');
const cyan = paint('36');

const steps: Array<{ n: number; at: number }> = [];

export function heading(n: number, title: string): void {
  steps.push({ n, at: performance.now() });
  process.stdout.write(`\n${bold(`── ${n}. ${title} `)}${bold('─'.repeat(Math.max(3, 72 - title.length)))}\n`);
}

/** How long each step took, up to `end`: `1 14.2 s · 2 0.3 s · …`. */
export function stepTimes(end: number): string {
  return steps.map((s, i) => `${s.n} ${seconds((steps[i + 1]?.at ?? end) - s.at)}`).join(' · ');
}

/** Why a step does what it does: one line, set apart from command output. */
export function note(text: string): void {
  process.stdout.write(`${dim('#')} ${dim(text)}\n`);
}

/** A command line as the user would type it; arguments with spaces are quoted. */
export function showCommand(argv: readonly string[]): void {
  const quoted = argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `"${a.replace(/(["\\$`])/g, '\\$1')}"`));
  process.stdout.write(`${cyan('$')} ${bold(quoted.join(' '))}\n`);
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

let ticking = false;

/** A line of the demo's own output; erases a ticking progress line first (it redraws on its next tick). */
export function say(line: string): void {
  if (ticking) process.stderr.write('\r\x1b[K');
  process.stdout.write(`${line}\n`);
}

/** Runs `work`, showing `label… 12 s` on a terminal until it settles. */
export async function waiting<T>(label: string, work: Promise<T>): Promise<T> {
  if (!process.stderr.isTTY) return work;
  const t0 = performance.now();
  const draw = () => process.stderr.write(`\r\x1b[K${dim(`${label}… ${Math.floor((performance.now() - t0) / 1000)} s`)}`);
  ticking = true;
  draw();
  const timer = setInterval(draw, 500);
  try {
    return await work;
  } finally {
    clearInterval(timer);
    ticking = false;
    process.stderr.write('\r\x1b[K');
  }
}

/**
 * `clawops ARGV` in this process, printing to the terminal exactly what the binary would (through
 * the same redacting outputs), with `env` instead of the process environment.
 */
export class Clawops {
  private readonly redactor = new Redactor();
  private readonly env: Readonly<Record<string, string>>;
  private readonly cwd: string;

  constructor(env: Readonly<Record<string, string>>, cwd: string) {
    this.env = env;
    this.cwd = cwd;
  }

  /** Keeps a value (the demo gateway token) out of everything the commands print. */
  secret(value: string, name: string): void {
    this.redactor.add(value, name);
  }

  /**
   * `fold` keeps the outline of a long plan (gateways, resources, verdict and result lines, all
   * indented two spaces or less) and counts the per-change detail it leaves out.
   */
  async run(argv: readonly string[], opts: { expect?: ExitCode; fold?: boolean } = {}): Promise<ExitCode> {
    showCommand(['clawops', ...argv]);
    let captured = '';
    // apply prints its plan on stderr (talk) and its results on stdout (data): both are folded, in order.
    const capture = (sink: NodeJS.WriteStream) => (opts.fold ? { write: (s: string) => void (captured += s), isTTY: sink.isTTY } : sink);
    const ports: Ports = {
      out: redactingOutput(capture(process.stdout), this.redactor),
      err: redactingOutput(capture(process.stderr), this.redactor),
      readStdin: async () => '',
      stdinIsTTY: false,
      prompt: async () => '',
      env: this.env,
      cwd: this.cwd,
      redactor: this.redactor,
      revealSecret: (s) => void process.stdout.write(s),
      now: () => new Date(),
    };
    const code = await runCli(argv, ports);
    if (opts.fold) process.stdout.write(outline(captured));
    const { expect } = opts;
    const surprise = expect !== undefined && code !== expect;
    process.stdout.write(`${dim(`→ exit ${code}`)}${surprise ? bold(` (expected ${expect})`) : ''}\n`);
    if (surprise) throw new DemoError(`\`clawops ${argv.join(' ')}\` exited ${code}, expected ${expect}; its output is above`);
    return code;
  }
}

function outline(text: string): string {
  const lines = text.split('\n');
  // ANSI colour codes do not count as indentation.
  const plain = lines.map((l) => l.replace(/\x1b\[[\d;]*m/g, ''));
  // Blank lines only where they separate top-level parts (a gateway, the totals), not resources.
  const kept = lines.filter((_, i) => /^ {0,2}\S/.test(plain[i]!) || (plain[i] === '' && /^\S/.test(plain[i + 1] ?? 'x')));
  const folded = lines.length - kept.length;
  return kept.join('\n') + (folded ? `${dim(`(${folded} lines of per-change detail left out above; \`clawops plan\` prints them all)`)}\n` : '');
}

/** A step did not go as the demo expects: stop, clean up, and say which. */
export class DemoError extends Error {}
