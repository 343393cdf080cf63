/**
 * Records audit events on the state branch (DESIGN §6): `record` masks an event and queues it;
 * `commit` numbers and chains the queued events on top of whatever the branch holds at the moment
 * the commit is built, and appends them to their day files in the run's one commit. When the
 * compare-and-swap push is rejected (someone else wrote), the branch rebuilds the commit on the new
 * tip and the same events are numbered again after the other writer's: nothing is lost, `seq`
 * stays contiguous.
 *
 * `state/audit-head.json` names the last event (seq, hash, file) so a writer never scans the
 * events; it is written in the same commit and cross-checked against that file's last line.
 *
 * Nothing queued is dropped. If the commit finally fails, the events stay queued and, when a spill
 * file is configured, are saved there (masked, not yet numbered); the next AuditLog opened on the
 * same spill file takes them over and writes them first.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ClawopsError } from '../errors.ts';
import type { BufferedBranch } from '../git/buffered-branch.ts';
import type { TreeView } from '../git/state-branch.ts';
import { canonicalLine, eventFile, eventSchemaError, GENESIS_HASH, parseEventLine, sealEvent, type AuditEvent, type AuditEventInput } from './event.ts';
import { Masker, pathSegments } from './masker.ts';

export const AUDIT_HEAD_FILE = 'state/audit-head.json';

/** Where a fleet repo's runs keep events they could not commit (next to the verified head, never in git). */
export const auditSpillFile = (repoRoot: string): string => join(repoRoot, '.clawops', 'audit-pending.jsonl');

/** The last event of the branch, as `state/audit-head.json` records it. */
export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
  /** The events file holding it (absent before the first event). */
  readonly file?: string;
}

export const EMPTY_HEAD: AuditHead = { seq: 0, hash: GENESIS_HASH };

/** The files one commit writes: path → new content (null deletes). */
export type FileChanges = Map<string, Uint8Array | null>;

/**
 * The branch as the audit log needs it (a BufferedBranch): one commit per run, whose `extra`
 * files are computed on the tree the commit is built on, again on every retry after a rejected
 * push.
 */
export type AuditBranchWriter = Pick<BufferedBranch, 'commit'>;

export class AuditBranchCorruptError extends ClawopsError<{ file: string }> {
  readonly code = 'AUDIT_BRANCH_CORRUPT';
}

export class AuditEventError extends ClawopsError<{ field: string }> {
  readonly code = 'AUDIT_EVENT_INVALID';
}

export class AuditSpillError extends ClawopsError<{ file: string; line: number }> {
  readonly code = 'AUDIT_SPILL_INVALID';
}

export class AuditCommitError extends ClawopsError<{ pending: number; spillFile?: string }> {
  readonly code = 'AUDIT_COMMIT_FAILED';
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** The last line of a file's text (which ends in a newline). */
function lastLine(text: string): string | undefined {
  const end = text.endsWith('\n') ? text.length - 1 : text.length;
  if (end <= 0) return undefined;
  return text.slice(text.lastIndexOf('\n', end - 1) + 1, end);
}

/** Reads and cross-checks the branch's last event at `base`. */
export async function readAuditHead(base: TreeView, files = new Map<string, string>()): Promise<AuditHead> {
  const raw = await base.readFile(AUDIT_HEAD_FILE);
  const corrupt = (file: string, what: string) =>
    new AuditBranchCorruptError(`the audit branch at ${base.head?.slice(0, 7) ?? '(empty)'} is inconsistent: ${what}; run \`clawops audit verify\` to find the commit that broke it`, { file });
  if (!raw) {
    if ((await base.list('events')).length) throw corrupt(AUDIT_HEAD_FILE, `${AUDIT_HEAD_FILE} is missing but events/ exists`);
    return EMPTY_HEAD;
  }
  let head: AuditHead;
  try {
    head = JSON.parse(decoder.decode(raw)) as AuditHead;
  } catch {
    throw corrupt(AUDIT_HEAD_FILE, `${AUDIT_HEAD_FILE} is not JSON`);
  }
  if (!Number.isInteger(head.seq) || head.seq < 0 || typeof head.hash !== 'string') throw corrupt(AUDIT_HEAD_FILE, `${AUDIT_HEAD_FILE} has no seq and hash`);
  if (head.seq === 0) return EMPTY_HEAD;
  if (typeof head.file !== 'string') throw corrupt(AUDIT_HEAD_FILE, `${AUDIT_HEAD_FILE} names no events file`);
  const text = await fileText(base, head.file, files);
  const line = lastLine(text);
  const parsed = line === undefined ? undefined : parseEventLine(line);
  if (!parsed?.ok || parsed.event.seq !== head.seq || parsed.event.hash !== head.hash) {
    throw corrupt(head.file, `the last line of ${head.file} is not event ${head.seq} as ${AUDIT_HEAD_FILE} says`);
  }
  return head;
}

async function fileText(base: TreeView, path: string, cache: Map<string, string>): Promise<string> {
  let text = cache.get(path);
  if (text === undefined) {
    const raw = await base.readFile(path);
    text = raw ? decoder.decode(raw) : '';
    cache.set(path, text);
  }
  return text;
}

/** A queued event: masked, timed, not yet numbered. */
export type PendingEvent = Omit<AuditEvent, 'seq' | 'prev' | 'hash'>;

/** Masks every free-text field of an event; the change's before/after by its path too. */
export function maskEvent(input: AuditEventInput, masker: Masker, time: string): PendingEvent {
  const text = (s: string) => masker.maskText(s);
  const { summary } = input;
  const at = summary.path ? pathSegments(summary.path) : [];
  const value = (v: unknown) => (v === undefined ? undefined : masker.maskValue(v, at));
  const approval =
    input.approval?.kind === 'break-glass'
      ? { kind: 'break-glass' as const, by: text(input.approval.by), reason: text(input.approval.reason) }
      : input.approval
        ? { ...input.approval, pulls: input.approval.pulls.map((pr) => ({ ...pr, reviewers: pr.reviewers.map((r) => ({ ...r, login: text(r.login) })) })) }
        : undefined;
  return {
    ...input,
    time,
    actor: text(input.actor),
    traceId: text(input.traceId),
    target: text(input.target),
    resource: text(input.resource),
    ...(input.agentId !== undefined ? { agentId: text(input.agentId) } : {}),
    summary: {
      ...(summary.message !== undefined ? { message: text(summary.message) } : {}),
      ...(summary.path !== undefined ? { path: text(summary.path) } : {}),
      ...(summary.action !== undefined ? { action: summary.action } : {}),
      ...(summary.category !== undefined ? { category: summary.category } : {}),
      ...(summary.before !== undefined ? { before: value(summary.before) } : {}),
      ...(summary.after !== undefined ? { after: value(summary.after) } : {}),
    },
    ...(approval ? { approval } : {}),
  };
}

export interface AuditLogOptions {
  readonly masker?: Masker;
  readonly now?: () => Date;
  /**
   * Where events that could not be committed are saved for the next run (masked, one JSON object
   * per line), e.g. `<repo>/.clawops/audit-pending.jsonl`. Without it they only stay in memory.
   */
  readonly spillFile?: string;
}

export class AuditLog {
  private readonly branch: AuditBranchWriter;
  private readonly masker: Masker;
  private readonly now: () => Date;
  private readonly spillFile: string | undefined;
  private queue: PendingEvent[] = [];
  /** Spill files this log took over; deleted once their events are committed. */
  private claimed: string[] = [];

  private constructor(branch: AuditBranchWriter, opts: AuditLogOptions) {
    this.branch = branch;
    this.masker = opts.masker ?? new Masker();
    this.now = opts.now ?? (() => new Date());
    this.spillFile = opts.spillFile;
  }

  /** Opens the log; events an earlier run could not commit (its spill file) are queued first. */
  static async open(branch: AuditBranchWriter, opts: AuditLogOptions = {}): Promise<AuditLog> {
    const log = new AuditLog(branch, opts);
    if (log.spillFile) await log.takeOverSpill(log.spillFile);
    return log;
  }

  /**
   * Masks and queues one event; returns what will be written (without seq, prev and hash). An
   * event that would not verify (bad type, empty actor, unparseable time) is refused here, where
   * the caller's stack shows who made it.
   */
  record(input: AuditEventInput): Readonly<PendingEvent> {
    const at = input.time === undefined ? this.now() : new Date(input.time);
    if (Number.isNaN(at.getTime())) throw new AuditEventError(`audit event ${input.type}: time "${input.time}" is not a date`, { field: 'time' });
    const event = maskEvent(input, this.masker, at.toISOString());
    const problem = eventSchemaError({ ...event, seq: 1, prev: GENESIS_HASH, hash: GENESIS_HASH });
    if (problem) throw new AuditEventError(`audit event ${input.type} is not valid (${problem})`, { field: problem.split(':')[0]! });
    this.queue.push(event);
    return event;
  }

  /** Events queued and not yet committed. */
  get pending(): number {
    return this.queue.length;
  }

  /**
   * The files that append the queued events on top of `base` (also `state/audit-head.json`),
   * and the events as numbered there. For callers that build the run's commit themselves.
   */
  async files(base: TreeView): Promise<{ files: FileChanges; events: AuditEvent[] }> {
    const texts = new Map<string, string>();
    const head = await readAuditHead(base, texts);
    const files: FileChanges = new Map();
    const events: AuditEvent[] = [];
    let { seq, hash } = head;
    let file = head.file;
    const appended = new Map<string, string[]>();
    for (const p of this.queue) {
      const event = sealEvent({ ...p, seq: seq + 1, prev: hash } as Omit<AuditEvent, 'hash'>);
      ({ seq, hash } = event);
      file = eventFile(event.time);
      events.push(event);
      const lines = appended.get(file) ?? [];
      lines.push(canonicalLine(event));
      appended.set(file, lines);
    }
    if (!events.length) return { files, events };
    for (const [path, lines] of appended) {
      const before = await fileText(base, path, texts);
      if (before && !before.endsWith('\n')) {
        throw new AuditBranchCorruptError(`the audit branch at ${base.head?.slice(0, 7)}: ${path} does not end with a newline (a truncated line); run \`clawops audit verify\``, { file: path });
      }
      files.set(path, encoder.encode(before + lines.join('\n') + '\n'));
    }
    files.set(AUDIT_HEAD_FILE, encoder.encode(JSON.stringify({ seq, hash, file }) + '\n'));
    return { files, events };
  }

  /**
   * Writes the queued events in one commit (with whatever else the branch has staged) and returns
   * them as numbered. On failure they stay queued (and are spilled); the error says how many.
   */
  async commit(message: string): Promise<AuditEvent[]> {
    if (!this.queue.length && !this.claimed.length) {
      await this.branch.commit(message);
      return [];
    }
    let written: AuditEvent[] = [];
    try {
      await this.branch.commit(message, async (base) => {
        const { files, events } = await this.files(base);
        written = events;
        return files;
      });
    } catch (e) {
      const spilled = await this.spill().catch(() => undefined);
      const where = spilled ? `; they were saved to ${spilled} and the next run writes them first` : '; they are still queued in this process';
      throw new AuditCommitError(`the audit commit failed (${e instanceof Error ? e.message : String(e)}): ${this.queue.length} event(s) were not written${where}`, {
        pending: this.queue.length,
        ...(spilled ? { spillFile: spilled } : {}),
      }, { cause: e });
    }
    this.queue = [];
    await Promise.all(this.claimed.map((f) => unlink(f).catch(() => undefined)));
    this.claimed = [];
    return written;
  }

  /** Appends the queue to the spill file (one line per event) and releases the claimed copies. */
  private async spill(): Promise<string | undefined> {
    if (!this.spillFile || !this.queue.length) return undefined;
    await mkdir(dirname(this.spillFile), { recursive: true });
    await appendFile(this.spillFile, this.queue.map((e) => JSON.stringify(e)).join('\n') + '\n', { mode: 0o600 });
    await Promise.all(this.claimed.map((f) => unlink(f).catch(() => undefined)));
    this.claimed = [];
    return this.spillFile;
  }

  /**
   * Takes over the spill file (and copies claimed by runs that died) by renaming it to a name
   * with this process id, so two runs starting at once never both write the same events.
   */
  private async takeOverSpill(spillFile: string): Promise<void> {
    const dir = dirname(spillFile);
    const base = basename(spillFile);
    const candidates: string[] = [];
    const mine = `${spillFile}.${process.pid}-${randomBytes(4).toString('hex')}.claimed`;
    if (await rename(spillFile, mine).then(() => true, () => false)) candidates.push(mine);
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const m = name.startsWith(`${base}.`) && /\.(\d+)-[0-9a-f]{8}\.claimed$/.exec(name);
      if (!m || join(dir, name) === mine || processAlive(Number(m[1]))) continue;
      const adopted = `${spillFile}.${process.pid}-${randomBytes(4).toString('hex')}.claimed`;
      if (await rename(join(dir, name), adopted).then(() => true, () => false)) candidates.push(adopted);
    }
    for (const file of candidates) {
      const lines = (await readFile(file, 'utf8')).split('\n');
      lines.forEach((line, i) => {
        if (!line.trim()) return;
        try {
          this.queue.push(JSON.parse(line) as PendingEvent);
        } catch {
          throw new AuditSpillError(`${file}:${i + 1} is not an audit event (the file was cut or edited); fix or remove that line, then run again`, { file, line: i + 1 });
        }
      });
      this.claimed.push(file);
    }
  }
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
